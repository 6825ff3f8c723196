"""A share of the hourly request limit for the slower per-car reads. No Home Assistant here.

Plans (one request per plugged-in car, every 30 minutes) and session pages (one per 50 cars)
grow with the fleet; the live poll does not, much. Their share is what is left of the live
poll's guard (half the limit) once the live poll at its fastest pace, the connectivity reads
and a small reserve are counted, so a large fleet stretches its plan and session reads
rather than slowing the live poll. A small fleet never reaches it.
"""

from __future__ import annotations

from collections import deque
import math
from typing import Final, NamedTuple

from .api import PAGE_SIZE

HOUR: Final = 3600.0
# Spread: at most half of the hourly share in any 5 minutes.
SLICE: Final = 300.0
SLICE_SHARE: Final = 0.5


def live_requests_per_poll(vehicles: int, chargers: int) -> int:
    """Pages of vehicles, and of chargers when there are any, that one live poll reads."""
    pages = max(1, math.ceil(vehicles / PAGE_SIZE))
    return pages + (math.ceil(chargers / PAGE_SIZE) if chargers else 0)


def slow_reads_per_hour(
    *,
    guard: float,
    live_per_poll: int,
    fastest_pace: float,
    connectivity_per_hour: int,
    reserve: int,
    minimum: int,
) -> int:
    """Return the slower reads' requests an hour: what the guard leaves, at least `minimum`.

    `guard` is the hourly count above which the live poll slows down; `fastest_pace` its
    shortest interval in seconds.
    """
    live = live_per_poll * HOUR / fastest_pace
    return max(minimum, math.floor(guard - live - connectivity_per_hour - reserve))


class SlowReadShares(NamedTuple):
    """Requests an hour for session pages and for plan reads, each at least 1."""

    sessions: int
    plans: int


def split_slow_reads(per_hour: int, sessions_share: float) -> SlowReadShares:
    """Give the sessions `sessions_share` of the slower reads and the plans the rest."""
    sessions = math.floor(per_hour * sessions_share)
    return SlowReadShares(sessions=max(1, sessions), plans=max(1, per_hour - sessions))


class ReadBudget:
    """The requests spent on one kind of slower read, and what is left of its share.

    Within any rolling hour at most `per_hour` are spent, and within any 5 minutes at most
    half of that (a read larger than that goes through once nothing was spent for an hour).
    Times are monotonic seconds.
    """

    def __init__(self) -> None:
        """Start with nothing spent."""
        self._spent: deque[float] = deque()

    def _forget(self, now: float) -> None:
        while self._spent and self._spent[0] <= now - HOUR:
            self._spent.popleft()

    def allowance(self, now: float, per_hour: int) -> int:
        """How many single-request reads may be sent now."""
        self._forget(now)
        in_slice = sum(1 for at in self._spent if at > now - SLICE)
        return max(0, min(per_hour - len(self._spent), _slice_cap(per_hour) - in_slice))

    def allows(self, now: float, per_hour: int, count: int) -> bool:
        """Whether a read of `count` requests may be sent now."""
        self._forget(now)
        return self._allows_at(now, per_hour, count)

    def spend(self, now: float, count: int) -> None:
        """Note `count` requests sent at `now`."""
        self._spent.extend([now] * count)

    def wait(self, now: float, per_hour: int, count: int) -> float:
        """Seconds until a read of `count` requests is allowed (0: now)."""
        self._forget(now)
        # Allowances only grow as spent requests leave the 5-minute and the hourly window.
        candidates = sorted(
            {now, *(at + SLICE for at in self._spent), *(at + HOUR for at in self._spent)}
        )
        # Once the last request spent has left the hour, any read is allowed.
        return next(
            at - now for at in candidates if at >= now and self._allows_at(at, per_hour, count)
        )

    def _allows_at(self, at: float, per_hour: int, count: int) -> bool:
        spent = [t for t in self._spent if t > at - HOUR]
        if count > _slice_cap(per_hour):
            return not spent
        in_slice = sum(1 for t in spent if t > at - SLICE)
        return min(per_hour - len(spent), _slice_cap(per_hour) - in_slice) >= count


def _slice_cap(per_hour: int) -> int:
    return min(per_hour, math.ceil(per_hour * SLICE_SHARE))
