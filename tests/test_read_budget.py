"""The slower reads' share of the hourly limit (pure logic, no Home Assistant)."""

from __future__ import annotations

from custom_components.ev_energy.read_budget import (
    ReadBudget,
    SlowReadShares,
    live_requests_per_poll,
    slow_reads_per_hour,
    split_slow_reads,
)


def _share(vehicles: int, chargers: int) -> int:
    """The share as the integration computes it for a fleet (limit 1000, guard at 500)."""
    return slow_reads_per_hour(
        guard=500,
        live_per_poll=live_requests_per_poll(vehicles, chargers),
        fastest_pace=60,
        connectivity_per_hour=min(chargers, 60),
        reserve=20,
        minimum=12,
    )


def test_live_requests_per_poll() -> None:
    """A page per 100 vehicles, and per 100 chargers when there are any."""
    assert live_requests_per_poll(2, 0) == 1
    assert live_requests_per_poll(2, 2) == 2
    assert live_requests_per_poll(100, 100) == 2
    assert live_requests_per_poll(300, 300) == 6
    assert live_requests_per_poll(0, 0) == 1


def test_the_share_is_what_the_live_poll_leaves() -> None:
    """Small fleets get room to spare; 300x300 what the 60 s pace leaves; never below 12."""
    assert _share(2, 2) == 500 - 120 - 2 - 20
    assert _share(100, 100) == 500 - 120 - 60 - 20
    assert _share(300, 300) == 500 - 360 - 60 - 20
    assert _share(500, 500) == 12


def _hour_of_plan_reads(cars: int, per_hour: int, step: float = 60.0) -> list[float]:
    """Each car wants its plan every 30 minutes; a tick every `step` s reads what is allowed.

    Returns the times of the reads over two hours (frozen clock, stepped by hand).
    """
    budget = ReadBudget()
    due = dict.fromkeys(range(cars), 0.0)
    reads: list[float] = []
    now = 0.0
    while now < 7200:
        waiting = sorted((at, car) for car, at in due.items() if at <= now)
        for _, car in waiting[: budget.allowance(now, per_hour)]:
            budget.spend(now, 1)
            reads.append(now)
            due[car] = now + 1800
        now += step
    return reads


def _max_in_window(times: list[float], window: float) -> int:
    return max(sum(1 for t in times if start <= t < start + window) for start in times)


def test_300_cars_stay_within_the_share_and_spread() -> None:
    """300 cars wanting 600 plan reads an hour get the share, never more in any hour."""
    per_hour = round(_share(300, 300) * 2 / 3)
    reads = _hour_of_plan_reads(300, per_hour)
    assert per_hour == 40
    assert _max_in_window(reads, 3600) == per_hour
    assert _max_in_window(reads, 300) <= 20
    # ...and they keep coming: two hours hold two hours' share.
    assert len(reads) == 2 * per_hour


def test_a_small_fleet_reads_every_plan_on_time() -> None:
    """2 cars: every plan at once, then every 30 minutes: 4 an hour, nothing held back."""
    reads = _hour_of_plan_reads(2, round(_share(2, 2) * 2 / 3))
    assert [t for t in reads if t < 3600] == [0.0, 0.0, 1800.0, 1800.0]


def test_100_cars_plug_in_reads_all_plans_at_once() -> None:
    """100 cars plugged in at once: all 100 plans read in the first minute."""
    reads = _hour_of_plan_reads(100, round(_share(100, 100) * 2 / 3))
    assert sum(1 for t in reads if t == 0.0) == 100


def test_a_read_of_several_pages_waits_for_room() -> None:
    """A 7-page sessions read with 20 an hour: 2 fit in 5 minutes... then the hour decides."""
    budget = ReadBudget()
    assert budget.allows(0, 20, 7)
    budget.spend(0, 7)
    assert not budget.allows(0, 20, 7)  # 14 > 10 in 5 minutes
    assert budget.wait(0, 20, 7) == 300
    budget.spend(300, 7)
    assert budget.wait(300, 20, 7) == 3300  # 21 > 20 in the hour: when the first 7 leave
    assert budget.allows(3600, 20, 7)


def test_a_read_larger_than_the_slice_goes_when_the_hour_is_empty() -> None:
    """30 pages with a share of 12: never all within the caps, so once an hour at most."""
    budget = ReadBudget()
    assert budget.allows(0, 12, 30)
    budget.spend(0, 30)
    assert not budget.allows(1800, 12, 30)
    assert budget.wait(1800, 12, 30) == 1800


def test_sessions_get_a_third_and_plans_the_rest() -> None:
    """The 300x300 share of 60 splits 20 / 40; neither side is ever left with nothing."""
    assert split_slow_reads(60, 1 / 3) == SlowReadShares(sessions=20, plans=40)
    assert split_slow_reads(12, 1 / 3) == SlowReadShares(sessions=4, plans=8)
    assert split_slow_reads(10, 1 / 3) == SlowReadShares(sessions=3, plans=7)
    assert split_slow_reads(2, 1 / 3) == SlowReadShares(sessions=1, plans=2)
