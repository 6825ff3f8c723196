"""The slower data that follows the live poll: sessions and chargers' connectivity."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
import logging
import math
import time

from homeassistant.core import HomeAssistant, callback

from .api import (
    SESSIONS_PAGE_SIZE,
    ChargingSession,
    EvEnergyClient,
    EvEnergyError,
    EvseConnectivity,
)
from .api.webhooks import SubSessionEvent, apply_to_session
from .const import (
    CONNECTIVITY_REFRESH_INTERVAL,
    CONNECTIVITY_REQUESTS_PER_HOUR,
    CONNECTIVITY_SLICE,
    DOMAIN,
    FOLLOWER_MAX_BACKOFF,
    FOLLOWER_RETRY_SOON,
    SESSIONS_IDLE_REFRESH_INTERVAL,
    SESSIONS_REFRESH_INTERVAL,
    SLOW_READS_RETRY,
)
from .coordinator import (
    EvEnergyBaseCoordinator,
    EvEnergyLiveCoordinator,
    is_transient,
)
from .lifecycle import Lifecycle
from .live_reads import (
    PlugState,
    plug_changed,
    plug_state,
)
from .read_budget import (
    HOUR,
    ReadBudget,
)
from .resource_backoff import ResourceBackoff, account_wide, backoff_delay
from .runtime import EvEnergyConfigEntry

_LOGGER = logging.getLogger(__name__)


class FollowerCoordinator[DataT](EvEnergyBaseCoordinator[DataT]):
    """A coordinator on its own (slower) cadence that reads what the live poll found.

    A data set failing on its own backs off on its own schedule, doubling up to an hour: from
    30 s for network trouble and 5xx, from its cadence for a refusal (403, 404). After a real
    outage (the live poll failing too) it catches up as soon as the live poll works again,
    and so do the resources of its `backoff` (if it reads one request per resource) that
    failed meanwhile.
    """

    backoff: ResourceBackoff | None = None

    def __init__(
        self,
        hass: HomeAssistant,
        entry: EvEnergyConfigEntry,
        client: EvEnergyClient,
        live: EvEnergyLiveCoordinator,
        *,
        name: str,
        interval: timedelta,
    ) -> None:
        """Poll `name` every `interval` through `client`, following `live`."""
        super().__init__(
            hass,
            entry,
            client,
            name=f"{DOMAIN} {name}",
            interval=interval,
            retry_soon=FOLLOWER_RETRY_SOON,
        )
        self.live = live
        self._live_was_ok = live.last_update_success
        # Its timers and the reads it starts itself end with the entry.
        self.timers = Lifecycle(hass, entry.async_on_unload, self.name)
        entry.async_on_unload(live.async_add_listener(self._on_live_update))

    @staticmethod
    def _backoff_bounds(err: EvEnergyError, cadence: timedelta) -> tuple[float, float]:
        """Return the first and the longest wait after a failure, in seconds."""
        # A refusal (403, 404) will not heal in seconds: its back-off starts at the cadence.
        first = FOLLOWER_RETRY_SOON if is_transient(err) else cadence
        return first.total_seconds(), max(cadence, FOLLOWER_MAX_BACKOFF).total_seconds()

    def _failure_interval(self, err: EvEnergyError) -> timedelta:
        first, cap = self._backoff_bounds(err, self.base_interval)
        return timedelta(seconds=backoff_delay(first, self.failures, cap))

    @callback
    def _on_live_update(self) -> None:
        """After an outage, catch up as soon as the live poll works again."""
        live_ok = self.live.last_update_success
        recovered = live_ok and not self._live_was_ok
        self._live_was_ok = live_ok
        if not recovered:
            return
        # Whatever failed during the outage is worth reading again now.
        resources_failed = self.backoff is not None and self.backoff.retry_now()
        if resources_failed or not self.last_update_success:
            self.timers.spawn(self.async_request_refresh(), "read")


class EvEnergySessionsCoordinator(FollowerCoordinator[dict[str, ChargingSession]]):
    """Each vehicle's latest charging session: every 10 minutes and when a plug changes."""

    feature = "sessions"

    def __init__(
        self,
        hass: HomeAssistant,
        entry: EvEnergyConfigEntry,
        client: EvEnergyClient,
        live: EvEnergyLiveCoordinator,
    ) -> None:
        """Read sessions through `client`; watch `live` for plug-ins and unplugs."""
        super().__init__(
            hass, entry, client, live, name="sessions", interval=SESSIONS_REFRESH_INTERVAL
        )
        self._plugged = self._plug_states(live)
        # Every session of the last read (newest page), for the charging calendar.
        self.recent: list[ChargingSession] = []
        self.budget = ReadBudget()
        # The last refresh found no room in the share and kept the previous read.
        self._deferred = False

    @staticmethod
    def _plug_states(live: EvEnergyLiveCoordinator) -> dict[str, PlugState]:
        """Each vehicle's and charger's (plugged in, charging), by id.

        A change starts or ends a (sub-)session. The chargers count too: a car without
        telematics reports neither, only the charger it is plugged into does.
        """
        data = live.data
        return {
            **{vehicle.id: plug_state(vehicle.status) for vehicle in data.vehicles.values()},
            **{evse.id: plug_state(evse.status) for evse in data.evses.values()},
        }

    @callback
    def _on_live_update(self) -> None:
        """Also read sessions at once when a car or charger's plug or charging state changes.

        A plug-in opens a session, an unplug ends it; charging starting or stopping usually
        opens a sub-session (which the plan follows). A car and its charger changing in the
        same poll make one read.
        """
        super()._on_live_update()
        if not self.live.last_update_success:
            return
        plugged = self._plug_states(self.live)
        changed = plug_changed(self._plugged, plugged)
        self._plugged = plugged
        if changed:
            self.timers.spawn(self.async_request_refresh(), "read")

    def _pages(self) -> int:
        return 1 + len(self.live.data.vehicles) // SESSIONS_PAGE_SIZE

    def _share(self) -> int:
        return self.live.slow_read_shares().sessions

    def _next_interval(self, data: dict[str, ChargingSession]) -> timedelta:
        """Every 10 minutes while a car charges (its energy grows), else every 30.

        Stretched so the pages stay within the share; a read held back waits for room.
        """
        pages, share = self._pages(), self._share()
        if self._deferred:
            wait = self.budget.wait(time.monotonic(), share, pages)
            return max(timedelta(seconds=wait), SLOW_READS_RETRY)
        # A car or charger charging (the chargers tell for cars without telematics).
        if any(charging for _, charging in self._plugged.values()):
            cadence = SESSIONS_REFRESH_INTERVAL
        else:
            cadence = SESSIONS_IDLE_REFRESH_INTERVAL
        return max(cadence, timedelta(seconds=HOUR * pages / share))

    async def _async_fetch(self) -> dict[str, ChargingSession]:
        pages, now = self._pages(), time.monotonic()
        self._deferred = self.data is not None and not self.budget.allows(now, self._share(), pages)
        if self._deferred:
            return self.data
        self.budget.spend(now, pages)
        sessions = await self.client.async_get_sessions(max_pages=pages)
        self.recent = sessions
        latest: dict[str, ChargingSession] = {}
        for session in sorted(
            sessions, key=lambda s: s.start or datetime.min.replace(tzinfo=UTC), reverse=True
        ):
            if session.vehicle_id is not None:
                latest.setdefault(session.vehicle_id, session)
        return latest

    @callback
    def async_apply_sub_session(self, event: SubSessionEvent) -> None:
        """Show at once what a pushed sub-session tells about its vehicle's latest session."""
        vehicle_id = event.sub_session.vehicle_id
        if self.data is None or vehicle_id is None:
            return
        if (session := apply_to_session(self.data.get(vehicle_id), event)) is not None:
            self._pending_changed = {vehicle_id}
            self.async_set_updated_data({**self.data, vehicle_id: session})


class EvEnergyConnectivityCoordinator(FollowerCoordinator[dict[str, EvseConnectivity]]):
    """Chargers' connectivity (reliability, signal, firmware): slow-changing, read hourly.

    The reads are spread out: every few minutes the chargers that are due, never a burst of
    one request per charger. Large fleets are read less often than hourly so the reads stay
    within CONNECTIVITY_REQUESTS_PER_HOUR. Each charger stands alone: one that cannot be read
    keeps its last copy through one failure, then loses only its own entities, and is retried
    with a back-off of its own.
    """

    backoff: ResourceBackoff

    def __init__(
        self,
        hass: HomeAssistant,
        entry: EvEnergyConfigEntry,
        client: EvEnergyClient,
        live: EvEnergyLiveCoordinator,
    ) -> None:
        """Read each charger of `live` through `client`."""
        super().__init__(
            hass, entry, client, live, name="connectivity", interval=CONNECTIVITY_SLICE
        )
        self.backoff = ResourceBackoff()

    def _period(self) -> float:
        """Seconds between two reads of a charger: hourly, unless over the budget."""
        chargers = len(self.live.data.evses)
        return max(
            CONNECTIVITY_REFRESH_INTERVAL.total_seconds(),
            3600 * chargers / CONNECTIVITY_REQUESTS_PER_HOUR,
        )

    def _due(self, now: float) -> list[str]:
        """Return the chargers to read now: most overdue first, a slice of the fleet at most."""
        chargers = self.live.data.evses
        due = sorted(
            (evse_id for evse_id in chargers if self.backoff.due(evse_id, now)),
            key=lambda evse_id: self.backoff.due_at(evse_id, now),
        )
        slices_per_period = self._period() / CONNECTIVITY_SLICE.total_seconds()
        return due[: math.ceil(len(chargers) / slices_per_period)]

    async def _async_fetch(self) -> dict[str, EvseConnectivity]:
        now = time.monotonic()
        evse_ids = self._due(now)
        results = await asyncio.gather(
            *(self.client.async_get_connectivity(evse_id) for evse_id in evse_ids),
            return_exceptions=True,
        )
        chargers = self.live.data.evses.keys()
        self.backoff.forget_all_but(chargers)
        connectivity = {k: v for k, v in (self.data or {}).items() if k in chargers}
        period = self._period()
        account_error: EvEnergyError | None = None
        for evse_id, result in zip(evse_ids, results, strict=True):
            if isinstance(result, EvEnergyError):
                if account_wide(result):
                    account_error = account_error or result
                elif self.backoff.failed(
                    evse_id, now, first=CONNECTIVITY_SLICE.total_seconds(), cap=period
                ):
                    _LOGGER.warning("Cannot read connectivity of charger %s: %s", evse_id, result)
                else:
                    connectivity.pop(evse_id, None)
            elif isinstance(result, BaseException):
                raise result
            else:
                if self.backoff.succeeded(evse_id, next_due=now + period):
                    _LOGGER.info("Connectivity of charger %s can be read again", evse_id)
                connectivity[evse_id] = result
        if account_error is not None:
            raise account_error
        return connectivity
