"""Hourly charging statistics from ev.energy's energy usage intervals (no Home Assistant here).

Rules (docs/energy-dashboard.md repeats them for users):
- energy: `total_energy_delivered_watt_hours`, in kWh;
- meter energy: `meter_usage_watt_hours` (at the supply meter, losses included), in kWh;
- cost: energy delivered x the interval's `electricity_cost_sub_unit` (minor units per kWh),
  in major units, as ev.energy bills it: no loss or `percentage_import` factor;
- savings: (`alt_usage_watt_hours` - energy delivered) x the interval's price, in major units:
  what charging straight away would have cost minus what this interval cost, booked in the
  hour of each interval (so a smart session shows a negative hour where it charged and a positive
  one where it would have charged; the session's total is the saving);
- CO2: the sub-session's `total_co2_grams` shared over its intervals by energy delivered, or,
  when only its average intensity is known, energy x `co2_intensity_grams_per_kilowatt_hour`; kg.
Money is counted per currency (a series per quantity and currency): amounts in different
currencies are never added together. An interval that crosses an hour is split in proportion to
time. A missing (null) field skips only the values that need it; a negative or impossible
interval is skipped whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Final

from .api import ChargingSubSession, EnergyUsage, UsageInterval, minor_to_major

# Above every charger in service (350 kW DC rapid chargers): an interval reporting more energy
# than this power could deliver in its length is a measurement error.
MAX_CHARGE_POWER_WATTS: Final = 350_000
HOUR: Final = timedelta(hours=1)
_KILO: Final = Decimal(1000)


class Quantity(StrEnum):
    """What is counted; the value is the statistic id's suffix."""

    ENERGY = "charging_energy"
    METER_ENERGY = "charging_meter_energy"
    COST = "charging_cost"
    SAVINGS = "charging_savings"
    CO2 = "charging_co2"


# Money is counted per currency: amounts in different currencies are never added together.
MONEY: Final = frozenset({Quantity.COST, Quantity.SAVINGS})

type HourlyValues = dict[datetime, dict[Quantity, float]]
# What one statistic counts: a quantity, and for money the currency (None for the others).
type Series = tuple[Quantity, str | None]


@dataclass(frozen=True, slots=True)
class SkippedInterval:
    """An interval left out of the statistics, and why."""

    started_at: datetime | None
    reason: str


@dataclass(frozen=True, slots=True)
class SubSessionHours:
    """A sub-session's contribution to each UTC hour (keyed by the hour's start)."""

    hours: HourlyValues
    skipped: tuple[SkippedInterval, ...]


@dataclass(frozen=True, slots=True)
class HourRow:
    """One hourly statistics row: the hour's amount (`state`) and the running `sum`."""

    start: datetime
    state: float
    sum: float


def hour_start(instant: datetime) -> datetime:
    """Return the start of the UTC hour containing `instant`."""
    return instant.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _problem(interval: UsageInterval) -> str | None:
    """Why the interval cannot be used at all, or None."""
    seconds = interval.interval_seconds
    if interval.started_at is None or seconds is None or seconds <= 0:
        return "no start or no positive length"
    ceiling = MAX_CHARGE_POWER_WATTS * seconds / 3600
    for value in (
        interval.energy_delivered_watt_hours,
        interval.meter_usage_watt_hours,
        interval.alt_usage_watt_hours,
    ):
        if value is not None and value < 0:
            return "negative energy"
        if value is not None and value > ceiling:
            return f"more energy than {MAX_CHARGE_POWER_WATTS // 1000} kW could deliver"
    return None


def _interval_values(
    interval: UsageInterval,
    currency: str | None,
    co2_grams_per_wh: Decimal | None,
) -> dict[Quantity, Decimal]:
    """Return the interval's values before the split into hours; a missing input skips one."""
    values: dict[Quantity, Decimal] = {}
    delivered = interval.energy_delivered_watt_hours
    price = interval.electricity_cost_sub_unit
    if delivered is not None:
        values[Quantity.ENERGY] = delivered / _KILO
        if co2_grams_per_wh is not None:
            values[Quantity.CO2] = delivered * co2_grams_per_wh / _KILO
    if interval.meter_usage_watt_hours is not None:
        values[Quantity.METER_ENERGY] = interval.meter_usage_watt_hours / _KILO
    if delivered is not None and price is not None and currency is not None:
        values[Quantity.COST] = minor_to_major(delivered * price / _KILO, currency)
        if interval.alt_usage_watt_hours is not None:
            saved = (interval.alt_usage_watt_hours - delivered) * price / _KILO
            values[Quantity.SAVINGS] = minor_to_major(saved, currency)
    return values


def _co2_per_wh(sub_session: ChargingSubSession, delivered_wh: int) -> Decimal | None:
    """Grams of CO2 per Wh delivered for this sub-session, if known."""
    if sub_session.co2_grams is not None and delivered_wh > 0:
        return Decimal(sub_session.co2_grams) / delivered_wh
    if sub_session.co2_intensity_grams_per_kilowatt_hour is not None:
        return sub_session.co2_intensity_grams_per_kilowatt_hour / _KILO
    return None


def _split(start: datetime, seconds: int) -> Iterable[tuple[datetime, Decimal]]:
    """Each UTC hour the interval overlaps, with the share of the interval inside it."""
    end = start + timedelta(seconds=seconds)
    cursor = start
    while cursor < end:
        hour = hour_start(cursor)
        piece_end = min(end, hour + HOUR)
        yield hour, Decimal((piece_end - cursor).total_seconds()) / seconds
        cursor = piece_end


def hourly_values(sub_session: ChargingSubSession, usage: EnergyUsage) -> SubSessionHours:
    """Turn a sub-session's energy usage intervals into per-hour amounts."""
    currency = usage.currency or sub_session.currency
    skipped: list[SkippedInterval] = []
    good: list[UsageInterval] = []
    for interval in usage.intervals:
        if (reason := _problem(interval)) is not None:
            skipped.append(SkippedInterval(interval.started_at, reason))
        else:
            good.append(interval)
    delivered_total = sum(i.energy_delivered_watt_hours or 0 for i in good)
    co2_per_wh = _co2_per_wh(sub_session, delivered_total)
    totals: dict[datetime, dict[Quantity, Decimal]] = {}
    for interval in good:
        # _problem() guarantees both are set.
        assert interval.started_at is not None
        assert interval.interval_seconds is not None
        values = _interval_values(interval, currency, co2_per_wh)
        for hour, share in _split(interval.started_at, interval.interval_seconds):
            hour_totals = totals.setdefault(hour, {})
            for quantity, value in values.items():
                hour_totals[quantity] = hour_totals.get(quantity, Decimal(0)) + value * share
    return SubSessionHours(
        hours={
            hour: {quantity: float(value) for quantity, value in values.items()}
            for hour, values in sorted(totals.items())
        },
        skipped=tuple(skipped),
    )


def columns(hours: HourlyValues, currency: str | None) -> dict[Series, dict[datetime, float]]:
    """Return the same amounts by series (money in `currency`): each series' hours."""
    by_series: dict[Series, dict[datetime, float]] = {}
    for hour, values in hours.items():
        for quantity, value in values.items():
            series = (quantity, currency if quantity in MONEY else None)
            by_series.setdefault(series, {})[hour] = value
    return by_series


def touched[K](*contributions: Mapping[K, Mapping[datetime, float]]) -> dict[K, set[datetime]]:
    """Every hour of each statistic that any of the contributions counts in.

    Given a sub-session's old and new contribution, these are the hours to restate: one the
    recalculation moved away from must go down too, not keep what it had.
    """
    hours: dict[K, set[datetime]] = {}
    for contribution in contributions:
        for key, amounts in contribution.items():
            hours.setdefault(key, set()).update(amounts)
    return hours


def hour_states[K](
    contributions: Iterable[Mapping[K, Mapping[datetime, float]]],
    hours: Mapping[K, Iterable[datetime]],
) -> dict[K, dict[datetime, float]]:
    """Each hour's amount per statistic: the sum of the contributions, 0 where none is left."""
    every = list(contributions)
    return {
        key: {hour: sum((c.get(key, {}).get(hour, 0.0) for c in every), 0.0) for hour in wanted}
        for key, wanted in hours.items()
    }


def restate(
    base_sum: float,
    recorded: Mapping[datetime, tuple[float, float]],
    states: Mapping[datetime, float],
) -> list[HourRow]:
    """Rows to write so the hours in `states` get those amounts and every sum stays right.

    `base_sum` is the running sum just before the earliest hour of `states`; `recorded` maps each
    hour already stored from that hour on to its (state, sum). Every later hour's sum shifts by
    the change, so it is rewritten too; rows that would not change are left out.
    """
    rows: list[HourRow] = []
    running = base_sum
    for hour in sorted(recorded.keys() | states.keys()):
        old = recorded.get(hour)
        state = states[hour] if hour in states else old[0] if old else 0.0
        running += state
        if old is None or not (_same(old[0], state) and _same(old[1], running)):
            rows.append(HourRow(hour, state, running))
    return rows


def _same(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))
