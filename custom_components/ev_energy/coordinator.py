"""The live poll (1-2 requests) and the failure policy every ev.energy coordinator shares."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
import logging
import time
from typing import TYPE_CHECKING, NoReturn

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .api import (
    EvEnergyApiError,
    EvEnergyAuthError,
    EvEnergyClient,
    EvEnergyConnectionError,
    EvEnergyError,
    EvEnergyRateLimitError,
    Evse,
    EvseStatus,
    Tariff,
    TariffType,
    User,
    Vehicle,
    VehicleState,
    VehicleStatus,
)
from .const import (
    BUDGET_GUARD_UPDATE_INTERVAL,
    CONNECTIVITY_REQUESTS_PER_HOUR,
    DEFAULT_RATE_LIMIT,
    DOMAIN,
    HOURLY_SHARE,
    IDLE_UPDATE_INTERVAL,
    LIVE_RETRY_SOON,
    LOW_BUDGET_UPDATE_INTERVAL,
    LOW_REMAINING_SHARE,
    MISSING_POLLS_BEFORE_REMOVAL,
    PUSH_IDLE_UPDATE_INTERVAL,
    SESSIONS_SHARE_OF_SLOW_READS,
    SETTLE_TIME,
    SETTLED_UPDATE_INTERVAL,
    SLOW_READS_MINIMUM,
    SLOW_READS_RESERVE,
    UPDATE_INTERVAL,
    USER_REFRESH_INTERVAL,
)
from .issues import async_set_permission_issue
from .live_reads import (
    PlugState,
    chargers_due,
    plug_state,
    vehicle_plug_changed,
    vehicles_watch_plugs,
)
from .read_budget import (
    SlowReadShares,
    live_requests_per_poll,
    slow_reads_per_hour,
    split_slow_reads,
)
from .runtime import EvEnergyConfigEntry
from .sample_time import only_sample_time_moved

if TYPE_CHECKING:
    from .price_coordinator import EvEnergyPriceCoordinator
    from .push import EvEnergyPush

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class EvEnergyData:
    """One consistent snapshot of the account."""

    user: User
    vehicles: dict[str, Vehicle]
    evses: dict[str, Evse]
    tariff: Tariff | None
    # Vehicles and chargers that have a device (a missing one keeps it for a few polls);
    # platforms add entities for new ones.
    ids_with_device: frozenset[str] = frozenset()


def error_translation(err: EvEnergyError) -> tuple[str, dict[str, str]]:
    """Return, from the one table, a client error's to translation key and placeholders.

    Polls (UpdateFailed) and writes (HomeAssistantError) both read it, so a failure reads the
    same wherever the user meets it.
    """
    if isinstance(err, EvEnergyAuthError):
        return "auth_failed", {}
    if isinstance(err, EvEnergyRateLimitError):
        return "rate_limited", {"retry_after": str(round(err.retry_after))}
    if isinstance(err, EvEnergyConnectionError):
        return "cannot_connect", {}
    if isinstance(err, EvEnergyApiError):
        return "api_error", {"status": str(err.status), "message": err.problem.message}
    return "invalid_response", {}


def raise_update_failed(err: EvEnergyError) -> NoReturn:
    """Map a client error to the coordinator's translated failure."""
    key, placeholders = error_translation(err)
    if isinstance(err, EvEnergyAuthError):
        raise ConfigEntryAuthFailed(translation_domain=DOMAIN, translation_key=key) from err
    raise UpdateFailed(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders=placeholders,
        retry_after=err.retry_after if isinstance(err, EvEnergyRateLimitError) else None,
    ) from err


def is_transient(err: EvEnergyError) -> bool:
    """Tell a blip worth one quick retry (network trouble, a 5xx) from a lasting failure."""
    return isinstance(err, EvEnergyConnectionError) or (
        isinstance(err, EvEnergyApiError) and err.status >= 500
    )


class EvEnergyBaseCoordinator[DataT](DataUpdateCoordinator[DataT]):
    """Failure policy shared by every ev.energy coordinator.

    One transient failure keeps the last data and retries soon, so a single 503 does not blank
    the entities; a failure that persists makes them unavailable and backs off. A 403 on the
    coordinator's `feature` raises the permission repair until access works again.

    `refreshes_started` counts refreshes as they begin and `data_generation` says which of them
    produced the current data: a write confirmed at generation N is only superseded by data of
    a refresh that started after it.

    Data compare by value: an unchanged answer notifies nobody. While listeners hear about new
    data, `changed_ids` names the resources whose part of it changed (None: assume all), so
    entities of unchanged resources skip their state write; `sample_only_ids` names those of
    them whose only change is their status's sample time, which most entities do not show.
    """

    config_entry: EvEnergyConfigEntry
    feature: str | None = None

    def __init__(
        self,
        hass: HomeAssistant,
        entry: EvEnergyConfigEntry,
        client: EvEnergyClient,
        *,
        name: str,
        interval: timedelta,
        retry_soon: timedelta,
    ) -> None:
        """Poll `name` every `interval` through `client`; retry a blip after `retry_soon`."""
        super().__init__(
            hass,
            _LOGGER,
            config_entry=entry,
            name=name,
            update_interval=interval,
            always_update=False,
        )
        self.client = client
        self.base_interval = interval
        # The delay chosen after the last success; a persistent failure keeps it by default.
        self.pace = interval
        self.retry_soon = retry_soon
        self.failures = 0
        self.refreshes_started = 0
        self.data_generation = 0
        self.changed_ids: set[str] | None = None
        self._pending_changed: set[str] | None = None
        self.sample_only_ids: frozenset[str] = frozenset()
        self._pending_sample_only: frozenset[str] = frozenset()

    async def _async_fetch(self) -> DataT:
        """Read the data set; raise EvEnergyError on failure."""
        raise NotImplementedError

    def _next_interval(self, data: DataT) -> timedelta:
        """Return the delay after a successful refresh."""
        return self.base_interval

    def _changed_ids(self, old: DataT | None, new: DataT) -> set[str] | None:
        """Return the ids whose data differ between `old` and `new`; None if unknown."""
        if isinstance(old, dict) and isinstance(new, dict):
            return {key for key in old.keys() | new.keys() if old.get(key) != new.get(key)}
        return None

    @callback
    def async_update_listeners(self) -> None:
        """Tell listeners, with `changed_ids` set for the data that prompted it."""
        self.changed_ids, self._pending_changed = self._pending_changed, None
        self.sample_only_ids, self._pending_sample_only = self._pending_sample_only, frozenset()
        try:
            super().async_update_listeners()
        finally:
            self.changed_ids = None
            self.sample_only_ids = frozenset()

    def _failure_interval(self, err: EvEnergyError) -> timedelta:
        """Return the delay after a failure that is no longer treated as a blip."""
        return self.pace

    async def _async_update_data(self) -> DataT:
        self.refreshes_started += 1
        generation = self.refreshes_started
        try:
            data = await self._async_fetch()
        except EvEnergyError as err:
            self._set_permission_issue(err)
            self.failures += 1
            if self.failures == 1 and self.data is not None and is_transient(err):
                _LOGGER.debug("%s: %s; keeping the last data and retrying soon", self.name, err)
                self.update_interval = self.retry_soon
                return self.data
            self.update_interval = self._failure_interval(err)
            raise_update_failed(err)
        self._set_permission_issue(None)
        self.failures = 0
        if generation < self.data_generation:
            # Overtaken by a refresh that began later and has already landed: keep its data.
            return self.data
        self.data_generation = generation
        self.pace = self.update_interval = self._next_interval(data)
        # Empty means "nothing changed": no listener is told then, so none may keep it.
        self._pending_changed = self._changed_ids(self.data, data) or None
        return data

    def _set_permission_issue(self, err: EvEnergyError | None) -> None:
        if self.feature is None:
            return
        denied = isinstance(err, EvEnergyApiError) and err.status == 403
        # Any other failure says nothing about the permission either way.
        if denied or err is None:
            async_set_permission_issue(
                self.hass, self.config_entry.entry_id, self.feature, denied=denied
            )


class EvEnergyLiveCoordinator(EvEnergyBaseCoordinator[EvEnergyData]):
    """The live poll: vehicles, and chargers when the account has any.

    The user (tariff assignment, chargers) and the tariff are read hourly; the tariff also on
    polls while the price list has no price for now (its own current price is then shown).
    The pace follows what the cars do: every minute while charging or just plugged in, every
    three minutes once plugged in and settled, every two minutes when nothing is plugged in.
    """

    def __init__(
        self, hass: HomeAssistant, entry: EvEnergyConfigEntry, client: EvEnergyClient
    ) -> None:
        """Poll through `client` for `entry`."""
        super().__init__(
            hass,
            entry,
            client,
            name=DOMAIN,
            interval=UPDATE_INTERVAL,
            retry_soon=LIVE_RETRY_SOON,
        )
        self._user: User | None = None
        self._tariff: Tariff | None = None
        self._account_read_at = 0.0
        # The tariff came with the account in this very poll (or setup): no second read.
        self._tariff_just_read = False
        # Set by the price coordinator: its list tells when the tariff's own price is needed.
        self.prices: EvEnergyPriceCoordinator | None = None
        # Set at setup: while push works, nothing plugged in is polled more slowly.
        self.push: EvEnergyPush | None = None
        self.last_success: datetime | None = None
        # Each resource's (plugged in, charging) and since when (monotonic), for the pace.
        self._plug_states: dict[str, tuple[PlugState, float]] = {}
        self._refresh_listeners: list[CALLBACK_TYPE] = []
        self._missing_polls: dict[str, int] = {}
        # Vehicles as a write returned them, with the refresh count at that moment.
        self._confirmed_writes: dict[str, tuple[int, Vehicle]] = {}
        # When the chargers were last read (monotonic); whether the pace is the fast one (the
        # chargers are then read on every poll); whether someone asked for this refresh.
        self._chargers_read_at: float | None = None
        self._active = False
        self._refresh_requested = False
        # Until when (monotonic) a planned slot boundary keeps plugged-in cars at the fast pace.
        self._slot_changed_until = 0.0

    async def _async_setup(self) -> None:
        """Read the account and its tariff once before the first poll."""
        try:
            await self._async_refresh_account()
        except EvEnergyError as err:
            raise_update_failed(err)

    async def _async_refresh_account(self) -> None:
        """Read the user and the tariff their home location is on."""
        assert self.config_entry.unique_id is not None
        user = _stated(await self.client.async_get_user(self.config_entry.unique_id), self._user)
        self._tariff = await self._async_get_tariff(user)
        self._user = user
        self._account_read_at = time.monotonic()
        self._tariff_just_read = True

    def _tariff_due(self) -> bool:
        """Whether this poll needs the tariff's own current price: the list has none for now."""
        tariff = self._tariff
        if tariff is None or tariff.type is TariffType.FLAT_RATE or self._tariff_just_read:
            return False
        schedule = self.prices.data if self.prices is not None else None
        return schedule is None or schedule.at(dt_util.utcnow()) is None

    async def _async_fetch(self) -> EvEnergyData:
        started = self.refreshes_started
        if time.monotonic() - self._account_read_at >= USER_REFRESH_INTERVAL.total_seconds():
            await self._async_refresh_account()
        assert self._user is not None
        user = self._user
        tariff_due = self._tariff_due()
        self._tariff_just_read = False
        now = time.monotonic()
        # The user resource lists the chargers: an account without any skips the request.
        has_chargers = user.evse_ids != ()
        read_chargers = has_chargers and chargers_due(
            now=now,
            last_read=self._chargers_read_at,
            active=self._active,
            requested=self._refresh_requested,
            watched=self.data is not None and vehicles_watch_plugs(self.data.vehicles.values()),
            push=self.push_active,
        )
        self._refresh_requested = False

        skipped: list[Evse] | None = None if has_chargers else []
        vehicles, evses, tariff = await asyncio.gather(
            self.client.async_get_vehicles(),
            self._async_get_evses() if read_chargers else _nothing(skipped),
            self._async_get_tariff(user) if tariff_due else _nothing(self._tariff),
            return_exceptions=True,
        )
        if (
            isinstance(vehicles, BaseException)
            or isinstance(evses, BaseException)
            or isinstance(tariff, BaseException)
        ):
            errors = [e for e in (vehicles, evses, tariff) if isinstance(e, BaseException)]
            # An auth failure outranks whatever else went wrong in the same cycle.
            raise next((e for e in errors if isinstance(e, EvEnergyAuthError)), errors[0])
        if tariff_due:
            self._tariff = tariff
        if evses is None and vehicle_plug_changed(
            {resource_id: known[0] for resource_id, known in self._plug_states.items()}, vehicles
        ):
            # A car plugged in or out, or started or stopped charging: its charger likely did too.
            evses = await self.client.async_get_evses()
        if has_chargers and evses is not None:
            self._chargers_read_at = now

        by_id = self._keep_confirmed_writes(started, vehicles)
        evses_by_id = (
            {evse.id: evse for evse in evses}
            if evses is not None
            else (self.data.evses if self.data else {})
        )
        data = EvEnergyData(
            user=user,
            vehicles=by_id,
            evses=evses_by_id,
            tariff=tariff,
            ids_with_device=self._track_resources(by_id.keys() | evses_by_id.keys()),
        )
        self.last_success = dt_util.utcnow()
        return data

    def _changed_ids(self, old: EvEnergyData | None, new: EvEnergyData) -> set[str] | None:
        """Vehicles and chargers that changed, and the user's id when the account did.

        Those whose only change is the sample time are also noted in `_pending_sample_only`.
        """
        self._pending_sample_only = frozenset()
        if old is None:
            return None
        changed: set[str] = set()
        sample_only: set[str] = set()
        _diff(old.vehicles, new.vehicles, changed, sample_only)
        _diff(old.evses, new.evses, changed, sample_only)
        if (old.user, old.tariff) != (new.user, new.tariff):
            changed.add(new.user.id)
        self._pending_sample_only = frozenset(sample_only)
        return changed

    async def async_refresh(self) -> None:
        """Refresh now, chargers included: someone (a write, a repair) wants the latest."""
        self._refresh_requested = True
        await super().async_refresh()

    @callback
    def async_add_refresh_listener(self, update_callback: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call `update_callback` after every refresh, whether or not the data changed."""
        self._refresh_listeners.append(update_callback)
        return lambda: self._refresh_listeners.remove(update_callback)

    @callback
    def _async_refresh_finished(self) -> None:
        super()._async_refresh_finished()
        for listener in list(self._refresh_listeners):
            listener()

    def _keep_confirmed_writes(self, started: int, polled: list[Vehicle]) -> dict[str, Vehicle]:
        """Overlay settings a write confirmed after this poll began; its answer predates them."""
        vehicles = {vehicle.id: vehicle for vehicle in polled}
        for vehicle_id, (written_at, confirmed) in list(self._confirmed_writes.items()):
            if started > written_at:
                # This poll began after the write: whatever it says is the newer truth.
                del self._confirmed_writes[vehicle_id]
            elif (vehicle := vehicles.get(vehicle_id)) is not None:
                vehicles[vehicle_id] = replace(
                    vehicle,
                    maximum_charge_limit_percentage=confirmed.maximum_charge_limit_percentage,
                    smart_charging_enabled=confirmed.smart_charging_enabled,
                )
        return vehicles

    def _next_interval(self, data: EvEnergyData) -> timedelta:
        """Poll fast only while something charges or just plugged in; never beyond the budget."""
        now = time.monotonic()
        statuses: dict[str, VehicleStatus | EvseStatus | None] = {
            v.id: v.status for v in data.vehicles.values()
        }
        statuses.update((e.id, e.status) for e in data.evses.values())
        complete = {
            v.id
            for v in data.vehicles.values()
            if v.status is not None and v.status.state is VehicleState.PLUGGED_IN_COMPLETE
        }
        paces: list[timedelta] = []
        plug_states: dict[str, tuple[PlugState, float]] = {}
        for resource_id, status in statuses.items():
            state = plug_state(status)
            known = self._plug_states.get(resource_id)
            if state == (None, None) and known is not None:
                # Unknown (a status missing from this answer): keep what we knew.
                state = known[0]
            since = known[1] if known is not None and known[0] == state else now
            plug_states[resource_id] = (state, since)
            plugged, charging = state
            if state == (None, None):
                continue  # never reported: nothing to pace for
            if charging:
                paces.append(UPDATE_INTERVAL)
            elif plugged:
                settled = resource_id in complete or now - since >= SETTLE_TIME.total_seconds()
                fast = not settled or now < self._slot_changed_until
                paces.append(UPDATE_INTERVAL if fast else self._settled_interval())
            else:
                paces.append(self._idle_interval())
        self._plug_states = plug_states
        # One poll serves every resource: the most urgent one sets the pace. Settled cars are
        # polled slower than idle only when nothing is left unplugged to watch for a plug-in.
        interval = min(paces, default=self._idle_interval())
        self._active = interval <= UPDATE_INTERVAL
        limit = self.client.rate_limit_limit or DEFAULT_RATE_LIMIT
        remaining = self.client.rate_limit_remaining
        if remaining is not None and remaining < limit * LOW_REMAINING_SHARE:
            return max(interval, LOW_BUDGET_UPDATE_INTERVAL)
        if self.client.requests_last_hour >= limit * HOURLY_SHARE:
            return max(interval, BUDGET_GUARD_UPDATE_INTERVAL)
        return interval

    @property
    def push_active(self) -> bool:
        """Whether ev.energy's events report plug-ins, unplugs and mode changes as they happen."""
        return self.push is not None and self.push.active

    def _idle_interval(self) -> timedelta:
        """Return the pace while nothing is plugged in: slower while push reports plug-ins."""
        return PUSH_IDLE_UPDATE_INTERVAL if self.push_active else IDLE_UPDATE_INTERVAL

    def _settled_interval(self) -> timedelta:
        """Return the pace once everything plugged in has settled.

        While push works, an unplug or a boost arrives as an event, and a planned slot's start
        or end is read at that moment (`async_read_at_slot_boundary`): the idle pace will do.
        """
        return PUSH_IDLE_UPDATE_INTERVAL if self.push_active else SETTLED_UPDATE_INTERVAL

    async def async_read_at_slot_boundary(self) -> None:
        """Read now and at the fast pace for a while: a planned slot starts or ends.

        Only while push works, when a settled car is read this slowly; the car and charger
        may take a minute to follow the plan, hence the fast reads after it.
        """
        if self.push_active:
            self._slot_changed_until = time.monotonic() + SETTLE_TIME.total_seconds()
            await self.async_request_refresh()

    def slow_read_shares(self) -> SlowReadShares:
        """Return the requests an hour for session pages and for plans (const.py)."""
        limit = self.client.rate_limit_limit or DEFAULT_RATE_LIMIT
        chargers = len(self.data.evses)
        per_hour = slow_reads_per_hour(
            guard=limit * HOURLY_SHARE,
            live_per_poll=live_requests_per_poll(len(self.data.vehicles), chargers),
            fastest_pace=UPDATE_INTERVAL.total_seconds(),
            connectivity_per_hour=min(chargers, CONNECTIVITY_REQUESTS_PER_HOUR),
            reserve=SLOW_READS_RESERVE,
            minimum=SLOW_READS_MINIMUM,
        )
        return split_slow_reads(per_hour, SESSIONS_SHARE_OF_SLOW_READS)

    def _track_resources(self, present: set[str]) -> frozenset[str]:
        """Adopt new vehicles/chargers; remove devices gone for several polls in a row."""
        ids_with_device = set(self.data.ids_with_device if self.data else ()) | present
        registry = dr.async_get(self.hass)
        for resource_id in ids_with_device - present:
            missing = self._missing_polls.get(resource_id, 0) + 1
            self._missing_polls[resource_id] = missing
            if missing < MISSING_POLLS_BEFORE_REMOVAL:
                continue
            _LOGGER.info("%s is no longer in the ev.energy account; removing it", resource_id)
            ids_with_device.discard(resource_id)
            del self._missing_polls[resource_id]
            device = registry.async_get_device_by_identifier(
                (DOMAIN, resource_id), self.config_entry.entry_id
            )
            if device is not None:
                registry.async_remove_device(device.id)
        for resource_id in present:
            self._missing_polls.pop(resource_id, None)
        return frozenset(ids_with_device)

    async def _async_get_evses(self) -> list[Evse] | None:
        return await self.client.async_get_evses()

    async def _async_get_tariff(self, user: User) -> Tariff | None:
        if user.tariff_id is None:
            return None
        return await self.client.async_get_tariff(user.tariff_id)

    @callback
    def async_set_vehicle(self, vehicle: Vehicle) -> None:
        """Publish a vehicle a write returned; a poll already in flight cannot undo it."""
        self._confirmed_writes[vehicle.id] = (self.refreshes_started, vehicle)
        self._pending_changed = {vehicle.id}
        self.async_set_updated_data(
            replace(self.data, vehicles={**self.data.vehicles, vehicle.id: vehicle})
        )


def _diff[ResourceT: (Vehicle, Evse)](
    previous: dict[str, ResourceT],
    current: dict[str, ResourceT],
    changed: set[str],
    sample_only: set[str],
) -> None:
    """Add the ids that differ to `changed`, and to `sample_only` if only sampled_at moved."""
    for resource_id in previous.keys() | current.keys():
        before, after = previous.get(resource_id), current.get(resource_id)
        if before != after:
            changed.add(resource_id)
            if only_sample_time_moved(before, after):
                sample_only.add(resource_id)


def _stated(user: User, known: User | None) -> User:
    """Keep what an answer leaves unsaid.

    A user without its (optional) home location or chargers list still has the tariff and
    the chargers the last answer named.
    """
    if known is None:
        return user
    if not user.location_stated:
        user = replace(
            user,
            tariff_id=known.tariff_id,
            country_code=known.country_code,
            carbon_intensity_grams_per_kilowatt_hour=known.carbon_intensity_grams_per_kilowatt_hour,
            location_stated=known.location_stated,
        )
    if user.evse_ids is None:
        user = replace(user, evse_ids=known.evse_ids)
    return user


async def _nothing[T](value: T) -> T:
    """Stand in for a request a poll can skip."""
    return value
