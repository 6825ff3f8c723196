"""The charging plan's pure logic: slots, power, energy, cost and CO2 (no Home Assistant)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from custom_components.ev_energy.api import (
    EvEnergyResponseError,
    PriceInterval,
    PriceSchedule,
    ScheduleInterval,
    ScheduleType,
)
from custom_components.ev_energy.plan import (
    ChargePlan,
    PlanSlot,
    Voltage,
    VoltageSource,
    merge_slots,
    plan_voltage,
)

HALF_HOUR = timedelta(minutes=30)
V230 = Voltage(volts=Decimal(230), source=VoltageSource.COUNTRY)


def interval(
    start: str, current: int = 32000, seconds: int | None = 1800, kind: str = "SMART"
) -> ScheduleInterval:
    """Parse an interval the way the API sends it."""
    return ScheduleInterval.from_api(
        {
            "started_at": start,
            "interval_seconds": seconds,
            "current_milliamps": current,
            "schedule_type": kind,
        }
    )


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def plan(
    intervals: list[ScheduleInterval],
    prices: list[PriceInterval] | None = None,
    intensity: int | None = 100,
) -> ChargePlan:
    return ChargePlan(
        merge_slots(intervals),
        voltage=V230,
        prices=PriceSchedule(prices or []),
        carbon_intensity=intensity,
    )


def flat_prices(start: str, hours: int, price: str) -> list[PriceInterval]:
    first = at(start)
    return [
        PriceInterval(first + k * HALF_HOUR, first + (k + 1) * HALF_HOUR, Decimal(price))
        for k in range(hours * 2)
    ]


def test_empty_plan() -> None:
    charge_plan = plan([])
    now = at("2026-11-22T10:10:00Z")
    assert charge_plan.slots == ()
    assert charge_plan.active(now) is None
    assert charge_plan.next_start(now) is None
    assert charge_plan.planned_end(now) is None
    assert charge_plan.next_change(now) is None
    assert charge_plan.ready_by is None
    totals = charge_plan.totals(now)
    assert (totals.energy_kwh, totals.cost, totals.co2_kg) == (Decimal(0),) * 3


def test_power_off_intervals_are_no_slots() -> None:
    charge_plan = plan(
        [
            interval("2026-11-22T23:00:00Z", current=0),
            interval("2026-11-22T23:30:00Z"),
            interval("2026-11-23T00:00:00Z", current=0),
            interval("2026-11-23T00:30:00Z"),
        ]
    )
    assert [(s.start, s.end) for s in charge_plan.slots] == [
        (at("2026-11-22T23:30:00Z"), at("2026-11-23T00:00:00Z")),
        (at("2026-11-23T00:30:00Z"), at("2026-11-23T01:00:00Z")),
    ]


def test_nothing_starts_before_the_sub_session() -> None:
    """A sub-session begun at 23:26: its 23:00 half-hour is cut, an earlier slot dropped."""
    slots = merge_slots(
        [
            interval("2026-11-22T22:30:00Z"),
            interval("2026-11-22T23:00:00Z", current=0),
            interval("2026-11-22T23:00:00Z", seconds=None, kind="BOOST"),
        ],
        not_before=at("2026-11-22T23:26:00Z"),
    )
    assert [(slot.start, slot.end, slot.type) for slot in slots] == [
        (at("2026-11-22T23:26:00Z"), None, ScheduleType.BOOST)
    ]


def test_boost_is_one_open_ended_slot() -> None:
    charge_plan = plan(
        [interval("2026-11-22T10:00:00Z", seconds=None, kind="BOOST")],
        flat_prices("2026-11-22T10:00:00Z", 4, "0.20"),
    )
    now = at("2026-11-22T10:10:00Z")
    assert charge_plan.slots == (
        PlanSlot(
            start=at("2026-11-22T10:00:00Z"),
            end=None,
            current_milliamps=32000,
            type=ScheduleType.BOOST,
        ),
    )
    assert charge_plan.active(now) is charge_plan.slots[0]
    assert charge_plan.active(now + timedelta(days=2)) is charge_plan.slots[0]
    assert charge_plan.next_start(now) == at("2026-11-22T10:00:00Z")
    assert charge_plan.planned_end(now) is None
    assert charge_plan.next_change(now) is None
    (estimate,) = charge_plan.remaining(now)
    assert estimate.start == now
    assert estimate.end is None
    assert estimate.power_w == Decimal(7360)
    assert (estimate.energy_kwh, estimate.cost, estimate.price) == (None, None, None)
    totals = charge_plan.totals(now)
    assert (totals.energy_kwh, totals.cost, totals.co2_kg) == (None, None, None)


def test_open_ended_interval_ends_where_the_next_starts() -> None:
    charge_plan = plan(
        [
            interval("2026-11-22T10:00:00Z", seconds=None, kind="BOOST"),
            interval("2026-11-22T11:00:00Z", current=0),
        ]
    )
    assert [(s.start, s.end) for s in charge_plan.slots] == [
        (at("2026-11-22T10:00:00Z"), at("2026-11-22T11:00:00Z"))
    ]


def test_unknown_schedule_type_is_still_planned(caplog: pytest.LogCaptureFixture) -> None:
    charge_plan = plan(
        [
            interval("2026-11-22T23:00:00Z", kind="QUANTUM_CHARGE"),
            interval("2026-11-22T23:30:00Z", kind="QUANTUM_CHARGE"),
        ]
    )
    assert [(s.start, s.end, s.type) for s in charge_plan.slots] == [
        (at("2026-11-22T23:00:00Z"), at("2026-11-23T00:00:00Z"), None)
    ]
    assert "QUANTUM_CHARGE" in caplog.text


def test_slots_merge_only_same_current_and_type() -> None:
    charge_plan = plan(
        [
            interval("2026-11-22T01:00:00Z"),
            interval("2026-11-22T01:30:00Z", current=16000),
            interval("2026-11-22T02:00:00Z", current=16000, kind="BATTERY_WARMING"),
        ]
    )
    assert [(s.current_milliamps, s.type) for s in charge_plan.slots] == [
        (32000, ScheduleType.SMART),
        (16000, ScheduleType.SMART),
        (16000, ScheduleType.BATTERY_WARMING),
    ]
    assert charge_plan.ready_by == at("2026-11-22T02:30:00Z")


def test_plan_across_midnight() -> None:
    charge_plan = plan(
        [interval(f"2026-11-2{day}T{hm}:00Z") for day, hm in ((2, "23:00"), (2, "23:30"))]
        + [interval(f"2026-11-23T{hm}:00Z") for hm in ("00:00", "00:30")],
        flat_prices("2026-11-22T22:00:00Z", 4, "0.10"),
    )
    now = at("2026-11-22T20:00:00Z")
    (slot,) = charge_plan.slots
    assert (slot.start, slot.end) == (at("2026-11-22T23:00:00Z"), at("2026-11-23T01:00:00Z"))
    assert charge_plan.next_start(now) == slot.start
    assert charge_plan.planned_end(now) == slot.end
    assert charge_plan.next_change(now) == slot.start
    assert charge_plan.next_change(slot.start) == slot.end
    totals = charge_plan.totals(now)
    # 32 A x 230 V = 7.36 kW for 2 h, at 10p/kWh and 100 g/kWh.
    assert totals.energy_kwh == Decimal("14.72")
    assert totals.cost == Decimal("1.472")
    assert totals.co2_kg == Decimal("1.472")


def test_remaining_counts_only_what_is_left_of_the_slot_in_progress() -> None:
    charge_plan = plan(
        [interval("2026-11-22T10:00:00Z"), interval("2026-11-22T10:30:00Z")],
        flat_prices("2026-11-22T10:00:00Z", 1, "0.24"),
    )
    now = at("2026-11-22T10:15:00Z")
    (estimate,) = charge_plan.remaining(now)
    assert (estimate.start, estimate.end) == (now, at("2026-11-22T11:00:00Z"))
    assert estimate.energy_kwh == Decimal("5.52")  # 7.36 kW x 45 min
    assert estimate.price == Decimal("0.24")
    assert estimate.cost == Decimal("1.3248")
    assert charge_plan.active(now) is charge_plan.slots[0]
    assert charge_plan.active(at("2026-11-22T11:00:00Z")) is None


@pytest.mark.parametrize(
    ("starts", "hours"),
    [
        # Autumn: 01:00-02:00 local happens twice; four half-hours are two hours, not one.
        (
            [
                "2026-10-25T01:00:00+01:00",
                "2026-10-25T01:30:00+01:00",
                "2026-10-25T01:00:00+00:00",
                "2026-10-25T01:30:00+00:00",
            ],
            2,
        ),
        # Spring: 01:30 GMT is followed by 02:00 BST (local 01:00-02:00 never happens).
        (["2026-03-29T00:30:00+00:00", "2026-03-29T02:00:00+01:00"], 1),
    ],
)
def test_plan_across_a_dst_change(starts: list[str], hours: int) -> None:
    charge_plan = plan([interval(start) for start in starts])
    (slot,) = charge_plan.slots
    assert slot.end is not None
    assert slot.end - slot.start == timedelta(hours=hours)
    totals = charge_plan.totals(slot.start)
    assert totals.energy_kwh == Decimal("7.36") * hours


def test_cost_with_partial_price_coverage() -> None:
    # Tomorrow's prices are not published yet: only the first half-hour is priced.
    charge_plan = plan(
        [interval("2026-11-22T22:30:00Z"), interval("2026-11-22T23:00:00Z")],
        [PriceInterval(at("2026-11-22T22:30:00Z"), at("2026-11-22T23:00:00Z"), Decimal("0.2"))],
    )
    now = at("2026-11-22T20:00:00Z")
    (estimate,) = charge_plan.remaining(now)
    assert estimate.cost is None
    assert estimate.price is None
    assert estimate.priced_cost == Decimal("0.736")
    assert estimate.unpriced_energy_kwh == Decimal("3.68")
    totals = charge_plan.totals(now)
    assert totals.energy_kwh == Decimal("7.36")
    assert totals.cost is None
    assert totals.priced_cost == Decimal("0.736")
    assert totals.unpriced_energy_kwh == Decimal("3.68")


def test_a_slot_from_an_odd_instant_is_fully_priced() -> None:
    """Now (or a sub-session's start) falls mid-interval, to the microsecond: still priced.

    Energies summed from the parts miss the whole by a rounding residue there, no real gap.
    """
    charge_plan = plan(
        [interval("2026-11-22T02:00:00Z", seconds=3 * 3600)],
        flat_prices("2026-11-22T02:00:00Z", 4, "0.07"),
    )
    now = at("2026-11-22T02:29:13.123457Z")
    (estimate,) = charge_plan.remaining(now)
    assert estimate.cost is not None
    assert estimate.unpriced_energy_kwh == 0
    totals = charge_plan.totals(now)
    assert totals.cost is not None
    assert totals.energy_kwh is not None
    assert abs(totals.cost - totals.energy_kwh * Decimal("0.07")) < Decimal("1e-9")


def test_no_carbon_intensity_no_co2() -> None:
    charge_plan = plan([interval("2026-11-22T23:00:00Z")], intensity=None)
    assert charge_plan.totals(at("2026-11-22T20:00:00Z")).co2_kg is None


@pytest.mark.parametrize(
    ("millivolts", "country", "volts", "source"),
    [
        (239800, "GB", Decimal("239.8"), VoltageSource.CHARGER),
        (None, "GB", Decimal(230), VoltageSource.COUNTRY),
        (None, "ie", Decimal(230), VoltageSource.COUNTRY),
        (0, "US", Decimal(240), VoltageSource.COUNTRY),
        (None, "JP", Decimal(200), VoltageSource.COUNTRY),
        (None, None, Decimal(230), VoltageSource.COUNTRY),
    ],
)
def test_voltage(
    millivolts: int | None, country: str | None, volts: Decimal, source: VoltageSource
) -> None:
    assert plan_voltage(millivolts, country) == Voltage(volts=volts, source=source)


@pytest.mark.parametrize(
    "raw",
    [
        [],
        {"interval_seconds": 1800, "current_milliamps": 32000},
        {"started_at": "2026-11-22T10:00:00", "current_milliamps": 32000},
        {"started_at": "2026-11-22T10:00:00Z", "current_milliamps": -1},
        {"started_at": "2026-11-22T10:00:00Z", "current_milliamps": True},
        {"started_at": "2026-11-22T10:00:00Z", "current_milliamps": 1, "interval_seconds": 0},
        {"started_at": "2026-11-22T10:00:00Z", "current_milliamps": 1, "interval_seconds": "1"},
        {"started_at": "9999-12-31T23:00:00Z", "current_milliamps": 1, "interval_seconds": 7200},
    ],
)
def test_unusable_interval(raw: Any) -> None:
    with pytest.raises(EvEnergyResponseError):
        ScheduleInterval.from_api(raw)
