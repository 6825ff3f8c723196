"""The tariff's prices: read every 30 minutes, ticked locally at every price boundary."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time as dt_time, timedelta
from decimal import Decimal
import logging
from typing import cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from homeassistant.core import HomeAssistant, callback
from homeassistant.util import dt as dt_util

from .api import (
    EvEnergyClient,
    PriceInterval,
    PriceSchedule,
    Tariff,
    TariffType,
    intervals_from_bands,
    minor_to_major,
)
from .const import (
    PRICE_REFRESH_INTERVAL,
    PRICE_REFRESH_OFFSET,
    RATE_TARIFF_DAYS,
)
from .coordinator import EvEnergyLiveCoordinator
from .followers import FollowerCoordinator
from .runtime import EvEnergyConfigEntry

_LOGGER = logging.getLogger(__name__)


class EvEnergyPriceCoordinator(FollowerCoordinator[PriceSchedule]):
    """Keeps the tariff's known price intervals and ticks at every price boundary.

    The list is fetched every 30 minutes and right after the known horizon ends; between
    fetches, listeners are told at each interval boundary from a local timer, so price states
    flip on time with no request at the boundary.
    """

    feature = "prices"

    def __init__(
        self,
        hass: HomeAssistant,
        entry: EvEnergyConfigEntry,
        client: EvEnergyClient,
        live: EvEnergyLiveCoordinator,
    ) -> None:
        """Read prices through `client` for the tariff `live` polls."""
        super().__init__(hass, entry, client, live, name="prices", interval=PRICE_REFRESH_INTERVAL)
        self._boundaries_passed = 0
        self._view: tuple[tuple[object, ...], PriceView] | None = None
        self.zone = ZoneInfo(hass.config.time_zone)
        self._zone_warned: set[str] = set()
        live.prices = self

    def _next_interval(self, data: PriceSchedule) -> timedelta:
        return _off_boundary_delay(dt_util.utcnow())

    async def _async_fetch(self) -> PriceSchedule:
        schedule = await self._async_fetch_schedule()
        self._arm_horizon(schedule)
        if schedule.at(dt_util.utcnow()) is None:
            # No listed price for now: the tariff's own current price is shown, and the live
            # poll reads it (its next run would be up to minutes away).
            self.timers.spawn(self.live.async_request_refresh(), "live read", eager=False)
        return schedule

    async def _async_fetch_schedule(self) -> PriceSchedule:
        tariff = self.live.data.tariff
        self.zone = self._resolve_zone(tariff)
        if tariff is None or tariff.currency is None:
            return PriceSchedule()
        today = dt_util.now(self.zone).date()
        if tariff.daily_prices and tariff.type is not TariffType.DYNAMIC:
            return PriceSchedule(
                intervals_from_bands(
                    tariff.daily_prices, self.zone, today - timedelta(days=1), RATE_TARIFF_DAYS
                )
            )
        since = datetime.combine(today, dt_time(), self.zone)
        return PriceSchedule(await self.client.async_get_prices(tariff.id, tariff.currency, since))

    def _resolve_zone(self, tariff: Tariff | None) -> ZoneInfo:
        """Return the tariff's time zone, else Home Assistant's; log an unknown name once."""
        name = tariff.timezone_name if tariff else None
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                if name not in self._zone_warned:
                    self._zone_warned.add(name)
                    _LOGGER.warning("Unknown tariff time zone %s; using Home Assistant's", name)
        return ZoneInfo(self.hass.config.time_zone)

    @property
    def view(self) -> PriceView:
        """The prices as entities show them: rebuilt once per update or boundary, then shared."""
        key = (self.data, self.live.data, self._boundaries_passed)
        if self._view is None or any(
            old is not new for old, new in zip(self._view[0], key, strict=True)
        ):
            self._view = (
                key,
                PriceView(
                    at=dt_util.utcnow(),
                    schedule=self.data or PriceSchedule(),
                    tariff=self.live.data.tariff,
                    zone=self.zone,
                ),
            )
        return self._view[1]

    @callback
    def async_update_listeners(self) -> None:
        """Tell listeners, then re-arm the boundary timer."""
        super().async_update_listeners()
        self._arm_boundary()

    @callback
    def _arm_boundary(self) -> None:
        # None until the first successful fetch, whatever the type says.
        schedule = cast(PriceSchedule | None, self.data)
        boundary = schedule.next_change(dt_util.utcnow()) if schedule is not None else None
        self.timers.at("boundary", boundary, self._on_boundary)

    @callback
    def _arm_horizon(self, schedule: PriceSchedule) -> None:
        """Fetch again as soon as the known prices run out, if before the next refresh."""
        now = dt_util.utcnow()
        known_until = schedule.known_until
        soon = known_until is not None and now < known_until < now + PRICE_REFRESH_INTERVAL
        self.timers.at("horizon", known_until if soon else None, self._on_horizon)

    @callback
    def _on_boundary(self) -> None:
        self._boundaries_passed += 1
        self.async_update_listeners()

    @callback
    def _on_horizon(self) -> None:
        self.timers.spawn(self.async_request_refresh(), "horizon read")


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


@dataclass(frozen=True, kw_only=True)
class PriceView:
    """The prices as the entities show them at one instant."""

    at: datetime
    schedule: PriceSchedule
    tariff: Tariff | None
    zone: ZoneInfo

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
