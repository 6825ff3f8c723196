"""A vehicle's charging plan: power-on slots with energy, cost and CO2 estimates.

ev.energy publishes the plan as half-hour instructions (a current in milliamps); this turns
them into merged slots and estimates what remains of them. Nothing here imports Home
Assistant.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Final

from .api import PriceSchedule, ScheduleInterval, ScheduleType

# Nominal single-phase voltage of home charging by country (ISO 3166-1 alpha-2). Europe and
# most of the world use 230 V; North American home chargers (Level 2) run at 240 V split
# phase, Japanese ones at 200 V.
NOMINAL_VOLTAGE: Final[dict[str, int]] = {"US": 240, "CA": 240, "MX": 220, "JP": 200}
DEFAULT_NOMINAL_VOLTAGE: Final = 230

_HOUR = Decimal(3600)
_THOUSAND = Decimal(1000)


class VoltageSource(StrEnum):
    """Where the voltage of the energy estimate comes from."""

    CHARGER = "charger"
    COUNTRY = "country"


class CarbonSource(StrEnum):
    """Which carbon intensity the CO2 estimate uses."""

    CURRENT = "current"


@dataclass(frozen=True, kw_only=True, slots=True)
class Voltage:
    """The voltage the energy estimate assumes, and why."""

    volts: Decimal
    source: VoltageSource


def plan_voltage(charger_millivolts: int | None, country_code: str | None) -> Voltage:
    """Return the charger's reported voltage where known, else the country's nominal voltage."""
    if charger_millivolts is not None and charger_millivolts > 0:
        return Voltage(volts=Decimal(charger_millivolts) / _THOUSAND, source=VoltageSource.CHARGER)
    nominal = NOMINAL_VOLTAGE.get((country_code or "").upper(), DEFAULT_NOMINAL_VOLTAGE)
    return Voltage(volts=Decimal(nominal), source=VoltageSource.COUNTRY)


@dataclass(frozen=True, kw_only=True, slots=True)
class PlanSlot:
    """A power-on period of the plan; `end` is None while it runs until ended (boost)."""

    start: datetime
    end: datetime | None
    current_milliamps: int
    type: ScheduleType | None


def merge_slots(
    intervals: Iterable[ScheduleInterval], not_before: datetime | None = None
) -> tuple[PlanSlot, ...]:
    """Power-on periods in time order, contiguous instructions of one current and type merged.

    An open-ended instruction lasts until the next instruction starts, if any does. Nothing
    starts before `not_before`, the start of the sub-session the plan is for: instructions are
    laid out in half-hours, so a boost begun at 23:26 is planned from 23:00.
    """
    ordered = sorted(intervals, key=lambda interval: interval.start)
    slots: list[PlanSlot] = []
    for index, interval in enumerate(ordered):
        end = interval.end
        following = ordered[index + 1].start if index + 1 < len(ordered) else None
        if following is not None and (end is None or end > following):
            end = following
        if interval.current_milliamps == 0 or (end is not None and end <= interval.start):
            continue
        previous = slots[-1] if slots else None
        if (
            previous is not None
            and previous.end == interval.start
            and previous.current_milliamps == interval.current_milliamps
            and previous.type == interval.schedule_type
        ):
            slots[-1] = PlanSlot(
                start=previous.start,
                end=end,
                current_milliamps=previous.current_milliamps,
                type=previous.type,
            )
        else:
            slots.append(
                PlanSlot(
                    start=interval.start,
                    end=end,
                    current_milliamps=interval.current_milliamps,
                    type=interval.schedule_type,
                )
            )
    if not_before is None:
        return tuple(slots)
    return tuple(
        replace(slot, start=max(slot.start, not_before))
        for slot in slots
        if slot.end is None or slot.end > not_before
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class SlotEstimate:
    """A slot (or what remains of it) with its estimated power, energy and cost.

    `energy_kwh` is None for an open-ended slot; `cost` is None unless prices cover the whole
    slot, and `price` is then its energy-weighted average.
    """

    start: datetime
    end: datetime | None
    type: ScheduleType | None
    power_w: Decimal
    energy_kwh: Decimal | None
    price: Decimal | None
    cost: Decimal | None
    priced_cost: Decimal
    unpriced_energy_kwh: Decimal | None


@dataclass(frozen=True, kw_only=True, slots=True)
class PlanTotals:
    """What remains of the plan from one instant.

    Unknown (None) figures: energy while a slot is open-ended, cost while prices do not cover
    all of it (`priced_cost` then covers the priced part), CO2 without a carbon intensity.
    """

    energy_kwh: Decimal | None
    cost: Decimal | None
    priced_cost: Decimal
    unpriced_energy_kwh: Decimal | None
    co2_kg: Decimal | None


class ChargePlan:
    """A vehicle's plan with the voltage, prices and carbon intensity to estimate it."""

    def __init__(
        self,
        slots: tuple[PlanSlot, ...],
        *,
        voltage: Voltage,
        prices: PriceSchedule,
        carbon_intensity: int | None,
    ) -> None:
        """Estimate `slots` at `voltage`, pricing them from `prices` (g/kWh for CO2)."""
        self.slots = slots
        self.voltage = voltage
        self.prices = prices
        self.carbon_intensity = carbon_intensity
        self.carbon_source = CarbonSource.CURRENT

    def active(self, now: datetime) -> PlanSlot | None:
        """Return the slot in progress at `now`."""
        return next(
            (
                slot
                for slot in self.slots
                if slot.start <= now and (slot.end is None or now < slot.end)
            ),
            None,
        )

    def upcoming(self, now: datetime) -> list[PlanSlot]:
        """Return the slots in progress or still to come at `now`."""
        return [slot for slot in self.slots if slot.end is None or slot.end > now]

    def next_start(self, now: datetime) -> datetime | None:
        """Return the start of the slot in progress, else of the next one."""
        upcoming = self.upcoming(now)
        return upcoming[0].start if upcoming else None

    def planned_end(self, now: datetime) -> datetime | None:
        """Return the end of the last remaining slot (None: nothing remains, or open-ended)."""
        upcoming = self.upcoming(now)
        return upcoming[-1].end if upcoming else None

    @property
    def ready_by(self) -> datetime | None:
        """The ready-by time, where the plan shows it: battery warming ends there."""
        ends = [
            slot.end
            for slot in self.slots
            if slot.type is ScheduleType.BATTERY_WARMING and slot.end is not None
        ]
        return max(ends) if ends else None

    def next_change(self, now: datetime) -> datetime | None:
        """Return the first slot boundary strictly after `now`."""
        boundaries = [
            instant
            for slot in self.slots
            for instant in (slot.start, slot.end)
            if instant is not None and instant > now
        ]
        return min(boundaries) if boundaries else None

    def power_w(self, slot: PlanSlot) -> Decimal:
        """Single-phase power: current x voltage."""
        return Decimal(slot.current_milliamps) / _THOUSAND * self.voltage.volts

    def estimate(self, slot: PlanSlot, since: datetime | None = None) -> SlotEstimate:
        """Estimate `slot`, or only its part after `since`."""
        start = max(slot.start, since) if since is not None else slot.start
        power = self.power_w(slot)
        if slot.end is None:
            return SlotEstimate(
                start=start,
                end=None,
                type=slot.type,
                power_w=power,
                energy_kwh=None,
                price=None,
                cost=None,
                priced_cost=Decimal(0),
                unpriced_energy_kwh=None,
            )
        kw = power / _THOUSAND
        energy = kw * Decimal((slot.end - start).total_seconds()) / _HOUR
        priced_cost = Decimal(0)
        priced_energy = Decimal(0)
        # Coverage in exact microseconds: energies summed from parts can miss the whole by a
        # rounding residue (a slot starting at a sub-session's odd instant), which is no gap.
        covered = timedelta()
        for interval in self.prices.between(start, slot.end):
            overlap = min(interval.end, slot.end) - max(interval.start, start)
            covered += overlap
            part = kw * Decimal(overlap.total_seconds()) / _HOUR
            priced_energy += part
            priced_cost += part * interval.price
        complete = covered >= slot.end - start
        unpriced = Decimal(0) if complete else energy - priced_energy
        return SlotEstimate(
            start=start,
            end=slot.end,
            type=slot.type,
            power_w=power,
            energy_kwh=energy,
            price=priced_cost / energy if complete and energy else None,
            cost=priced_cost if complete else None,
            priced_cost=priced_cost,
            unpriced_energy_kwh=max(unpriced, Decimal(0)),
        )

    def remaining(self, now: datetime) -> list[SlotEstimate]:
        """Estimates of what remains of each slot from `now`."""
        return [self.estimate(slot, now) for slot in self.upcoming(now)]

    def totals(self, now: datetime) -> PlanTotals:
        """Totals of what remains of the plan from `now`."""
        remaining = self.remaining(now)
        energies = [estimate.energy_kwh for estimate in remaining]
        energy = None if None in energies else sum((e for e in energies if e), Decimal(0))
        unpriced_parts = [estimate.unpriced_energy_kwh for estimate in remaining]
        unpriced = (
            None if None in unpriced_parts else sum((u for u in unpriced_parts if u), Decimal(0))
        )
        priced_cost = sum((estimate.priced_cost for estimate in remaining), Decimal(0))
        return PlanTotals(
            energy_kwh=energy,
            cost=priced_cost if unpriced == 0 else None,
            priced_cost=priced_cost,
            unpriced_energy_kwh=unpriced,
            co2_kg=(
                energy * self.carbon_intensity / _THOUSAND
                if energy is not None and self.carbon_intensity is not None
                else None
            ),
        )
