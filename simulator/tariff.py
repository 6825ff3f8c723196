"""Tariff prices and grid carbon intensity, as pure functions of time."""

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

HALF_HOUR = timedelta(minutes=30)
# Rough GB daily shape (g/kWh by local hour): low overnight and midday, high at the evening peak.
DEFAULT_CARBON_BY_HOUR = [
    *(110, 105, 100, 95, 95, 100, 120, 150, 170, 160, 140, 120),
    *(110, 105, 110, 130, 170, 210, 230, 220, 190, 160, 140, 120),
]
# Upper bounds of the carbon intensity classes, in g/kWh.
_CARBON_BANDS = ((40, "very low"), (120, "low"), (200, "moderate"), (290, "high"))


def floor_half_hour(instant: datetime) -> datetime:
    """Return the start of the half-hour interval containing ``instant``."""
    return instant.replace(minute=instant.minute - instant.minute % 30, second=0, microsecond=0)


def _seconds_of_day(hms: str) -> int:
    hours, minutes, seconds = (int(part) for part in hms.split(":"))
    return hours * 3600 + minutes * 60 + seconds


@dataclass
class Supplier:
    """Energy supplier of a tariff."""

    id: str
    name: str
    icon: str | None = None


@dataclass
class Tariff:
    """A tariff priced either half-hourly (DYNAMIC) or by daily bands (``daily_prices``)."""

    id: str
    name: str
    type: str
    currency: str
    supplier: Supplier
    timezone_name: str = "Europe/London"
    gsp_group: str | None = None
    valid_from: str = "2024-01-01"
    price_chart_url: str | None = None
    # DYNAMIC: minor units for each local half-hour slot (48 values) plus a deterministic
    # per-day offset within +-daily_variation, so consecutive days differ.
    half_hourly_prices: list[int] | None = None
    daily_variation: int = 0
    # Banded tariffs: the API's DailyPrices object (major-unit strings, local times).
    daily_prices: dict[str, Any] | None = None
    # Like Octopus Agile, tomorrow's prices appear at this local hour; known until 23:00 local.
    publish_hour: int = 16
    history_hours: int = 24

    @property
    def tz(self) -> ZoneInfo:
        """Timezone the tariff's local times are in."""
        return ZoneInfo(self.timezone_name)

    def price_at(self, instant: datetime) -> int:
        """Price in minor units per kWh of the interval containing ``instant``."""
        local = instant.astimezone(self.tz)
        if self.half_hourly_prices is not None:
            slot = local.hour * 2 + local.minute // 30
            # Constant within a day, so neighbouring slots keep the profile's differences.
            wobble = local.toordinal() % (2 * self.daily_variation + 1) - self.daily_variation
            return max(0, self.half_hourly_prices[slot] + wobble)
        bands = self.daily_prices or {}
        second = local.hour * 3600 + local.minute * 60 + local.second
        for band in bands.values():
            for times in band["times"]:
                start, end = _seconds_of_day(times["start"]), _seconds_of_day(times["end"])
                # end <= start wraps past midnight; start == end covers the whole day.
                if (start <= second < end) if start < end else (second >= start or second < end):
                    return round(Decimal(band["price"]) * 100)
        return round(Decimal(bands["peak"]["price"]) * 100)

    def known_prices(self, now: datetime) -> list[tuple[datetime, int]]:
        """List published half-hourly prices (oldest first), up to 23:00 local time."""
        local = now.astimezone(self.tz)
        publish_hour = self.publish_hour if self.type == "DYNAMIC" else 0
        day = local.date() + timedelta(days=1 if local.hour >= publish_hour else 0)
        horizon = datetime.combine(day, time(23), tzinfo=self.tz).astimezone(UTC)
        cursor = floor_half_hour(now - timedelta(hours=self.history_hours))
        prices = []
        while cursor < horizon:
            prices.append((cursor, self.price_at(cursor)))
            cursor += HALF_HOUR
        return prices

    def mean_daily_price(self, instant: datetime) -> float:
        """Average price over the local day containing ``instant`` (the savings baseline)."""
        local_day = datetime.combine(instant.astimezone(self.tz).date(), time(), tzinfo=self.tz)
        start = local_day.astimezone(UTC)
        return sum(self.price_at(start + k * HALF_HOUR) for k in range(48)) / 48


def carbon_intensity(instant: datetime, by_hour: list[int], tz: ZoneInfo) -> int:
    """Grid carbon intensity (g/kWh) at ``instant`` from a 24-value local-hour profile."""
    return by_hour[instant.astimezone(tz).hour]


def carbon_class(grams_per_kwh: int) -> str:
    """Classification band used by ev.energy for a carbon intensity."""
    return next((name for bound, name in _CARBON_BANDS if grams_per_kwh < bound), "very high")
