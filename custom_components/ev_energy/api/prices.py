"""Tariff price intervals: from the price list, or built from a rate tariff's daily bands."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Context, Decimal, InvalidOperation
from heapq import heappop, heappush
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from .currency import minor_to_major

_AVERAGE_QUANTUM = Decimal("0.000001")
_WIDE = Context(prec=100)


@dataclass(frozen=True, slots=True)
class PriceInterval:
    """A price (major currency units per kWh) valid from `start` (inclusive) to `end`."""

    start: datetime
    end: datetime
    price: Decimal


@dataclass(frozen=True, slots=True)
class RateBand:
    """One band of a rate tariff (peak, mid_peak or off_peak): a price and local times."""

    name: str
    price: Decimal
    times: tuple[tuple[time, time], ...]


@dataclass(frozen=True, slots=True)
class PriceWindow:
    """A contiguous period and its time-weighted average price."""

    start: datetime
    end: datetime
    average: Decimal


def parse_instant(value: object) -> datetime | None:
    """Return an ISO 8601 instant in UTC, or None (not a string, naive, or out of range)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
        # Near year 1 or 9999 an offset can push the instant out of datetime's range.
        return parsed.astimezone(UTC) if parsed.tzinfo is not None else None
    except (ValueError, OverflowError):
        return None


def intervals_from_api(items: Iterable[object], currency: str) -> list[PriceInterval]:
    """Parse Price items (`started_at`, `interval_seconds`, `price_minor_units`).

    Items that cannot be read are skipped: one bad interval must not hide the rest.
    """
    intervals = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        start = parse_instant(item.get("started_at"))
        seconds = item.get("interval_seconds")
        price = item.get("price_minor_units")
        if (
            start is None
            or not isinstance(seconds, int)
            or isinstance(seconds, bool)
            or seconds <= 0
            or not isinstance(price, int)
            or isinstance(price, bool)
        ):
            continue
        try:
            end = start + timedelta(seconds=seconds)
        except OverflowError:  # the spec sets no maximum on interval_seconds
            continue
        intervals.append(PriceInterval(start, end, minor_to_major(price, currency)))
    return intervals


def _clock(value: object) -> time | None:
    """Parse a band's local "HH:MM:SS"; one with an offset is not a local time."""
    if not isinstance(value, str):
        return None
    try:
        parsed = time.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is None else None


def parse_daily_prices(raw: object) -> tuple[RateBand, ...]:
    """Parse DailyPrices: prices are major-unit strings ("0.10"), times local "HH:MM:SS"."""
    if not isinstance(raw, Mapping):
        return ()
    bands = []
    for name in ("peak", "mid_peak", "off_peak"):
        summary = raw.get(name)
        if not isinstance(summary, Mapping):
            continue
        try:
            price = Decimal(str(summary.get("price")))
        except InvalidOperation:
            continue
        if not price.is_finite():
            continue
        times = []
        periods = summary.get("times")
        for period in periods if isinstance(periods, list) else ():
            if isinstance(period, Mapping):
                start, end = _clock(period.get("start")), _clock(period.get("end"))
                if start is not None and end is not None:
                    times.append((start, end))
        bands.append(RateBand(name, price, tuple(times)))
    return tuple(bands)


def intervals_from_bands(
    bands: Iterable[RateBand], timezone: ZoneInfo, first_day: date, days: int
) -> list[PriceInterval]:
    """Lay a rate tariff's daily bands over `days` local days, correct across DST changes.

    A period whose end is not after its start runs past midnight (e.g. 18:00-00:00), so the
    day before is laid out too, for what its periods bring to the first day. Where periods
    overlap, the shorter on the clock wins for its own span (as PriceSchedule does, but by
    local length, so a DST change never alters which band wins); equal lengths go to the
    later start, then to the band listed later. The result is disjoint and clipped to the days.
    """
    ranked = []
    for offset in range(-1, days):
        day = first_day + timedelta(days=offset)
        for band in bands:
            for start_time, end_time in band.times:
                end_day = day if end_time > start_time else day + timedelta(days=1)
                local_start = datetime.combine(day, start_time, timezone)
                local_end = datetime.combine(end_day, end_time, timezone)
                start, end = local_start.astimezone(UTC), local_end.astimezone(UTC)
                if end > start:
                    # Aware datetimes in one zone subtract as wall-clock times.
                    ranked.append((PriceInterval(start, end, band.price), local_end - local_start))
    window_start, window_end = (
        datetime.combine(first_day + timedelta(days=n), time(), timezone).astimezone(UTC)
        for n in (0, days)
    )
    return [
        PriceInterval(max(i.start, window_start), min(i.end, window_end), i.price)
        for i in _flatten(ranked)
        if i.end > window_start and i.start < window_end
    ]


def _flatten(ranked: Iterable[tuple[PriceInterval, timedelta]]) -> list[PriceInterval]:
    """Disjoint intervals in time order: at each instant, the covering interval of least length.

    `ranked` pairs each interval with the length it is ranked by; on equal lengths the later
    start wins, then the interval given later. A loser is cut only where a winner lies over
    it and resumes after. Neighbouring intervals stay apart even at one price.
    """
    items = sorted(enumerate(ranked), key=lambda item: (item[1][0].start, item[0]))
    bounds = sorted({t for _, (interval, _) in items for t in (interval.start, interval.end)})
    # Heap of (length, -position in start order, interval): its top is the winner.
    active: list[tuple[timedelta, int, PriceInterval]] = []
    pieces: list[tuple[int, datetime, datetime, Decimal]] = []
    position = 0
    for left, right in pairwise(bounds):
        while position < len(items) and items[position][1][0].start <= left:
            interval, length = items[position][1]
            heappush(active, (length, -position, interval))
            position += 1
        while active and active[0][2].end <= left:
            heappop(active)
        if not active:
            continue
        _, winner, interval = active[0]
        if pieces and pieces[-1][0] == winner and pieces[-1][2] == left:
            pieces[-1] = (winner, pieces[-1][1], right, interval.price)
        else:
            pieces.append((winner, left, right, interval.price))
    return [PriceInterval(start, end, price) for _, start, end, price in pieces]


class PriceSchedule:
    """Non-overlapping price intervals in time order, with the look-ups entities need."""

    def __init__(self, intervals: Iterable[PriceInterval] = ()) -> None:
        """Sort the intervals and resolve overlaps, the most specific price winning.

        Where intervals overlap, the shorter wins for its own span and the longer resumes
        around it (a half-hour price inside a daily one); of equal lengths the later start
        wins (a shifted republication), and of identical spans the one given later.
        """
        self.intervals: tuple[PriceInterval, ...] = tuple(
            _flatten((interval, interval.end - interval.start) for interval in intervals)
        )
        self._starts = [interval.start for interval in self.intervals]

    def __eq__(self, other: object) -> bool:
        """Compare by the intervals, so an unchanged price list is no update."""
        if not isinstance(other, PriceSchedule):
            return NotImplemented
        return self.intervals == other.intervals

    __hash__ = None  # type: ignore[assignment]

    def __bool__(self) -> bool:
        """Return True when any price is known."""
        return bool(self.intervals)

    @property
    def known_until(self) -> datetime | None:
        """End of the last known interval."""
        return self.intervals[-1].end if self.intervals else None

    def at(self, when: datetime) -> PriceInterval | None:
        """Return the interval containing `when`, if known."""
        index = bisect_right(self._starts, when) - 1
        if index >= 0 and when < self.intervals[index].end:
            return self.intervals[index]
        return None

    def following(self, when: datetime) -> PriceInterval | None:
        """Return the first interval after the one containing `when` (or after `when`)."""
        current = self.at(when)
        after = current.end if current is not None else when
        index = bisect_right(self._starts, after - timedelta(microseconds=1))
        return self.intervals[index] if index < len(self.intervals) else None

    def next_change(self, when: datetime) -> datetime | None:
        """Return the first interval boundary strictly after `when`."""
        index = bisect_right(self._starts, when)
        candidates = [self.intervals[index].start] if index < len(self.intervals) else []
        if (current := self.at(when)) is not None:
            candidates.append(current.end)
        return min(candidates) if candidates else None

    def between(self, start: datetime, end: datetime) -> list[PriceInterval]:
        """Intervals overlapping [start, end)."""
        return [i for i in self.intervals if i.end > start and i.start < end]

    def summary(self, start: datetime, end: datetime) -> tuple[Decimal, Decimal, Decimal] | None:
        """(min, max, time-weighted average) of the known prices in [start, end)."""
        parts = self.between(start, end)
        if not parts:
            return None
        seconds = Decimal(0)
        weighted = Decimal(0)
        for interval in parts:
            length = Decimal((min(interval.end, end) - max(interval.start, start)).total_seconds())
            seconds += length
            weighted += interval.price * length
        prices = [interval.price for interval in parts]
        # Micro-units are finer than any tariff quotes and keep states readable; the wide
        # context keeps even absurdly large prices from overflowing the rounding.
        average = (weighted / seconds).quantize(_AVERAGE_QUANTUM, context=_WIDE)
        return min(prices), max(prices), average

    def cheapest_window(
        self, duration: timedelta, earliest: datetime, latest_end: datetime
    ) -> PriceWindow | None:
        """Return the cheapest fully priced `duration` within [earliest, latest_end].

        Cheapest means the lowest time-weighted average; on a tie the earliest window wins.
        None when no such window is known.
        """
        if duration <= timedelta(0):
            return None
        candidates = {earliest} | {
            i.start for i in self.intervals if earliest <= i.start <= latest_end - duration
        }
        best: PriceWindow | None = None
        for start in sorted(candidates):
            end = start + duration
            if end > latest_end or not self._covered(start, end):
                continue
            summary = self.summary(start, end)
            assert summary is not None
            if best is None or summary[2] < best.average:
                best = PriceWindow(start, end, summary[2])
        return best

    def _covered(self, start: datetime, end: datetime) -> bool:
        cursor = start
        for interval in self.between(start, end):
            if interval.start > cursor:
                return False
            cursor = max(cursor, interval.end)
        return cursor >= end

    def as_list(self, start: datetime | None = None, end: datetime | None = None) -> list[Any]:
        """JSON-ready `[{start, end, price}]` of the intervals overlapping [start, end)."""
        chosen = (
            self.intervals
            if start is None and end is None
            else self.between(
                start or datetime.min.replace(tzinfo=UTC), end or datetime.max.replace(tzinfo=UTC)
            )
        )
        return [
            {"start": i.start.isoformat(), "end": i.end.isoformat(), "price": float(i.price)}
            for i in chosen
        ]
