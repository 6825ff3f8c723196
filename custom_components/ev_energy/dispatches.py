"""A vehicle's charging as Octopus-style dispatches, for optimisers such as Predbat.

The Octopus Energy integration lists a car's charging slots in the attributes
`planned_dispatches` and `completed_dispatches` of its intelligent dispatching sensor, and
Predbat (and tools built for it) read a car's slots from there. These build the same shape
from ev.energy's plan and recent sessions. Nothing here imports Home Assistant.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Final

from .api import ChargingMode, ChargingSession, ScheduleType
from .plan import ChargePlan

SMART_CHARGE: Final = "smart-charge"
BUMP_CHARGE: Final = "bump-charge"
# Predbat counts a dispatch only without a location or AT_HOME (the Octopus API's value).
AT_HOME: Final = "AT_HOME"
# Completed dispatches: sub-sessions that ended this long ago at most.
COMPLETED_WINDOW: Final = timedelta(hours=24)

# Modes of charging at home: a boost, and unmanaged charging (at once, whatever the price),
# are the Octopus integration's bump charges. Charging on the go is not at home: left out.
_HOME_SOURCES: Final = {
    ChargingMode.SMART: SMART_CHARGE,
    ChargingMode.BOOST: BUMP_CHARGE,
    ChargingMode.UNMANAGED_HOME: BUMP_CHARGE,
}

type Dispatch = dict[str, str | float]


def _instant(value: datetime) -> str:
    # Predbat parses these with strptime("%Y-%m-%dT%H:%M:%S%z"): no fractional seconds.
    return value.astimezone(UTC).isoformat(timespec="seconds")


def _dispatch(start: datetime, end: datetime, energy_kwh: Decimal, source: str) -> Dispatch:
    return {
        "start": _instant(start),
        "end": _instant(end),
        "charge_in_kwh": float(round(energy_kwh, 3)),
        "source": source,
        "location": AT_HOME,
    }


def planned_dispatches(plan: ChargePlan, now: datetime) -> list[Dispatch]:
    """Return the slots in progress or ahead, each whole, so they do not move between polls.

    A boost has no end, so it is left out (Predbat's `car_charging_now` covers a charge in
    progress); so is a V2G discharge, which charges nothing.
    """
    dispatches: list[Dispatch] = []
    for slot in plan.upcoming(now):
        estimate = plan.estimate(slot)
        if (
            estimate.end is None
            or estimate.energy_kwh is None
            or slot.type is ScheduleType.V2G_DISCHARGE
        ):
            continue
        source = BUMP_CHARGE if slot.type is ScheduleType.BOOST else SMART_CHARGE
        dispatches.append(_dispatch(slot.start, estimate.end, estimate.energy_kwh, source))
    return dispatches


def completed_dispatches(
    sessions: Iterable[ChargingSession], vehicle_id: str, now: datetime
) -> list[Dispatch]:
    """Return the sub-sessions at home that ended in the last 24 hours and delivered energy.

    A sub-session is a stretch in one mode, not only the time power flowed: its energy is
    spread over the whole stretch. The one still open is the plan's, not yet completed.
    """
    since = now - COMPLETED_WINDOW
    ended = sorted(
        (
            (sub.start, sub.end, sub.energy_watt_hours, source)
            for session in sessions
            if session.vehicle_id == vehicle_id
            for sub in session.sub_sessions
            if sub.start is not None
            and sub.end is not None
            and since < sub.end <= now
            and sub.energy_watt_hours
            and sub.energy_watt_hours > 0
            and (source := _HOME_SOURCES.get(sub.mode) if sub.mode else None) is not None
        ),
        key=lambda found: found[0],
    )
    return [
        _dispatch(start, end, Decimal(watt_hours) / 1000, source)
        for start, end, watt_hours, source in ended
    ]


def completed_expiry(completed: Iterable[Dispatch]) -> datetime | None:
    """Return when the oldest of these completed dispatches leaves the 24-hour list."""
    ends = [datetime.fromisoformat(str(dispatch["end"])) for dispatch in completed]
    return min(ends) + COMPLETED_WINDOW if ends else None
