"""Overlapping price intervals and bands: who wins where, and that nothing else is lost."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from itertools import pairwise, permutations
import random
from zoneinfo import ZoneInfo

import pytest

from custom_components.ev_energy.api.prices import (
    PriceInterval,
    PriceSchedule,
    intervals_from_bands,
    parse_daily_prices,
)

LONDON = ZoneInfo("Europe/London")
BASE = datetime(2026, 11, 22, tzinfo=UTC)

# DailyPrices of the spec's TariffDetail example (checked against the spec in test_spec.py):
# mid_peak runs 10:00 -> 08:00 next day, under both of the shorter bands.
SPEC_DAILY_PRICES = {
    "peak": {"price": "0.30", "times": [{"start": "18:00:00", "end": "00:00:00"}]},
    "mid_peak": {"price": "0.20", "times": [{"start": "10:00:00", "end": "08:00:00"}]},
    "off_peak": {"price": "0.10", "times": [{"start": "08:00:00", "end": "18:00:00"}]},
}


def _at(hour: float) -> datetime:
    return BASE + timedelta(hours=hour)


def _iv(start: float, end: float, price: int) -> PriceInterval:
    return PriceInterval(_at(start), _at(end), Decimal(price))


def _spans(schedule: PriceSchedule) -> list[tuple[datetime, datetime, Decimal]]:
    return [(i.start, i.end, i.price) for i in schedule.intervals]


def _expected_spec_price(local: datetime) -> Decimal:
    if local.hour < 8:
        return Decimal("0.20")
    return Decimal("0.10") if local.hour < 18 else Decimal("0.30")


@pytest.mark.parametrize(
    "day",
    [date(2026, 11, 22), date(2027, 3, 28), date(2026, 10, 25)],
    ids=["ordinary", "spring-forward", "fall-back"],
)
@pytest.mark.parametrize(("before", "days"), [(0, 1), (1, 3)], ids=["one-day", "three-days"])
def test_spec_example_prices_every_minute(day: date, before: int, days: int) -> None:
    """Every minute of every laid-out London day has the band its local clock is in.

    Shorter bands win where they overlap mid_peak, so mid_peak is left with 00:00-08:00,
    which comes from the previous day's 10:00 -> 08:00: the first day needs it too.
    """
    first_day = day - timedelta(days=before)
    schedule = PriceSchedule(
        intervals_from_bands(parse_daily_prices(SPEC_DAILY_PRICES), LONDON, first_day, days)
    )
    start = datetime.combine(first_day, time(), LONDON).astimezone(UTC)
    end = datetime.combine(first_day + timedelta(days=days), time(), LONDON).astimezone(UTC)
    assert schedule.intervals[0].start == start
    assert schedule.known_until == end
    minute = start
    while minute < end:
        interval = schedule.at(minute)
        assert interval is not None, minute
        assert interval.price == _expected_spec_price(minute.astimezone(LONDON)), minute
        minute += timedelta(minutes=1)
    # Only real price changes remain: 00:00, 08:00 and 18:00 local each day.
    assert len(schedule.intervals) == 3 * days


def test_nested_interval_overrides_only_its_span() -> None:
    """A shorter interval inside a longer one wins there; the longer resumes after it.

    Whatever the input order; an interval merely adjacent to another is neither cut nor
    merged with it, even at the same price.
    """
    long, short, neighbour = _iv(10, 14, 1), _iv(11, 12, 2), _iv(14, 15, 1)
    expected = [
        (_at(10), _at(11), Decimal(1)),
        (_at(11), _at(12), Decimal(2)),
        (_at(12), _at(14), Decimal(1)),
        (_at(14), _at(15), Decimal(1)),
    ]
    for order in permutations([long, short, neighbour]):
        assert _spans(PriceSchedule(order)) == expected

    schedule = PriceSchedule([long, short, neighbour])
    assert schedule.next_change(_at(10.5)) == _at(11)
    assert schedule.next_change(_at(11.5)) == _at(12)
    assert schedule.next_change(_at(12.5)) == _at(14)
    following = schedule.following(_at(11.5))
    assert following is not None
    assert (following.start, following.price) == (_at(12), Decimal(1))
    assert schedule.summary(_at(10), _at(14)) == (Decimal(1), Decimal(2), Decimal("1.25"))
    window = schedule.cheapest_window(timedelta(hours=2), _at(10), _at(14))
    assert window is not None
    assert (window.start, window.end, window.average) == (_at(12), _at(14), Decimal(1))


def test_identical_duplicates() -> None:
    """Repeats of an interval change nothing; of identical spans, the one given last wins."""
    long, short = _iv(10, 14, 1), _iv(11, 12, 2)
    assert _spans(PriceSchedule([long, long, short, short, long])) == [
        (_at(10), _at(11), Decimal(1)),
        (_at(11), _at(12), Decimal(2)),
        (_at(12), _at(14), Decimal(1)),
    ]
    assert _spans(PriceSchedule([long, _iv(10, 14, 5)])) == [(_at(10), _at(14), Decimal(5))]


@pytest.mark.parametrize(
    "covers",
    [
        [_iv(10, 12, 2), _iv(12, 14, 3)],
        [_iv(9, 11, 2), _iv(11, 13, 3), _iv(13, 15, 4)],
    ],
    ids=["exactly", "overhanging"],
)
def test_interval_covered_by_several_shorter_ones(covers: list[PriceInterval]) -> None:
    """A long interval wholly under shorter ones leaves no trace; none of them is lost."""
    for order in permutations([_iv(10, 14, 9), *covers]):
        assert _spans(PriceSchedule(order)) == [(i.start, i.end, i.price) for i in covers]


def test_partial_overlap_precedence() -> None:
    """Partly overlapping: the shorter wins the overlap; of equal lengths, the later start."""
    assert _spans(PriceSchedule([_iv(10, 12, 1), _iv(11, 14, 2)])) == [
        (_at(10), _at(12), Decimal(1)),
        (_at(12), _at(14), Decimal(2)),
    ]
    assert _spans(PriceSchedule([_iv(11, 13, 2), _iv(10, 12, 1)])) == [
        (_at(10), _at(11), Decimal(1)),
        (_at(11), _at(13), Decimal(2)),
    ]


def _winner(intervals: list[PriceInterval], when: datetime) -> Decimal | None:
    """The documented rule, checked instant by instant."""
    covering = [(n, i) for n, i in enumerate(intervals) if i.start <= when < i.end]
    if not covering:
        return None
    _, best = min(covering, key=lambda c: (c[1].end - c[1].start, -c[1].start.timestamp(), -c[0]))
    return best.price


def test_random_overlaps_match_the_rule() -> None:
    """Any mix of overlaps gives sorted, disjoint intervals that price each minute by the rule."""
    rng = random.Random(20261122)  # noqa: S311  # reproducible, not secret
    for _ in range(400):
        intervals = []
        for _ in range(rng.randint(1, 7)):
            start = rng.randint(0, 16)
            intervals.append(
                PriceInterval(
                    _at(start / 4),
                    _at((start + rng.randint(1, 10)) / 4),
                    Decimal(rng.randint(1, 4)),
                )
            )
        schedule = PriceSchedule(intervals)
        pieces = schedule.intervals
        assert all(a.end <= b.start for a, b in pairwise(pieces))
        assert all(p.start < p.end for p in pieces)
        for quarter in range(-1, 30):
            when = _at(quarter / 4)
            found = schedule.at(when)
            assert (found.price if found else None) == _winner(intervals, when), intervals


@pytest.mark.parametrize(
    "day",
    [date(2026, 11, 22), date(2027, 3, 28), date(2026, 10, 25)],
    ids=["ordinary", "spring-forward", "fall-back"],
)
def test_band_precedence_ignores_dst(day: date) -> None:
    """Bands rank by their length on the clock: a DST change that shortens or lengthens one
    band's day does not hand the overlap to the other band."""
    bands = parse_daily_prices(
        {
            "peak": {"price": "0.30", "times": [{"start": "00:00:00", "end": "06:00:00"}]},
            "off_peak": {"price": "0.10", "times": [{"start": "03:00:00", "end": "09:00:00"}]},
        }
    )
    schedule = PriceSchedule(intervals_from_bands(bands, LONDON, day, 1))
    assert [(i.start.astimezone(LONDON).hour, i.price) for i in schedule.intervals] == [
        (0, Decimal("0.30")),
        (3, Decimal("0.10")),
    ]
