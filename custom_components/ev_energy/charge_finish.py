"""When a charging car will be full: its time to full counted from the status's sample time.

The arithmetic is in UTC, so a daylight-saving change before the finish shifts nothing. A car
revises its estimate a little with every report; the time shown moves only when a new estimate
is more than a few minutes away, so it does not jitter from poll to poll. Nothing here imports
Home Assistant.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from .api import VehicleStatus

# Hours to the thousandth: 3.6 s steps, well inside the half minute the reading leaves.
_HOURS_PLACES: Final = 3

# A new estimate this close to the time shown keeps it.
FINISH_TOLERANCE: Final = timedelta(minutes=5)
_HALF_MINUTE: Final = timedelta(seconds=30)


def finish_estimate(status: VehicleStatus | None) -> datetime | None:
    """Return the sample time plus the minutes to full, to the minute; None unless charging."""
    if (
        status is None
        or status.is_charging is not True
        or status.minutes_to_full_charge is None
        or status.minutes_to_full_charge < 0
        or status.sampled_at is None
    ):
        return None
    try:
        finish = status.sampled_at + timedelta(minutes=status.minutes_to_full_charge)
        return (finish + _HALF_MINUTE).replace(second=0, microsecond=0)
    except OverflowError:
        # Beyond what a date-time can hold: no time to show.
        return None


def steady_finish(shown: datetime | None, estimate: datetime | None) -> datetime | None:
    """Return the time to show: the one shown while `estimate` stays within the tolerance."""
    if estimate is None:
        return None
    if shown is not None and abs(estimate - shown) <= FINISH_TOLERANCE:
        return shown
    return estimate


def time_to_full_hours(minutes: int | None) -> float | None:
    """Return the reported whole minutes to full in hours, as the frontend reads them back.

    The frontend shows a duration in hours as floor(h) h and floor(60 x fraction) min, so m/60
    itself reads a minute short whenever it is not exact in binary (219 min: 3.6499... h,
    "3h 38m"). The middle of the reported minute reads as that minute in every case. A
    negative time to full is no estimate.
    """
    if minutes is None or minutes < 0:
        return None
    return round((minutes + 0.5) / 60, _HOURS_PLACES)
