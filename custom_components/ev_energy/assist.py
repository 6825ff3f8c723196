"""What the Assist tools answer with, from data already fetched. Imports no Home Assistant.

Cars are found by the name a user says (the device's name or its area's, any case), statuses
are explained in a sentence with what to do, and prices are summarised per hour.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from .api import PriceSchedule
from .plan import ChargePlan
from .status import ChargingStatus

_HOUR: Final = timedelta(hours=1)
_SECONDS_PER_HOUR: Final = Decimal(3600)


@dataclass(frozen=True, kw_only=True, slots=True)
class CarName:
    """The names a user may call a car by."""

    name: str
    area: str | None = None


class CarNotFoundError(Exception):
    """No car, or more than one, goes by the name asked for."""

    def __init__(self, message: str, cars: list[str]) -> None:
        """Say what went wrong and which cars there are."""
        super().__init__(message)
        self.cars = cars


def _spoken(name: str) -> str:
    return " ".join(name.split()).casefold()


def find_car[CarT: CarName](query: str, cars: Sequence[CarT]) -> CarT:
    """Return the car called `query`: by its name first, else by its area's name.

    Case and extra spaces do not matter. No match, or several, raise CarNotFoundError
    listing the cars to choose from.
    """
    asked = _spoken(query)
    for names in (
        [car for car in cars if _spoken(car.name) == asked],
        [car for car in cars if car.area is not None and _spoken(car.area) == asked],
    ):
        if len(names) == 1:
            return names[0]
        if names:
            choices = sorted(car.name for car in names)
            raise CarNotFoundError(
                f'"{query.strip()}" could be any of {", ".join(choices)}: ask which one.', choices
            )
    everyone = sorted(car.name for car in cars)
    raise CarNotFoundError(
        f'No car is called "{query.strip()}". The cars are: {", ".join(everyone) or "none"}.',
        everyone,
    )


# Why a car is (not) charging, and what the user can do about it.
STATUS_HINTS: Final[dict[ChargingStatus | None, tuple[str, str]]] = {
    ChargingStatus.VEHICLE_DISCONNECTED: (
        "ev.energy has lost its connection to the car, usually after a password change at the "
        "car maker.",
        "Reconnect the car in the ev.energy app, or fix the car's repair in Home Assistant.",
    ),
    ChargingStatus.CHARGER_OFFLINE: (
        "The charger has not reported for over 30 minutes, or reports no power.",
        "Check the charger's power supply and its Wi-Fi or mobile signal.",
    ),
    ChargingStatus.NOT_PLUGGED_IN: ("The car is not plugged in.", "Plug it in."),
    ChargingStatus.CHARGING_BOOST: (
        "The car is charging now in a boost, whatever the price.",
        "Nothing; turn Boost off to go back to smart charging.",
    ),
    ChargingStatus.CHARGING: ("The car is charging.", "Nothing."),
    ChargingStatus.COMPLETE: (
        "The car reached its own target charge level.",
        "Nothing; raise the target in the car's app to charge more.",
    ),
    ChargingStatus.LIMIT_REACHED: (
        "The battery is at or above ev.energy's charge limit.",
        "Nothing; raise the charge limit to charge more.",
    ),
    ChargingStatus.WAITING_FOR_PLANNED_SLOT: (
        "The car is plugged in and waiting for its next planned charging slot.",
        "Nothing; turn Boost on to charge now.",
    ),
    ChargingStatus.SMART_CHARGING_OFF_NOT_CHARGING: (
        "Smart charging is off and the car is not charging: charging is up to the car and charger.",
        "Turn smart charging on to let ev.energy plan it, or check the car's own schedule.",
    ),
    None: (
        "What ev.energy reports does not say why.",
        "Check the car and the charger, and the ev.energy app.",
    ),
}


def energy_until(plan: ChargePlan, now: datetime, until: datetime) -> Decimal:
    """Return the kWh the plan delivers from `now` until `until` (a boost runs on until then)."""
    total = Decimal(0)
    for slot in plan.upcoming(now):
        start, end = max(slot.start, now), min(slot.end or until, until)
        if end > start:
            hours = Decimal((end - start).total_seconds()) / _SECONDS_PER_HOUR
            total += plan.power_w(slot) / 1000 * hours
    return total


@dataclass(frozen=True, kw_only=True, slots=True)
class ReadyByCheck:
    """Whether the plan charges the car to its limit by the ready-by time (kWh, before losses)."""

    needed_kwh: Decimal
    planned_kwh: Decimal

    @property
    def reaches_limit(self) -> bool:
        """Whether the planned energy covers what the battery needs."""
        return self.planned_kwh >= self.needed_kwh


def ready_by_check(
    plan: ChargePlan,
    now: datetime,
    *,
    state_of_charge: int | None,
    limit: int | None,
    battery_watt_hours: int | None,
) -> ReadyByCheck | None:
    """Compare the energy planned before the ready-by time with what the battery needs.

    None when any of them is unknown (the plan shows the ready-by time only before battery
    warming).
    """
    ready_by = plan.ready_by
    if ready_by is None or state_of_charge is None or limit is None or not battery_watt_hours:
        return None
    missing = max(limit - state_of_charge, 0)
    return ReadyByCheck(
        needed_kwh=Decimal(battery_watt_hours) * missing / 100 / 1000,
        planned_kwh=energy_until(plan, now, ready_by),
    )


def hourly_prices(
    schedule: PriceSchedule, start: datetime, end: datetime, places: int = 4
) -> list[dict[str, Any]]:
    """Return the hours of [start, end) with a known price, as spans of equal prices.

    Each hour's price is its time-weighted average; neighbouring hours of one price are merged,
    so a flat or banded tariff takes a few entries and a half-hourly one at most one an hour.
    """
    spans: list[dict[str, Any]] = []
    hour = start
    while hour < end:
        following = min(hour + _HOUR, end)
        if (summary := schedule.summary(hour, following)) is not None:
            price = float(round(summary[2], places))
            if spans and spans[-1]["end"] == hour and spans[-1]["price"] == price:
                spans[-1]["end"] = following
            else:
                spans.append({"start": hour, "end": following, "price": price})
        hour = following
    return spans
