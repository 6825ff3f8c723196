"""The coordinator that polls ev.energy: 3 requests per cycle, whatever the fleet size."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time as dt_time, timedelta
from decimal import Decimal
import logging
import time
from typing import TYPE_CHECKING, Any, NoReturn, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .api import (
    ChargingSession,
    EvEnergyApiError,
    EvEnergyAuthError,
    EvEnergyClient,
    EvEnergyConnectionError,
    EvEnergyError,
    EvEnergyRateLimitError,
    Evse,
    EvseConnectivity,
    PriceInterval,
    PriceSchedule,
    Tariff,
    TariffType,
    User,
    Vehicle,
    intervals_from_bands,
    minor_to_major,
)
from .const import (
    CONNECTIVITY_REFRESH_INTERVAL,
    DEFAULT_RATE_LIMIT,
    DOMAIN,
    HOURLY_SHARE,
    IDLE_UPDATE_INTERVAL,
    LOW_BUDGET_UPDATE_INTERVAL,
    LOW_REMAINING_SHARE,
    MISSING_POLLS_BEFORE_REMOVAL,
    PRICE_REFRESH_INTERVAL,
    PRICE_REFRESH_OFFSET,
    RATE_TARIFF_DAYS,
    SESSIONS_REFRESH_INTERVAL,
    UPDATE_INTERVAL,
    USER_REFRESH_INTERVAL,
)
from .issues import async_set_permission_issue

if TYPE_CHECKING:
    from .plan_coordinator import EvEnergyPlanCoordinator

_LOGGER = logging.getLogger(__name__)

type EvEnergyConfigEntry = ConfigEntry[EvEnergyRuntimeData]


@dataclass(frozen=True, kw_only=True)
class EvEnergyData:
    """One consistent snapshot of the account."""

    user: User
    vehicles: dict[str, Vehicle]
    evses: dict[str, Evse]
    tariff: Tariff | None


@dataclass(kw_only=True)
class EvEnergyRuntimeData:
    """What a loaded config entry holds."""

    client: EvEnergyClient
    coordinator: EvEnergyCoordinator
    prices: EvEnergyPriceCoordinator
    sessions: EvEnergySessionsCoordinator
    connectivity: EvEnergyConnectivityCoordinator
    plans: EvEnergyPlanCoordinator


async def async_guarded[T](
    coordinator: DataUpdateCoordinator[Any], feature: str, call: Awaitable[T]
) -> T:
    """Await an API call for `feature`; a 403 becomes a repair issue as well as a failure."""
    entry_id = coordinator.config_entry.entry_id if coordinator.config_entry else ""
    try:
        result = await call
    except EvEnergyApiError as err:
        if err.status == 403:
            async_set_permission_issue(coordinator.hass, entry_id, feature, denied=True)
        raise_update_failed(err)
    except EvEnergyError as err:
        raise_update_failed(err)
    async_set_permission_issue(coordinator.hass, entry_id, feature, denied=False)
    return result


def raise_update_failed(err: EvEnergyError) -> NoReturn:
    """Map a client error to the coordinator's translated failure."""
    if isinstance(err, EvEnergyAuthError):
        raise ConfigEntryAuthFailed(
            translation_domain=DOMAIN, translation_key="auth_failed"
        ) from err
    if isinstance(err, EvEnergyRateLimitError):
        raise UpdateFailed(
            translation_domain=DOMAIN,
            translation_key="rate_limited",
            translation_placeholders={"retry_after": str(round(err.retry_after))},
            retry_after=err.retry_after,
        ) from err
    if isinstance(err, EvEnergyConnectionError):
        raise UpdateFailed(translation_domain=DOMAIN, translation_key="cannot_connect") from err
    if isinstance(err, EvEnergyApiError):
        raise UpdateFailed(
            translation_domain=DOMAIN,
            translation_key="api_error",
            translation_placeholders={"status": str(err.status), "message": err.problem.message},
        ) from err
    raise UpdateFailed(translation_domain=DOMAIN, translation_key="invalid_response") from err


class EvEnergyCoordinator(DataUpdateCoordinator[EvEnergyData]):
    """Polls vehicles, chargers and the tariff price once a minute."""

    config_entry: EvEnergyConfigEntry

    def __init__(
        self, hass: HomeAssistant, entry: EvEnergyConfigEntry, client: EvEnergyClient
    ) -> None:
        """Poll through `client` for `entry`."""
        super().__init__(
            hass,
            _LOGGER,
            config_entry=entry,
            name=DOMAIN,
            update_interval=UPDATE_INTERVAL,
        )
        self.client = client
        self._user: User | None = None
        self._user_read_at = 0.0
        self.last_success: datetime | None = None
        self._active_ids: set[str] = set()
        # Vehicles and chargers that have a device; platforms add entities for new ones.
        self.active_ids: set[str] = set()
        self._missing_polls: dict[str, int] = {}

    async def _async_setup(self) -> None:
        """Find the account's tariff once before the first poll."""
        await self._async_refresh_user()

    async def _async_refresh_user(self) -> None:
        assert self.config_entry.unique_id is not None
        try:
            self._user = await self.client.async_get_user(self.config_entry.unique_id)
        except EvEnergyError as err:
            raise_update_failed(err)
        self._user_read_at = time.monotonic()

    async def _async_update_data(self) -> EvEnergyData:
        if time.monotonic() - self._user_read_at >= USER_REFRESH_INTERVAL.total_seconds():
            await self._async_refresh_user()
        assert self._user is not None
        user = self._user

        vehicles, evses, tariff = await asyncio.gather(
            self.client.async_get_vehicles(),
            self.client.async_get_evses(),
            self._async_get_tariff(user),
            return_exceptions=True,
        )
        if (
            isinstance(vehicles, BaseException)
            or isinstance(evses, BaseException)
            or isinstance(tariff, BaseException)
        ):
            errors = [e for e in (vehicles, evses, tariff) if isinstance(e, BaseException)]
            # An auth failure outranks whatever else went wrong in the same cycle.
            first = next((e for e in errors if isinstance(e, EvEnergyAuthError)), errors[0])
            if not isinstance(first, EvEnergyError):
                raise first
            raise_update_failed(first)

        data = EvEnergyData(
            user=user,
            vehicles={vehicle.id: vehicle for vehicle in vehicles},
            evses={evse.id: evse for evse in evses},
            tariff=tariff,
        )
        self._track_resources(data)
        self.update_interval = self._next_interval(data)
        self.last_success = dt_util.utcnow()
        return data

    def _next_interval(self, data: EvEnergyData) -> timedelta:
        """Poll fast only while something charges, and never beyond the budget."""
        statuses = {v.id: v.status for v in data.vehicles.values()} | {
            e.id: e.status for e in data.evses.values()
        }
        active: set[str] = set()
        for resource_id, status in statuses.items():
            plugged = (status.is_plugged_in, status.is_charging) if status else (None, None)
            if True in plugged or (
                # Unknown (a status missing from this answer): keep what we knew.
                plugged == (None, None) and resource_id in self._active_ids
            ):
                active.add(resource_id)
        self._active_ids = active
        interval = UPDATE_INTERVAL if active else IDLE_UPDATE_INTERVAL
        limit = self.client.rate_limit_limit or DEFAULT_RATE_LIMIT
        remaining = self.client.rate_limit_remaining
        if remaining is not None and remaining < limit * LOW_REMAINING_SHARE:
            return max(interval, LOW_BUDGET_UPDATE_INTERVAL)
        if self.client.requests_last_hour >= limit * HOURLY_SHARE:
            return max(interval, IDLE_UPDATE_INTERVAL)
        return interval

    def _track_resources(self, data: EvEnergyData) -> None:
        """Adopt new vehicles/chargers; remove devices gone for several polls in a row."""
        present = data.vehicles.keys() | data.evses.keys()
        self.active_ids |= present
        registry = dr.async_get(self.hass)
        for resource_id in self.active_ids - present:
            missing = self._missing_polls.get(resource_id, 0) + 1
            self._missing_polls[resource_id] = missing
            if missing < MISSING_POLLS_BEFORE_REMOVAL:
                continue
            _LOGGER.info("%s is no longer in the ev.energy account; removing it", resource_id)
            self.active_ids.discard(resource_id)
            del self._missing_polls[resource_id]
            device = registry.async_get_device_by_identifier(
                (DOMAIN, resource_id), self.config_entry.entry_id
            )
            if device is not None:
                registry.async_update_device(
                    device.id, remove_config_entry_id=self.config_entry.entry_id
                )
        for resource_id in present:
            self._missing_polls.pop(resource_id, None)

    async def _async_get_tariff(self, user: User) -> Tariff | None:
        if user.tariff_id is None:
            return None
        return await self.client.async_get_tariff(user.tariff_id)

    def async_set_vehicle(self, vehicle: Vehicle) -> None:
        """Publish a vehicle the API returned from a write, without another poll."""
        self.async_set_updated_data(
            replace(self.data, vehicles={**self.data.vehicles, vehicle.id: vehicle})
        )


class FollowerCoordinator[DataT](DataUpdateCoordinator[DataT]):
    """A coordinator on its own (slower) cadence that reads what the live poll found."""

    config_entry: EvEnergyConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: EvEnergyConfigEntry,
        client: EvEnergyClient,
        main: EvEnergyCoordinator,
        *,
        name: str,
        interval: timedelta,
    ) -> None:
        """Poll `name` every `interval` through `client`, following `main`."""
        super().__init__(
            hass, _LOGGER, config_entry=entry, name=f"{DOMAIN} {name}", update_interval=interval
        )
        self.client = client
        self.main = main
        entry.async_on_unload(main.async_add_listener(self._on_live_update))

    @callback
    def _on_live_update(self) -> None:
        """After an outage, catch up as soon as the live poll works again."""
        if self.main.last_update_success and not self.last_update_success:
            self.hass.async_create_task(self.async_request_refresh(), eager_start=True)


class EvEnergyPriceCoordinator(FollowerCoordinator[PriceSchedule]):
    """Keeps the tariff's known price intervals and ticks at every price boundary.

    The list is fetched every 30 minutes and right after the known horizon ends; between
    fetches, listeners are told at each interval boundary from a local timer, so price states
    flip on time with no request at the boundary.
    """

    def __init__(
        self,
        hass: HomeAssistant,
        entry: EvEnergyConfigEntry,
        client: EvEnergyClient,
        main: EvEnergyCoordinator,
    ) -> None:
        """Read prices through `client` for the tariff `main` polls."""
        super().__init__(hass, entry, client, main, name="prices", interval=PRICE_REFRESH_INTERVAL)
        self._unsub_boundary: CALLBACK_TYPE | None = None
        self._unsub_horizon: CALLBACK_TYPE | None = None
        entry.async_on_unload(self._cancel_timers)

    async def _async_update_data(self) -> PriceSchedule:
        self.update_interval = _off_boundary_delay(dt_util.utcnow())
        schedule = await self._async_fetch()
        self._arm_horizon(schedule)
        return schedule

    async def _async_fetch(self) -> PriceSchedule:
        tariff = self.main.data.tariff
        if tariff is None or tariff.currency is None:
            return PriceSchedule()
        zone = _zone(tariff, self.hass)
        today = dt_util.now(zone).date()
        if tariff.daily_prices and tariff.type is not TariffType.DYNAMIC:
            return PriceSchedule(
                intervals_from_bands(
                    tariff.daily_prices, zone, today - timedelta(days=1), RATE_TARIFF_DAYS
                )
            )
        since = datetime.combine(today, dt_time(), zone)
        return PriceSchedule(
            await async_guarded(
                self, "prices", self.client.async_get_prices(tariff.id, tariff.currency, since)
            )
        )

    @callback
    def async_update_listeners(self) -> None:
        """Tell listeners, then re-arm the boundary timer."""
        super().async_update_listeners()
        self._arm_boundary()

    @callback
    def _arm_boundary(self) -> None:
        if self._unsub_boundary is not None:
            self._unsub_boundary()
            self._unsub_boundary = None
        # None until the first successful fetch, whatever the type says.
        schedule = cast(PriceSchedule | None, self.data)
        if schedule is not None and (boundary := schedule.next_change(dt_util.utcnow())):
            self._unsub_boundary = async_track_point_in_utc_time(
                self.hass, self._on_boundary, boundary
            )

    @callback
    def _arm_horizon(self, schedule: PriceSchedule) -> None:
        """Fetch again as soon as the known prices run out, if before the next refresh."""
        if self._unsub_horizon is not None:
            self._unsub_horizon()
            self._unsub_horizon = None
        now = dt_util.utcnow()
        known_until = schedule.known_until
        if known_until is not None and now < known_until < now + PRICE_REFRESH_INTERVAL:
            self._unsub_horizon = async_track_point_in_utc_time(
                self.hass, self._on_horizon, known_until
            )

    @callback
    def _on_boundary(self, _: datetime) -> None:
        self._unsub_boundary = None
        self.async_update_listeners()

    @callback
    def _on_horizon(self, _: datetime) -> None:
        self._unsub_horizon = None
        self.hass.async_create_task(self.async_request_refresh(), eager_start=True)

    @callback
    def _cancel_timers(self) -> None:
        for unsub in (self._unsub_boundary, self._unsub_horizon):
            if unsub is not None:
                unsub()
        self._unsub_boundary = self._unsub_horizon = None


def _off_boundary_delay(now: datetime) -> timedelta:
    """Delay to the next refresh about 30 minutes on, at 7 minutes past a quarter hour.

    Price intervals start on quarter hours, so a refresh there never lands on a boundary,
    whenever Home Assistant happened to start.
    """
    target = now + PRICE_REFRESH_INTERVAL
    quarter = target.replace(minute=target.minute // 15 * 15, second=0, microsecond=0)
    aligned = quarter + PRICE_REFRESH_OFFSET
    if aligned < target - timedelta(minutes=7):
        aligned += timedelta(minutes=15)
    return aligned - now


def _zone(tariff: Tariff, hass: HomeAssistant) -> ZoneInfo:
    """Return the tariff's time zone, or Home Assistant's when it names none or an unknown one."""
    if tariff.timezone_name:
        try:
            return ZoneInfo(tariff.timezone_name)
        except (ZoneInfoNotFoundError, ValueError):
            _LOGGER.warning("Unknown tariff time zone %s", tariff.timezone_name)
    return ZoneInfo(hass.config.time_zone)


@dataclass(frozen=True, kw_only=True)
class PriceView:
    """The prices as the entities show them at one instant."""

    at: datetime
    schedule: PriceSchedule
    tariff: Tariff | None
    zone: ZoneInfo

    @classmethod
    def now(cls, prices: EvEnergyPriceCoordinator) -> PriceView:
        """Return the view at the current time."""
        tariff = prices.main.data.tariff
        return cls(
            at=dt_util.utcnow(),
            schedule=prices.data or PriceSchedule(),
            tariff=tariff,
            zone=_zone(tariff, prices.hass) if tariff else ZoneInfo(prices.hass.config.time_zone),
        )

    @property
    def unit(self) -> str | None:
        """Price unit, e.g. GBP/kWh."""
        if self.tariff is None or self.tariff.currency is None:
            return None
        return f"{self.tariff.currency}/kWh"

    @property
    def current(self) -> PriceInterval | None:
        """The interval containing now, if the price list covers it."""
        return self.schedule.at(self.at)

    @property
    def current_price(self) -> Decimal | None:
        """The price now: from the list, else the tariff's own current price."""
        if (interval := self.current) is not None:
            return interval.price
        tariff = self.tariff
        if tariff is None or tariff.currency is None or tariff.current_price_minor_units is None:
            return None
        return minor_to_major(tariff.current_price_minor_units, tariff.currency)

    @property
    def next(self) -> PriceInterval | None:
        """The interval after the current one."""
        return self.schedule.following(self.at)

    def today(self) -> tuple[datetime, datetime]:
        """Start and end of the tariff's local day containing now (23 or 25 h on DST days)."""
        day = self.at.astimezone(self.zone).date()
        start = datetime.combine(day, dt_time(), self.zone)
        end = datetime.combine(day + timedelta(days=1), dt_time(), self.zone)
        return start.astimezone(UTC), end.astimezone(UTC)


class EvEnergySessionsCoordinator(FollowerCoordinator[dict[str, ChargingSession]]):
    """Each vehicle's latest charging session: every 5 minutes and when a plug changes."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: EvEnergyConfigEntry,
        client: EvEnergyClient,
        main: EvEnergyCoordinator,
    ) -> None:
        """Read sessions through `client`; watch `main` for plug-ins and unplugs."""
        super().__init__(
            hass, entry, client, main, name="sessions", interval=SESSIONS_REFRESH_INTERVAL
        )
        self._plugged = self._plug_states(main)
        # Every session of the last read (newest page), for the charging calendar.
        self.recent: list[ChargingSession] = []

    @staticmethod
    def _plug_states(main: EvEnergyCoordinator) -> dict[str, bool | None]:
        return {
            vehicle.id: vehicle.status.is_plugged_in if vehicle.status else None
            for vehicle in main.data.vehicles.values()
        }

    @callback
    def _on_live_update(self) -> None:
        """Also read sessions at once on a plug-in (new session) or unplug (session ended)."""
        if not self.main.last_update_success:
            return
        plugged = self._plug_states(self.main)
        changed = any(
            vehicle_id in self._plugged and self._plugged[vehicle_id] != state
            for vehicle_id, state in plugged.items()
        )
        self._plugged = plugged
        if changed:
            self.hass.async_create_task(self.async_request_refresh(), eager_start=True)
        else:
            super()._on_live_update()

    async def _async_update_data(self) -> dict[str, ChargingSession]:
        sessions = await async_guarded(self, "sessions", self.client.async_get_sessions())
        self.recent = sessions
        latest: dict[str, ChargingSession] = {}
        for session in sorted(
            sessions, key=lambda s: s.start or datetime.min.replace(tzinfo=UTC), reverse=True
        ):
            if session.vehicle_id is not None:
                latest.setdefault(session.vehicle_id, session)
        return latest


class EvEnergyConnectivityCoordinator(FollowerCoordinator[dict[str, EvseConnectivity]]):
    """Chargers' connectivity (reliability, signal, firmware): slow-changing, read hourly."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: EvEnergyConfigEntry,
        client: EvEnergyClient,
        main: EvEnergyCoordinator,
    ) -> None:
        """Read each charger of `main` through `client`."""
        super().__init__(
            hass, entry, client, main, name="connectivity", interval=CONNECTIVITY_REFRESH_INTERVAL
        )

    async def _async_update_data(self) -> dict[str, EvseConnectivity]:
        evse_ids = list(self.main.data.evses)
        results = await asyncio.gather(
            *(self.client.async_get_connectivity(evse_id) for evse_id in evse_ids),
            return_exceptions=True,
        )
        connectivity: dict[str, EvseConnectivity] = {}
        for evse_id, result in zip(evse_ids, results, strict=True):
            if isinstance(result, EvEnergyError):
                raise_update_failed(result)
            if isinstance(result, BaseException):
                raise result
            connectivity[evse_id] = result
        return connectivity
