"""The pure hourly split of energy usage intervals: hours, money, CO2, bad data, restating."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from custom_components.ev_energy.api import ChargingSubSession, EnergyUsage
from custom_components.ev_energy.energy_history import (
    HourRow,
    Quantity,
    columns,
    hour_states,
    hourly_values,
    restate,
    touched,
)

E, M, C, S, CO2 = (
    Quantity.ENERGY,
    Quantity.METER_ENERGY,
    Quantity.COST,
    Quantity.SAVINGS,
    Quantity.CO2,
)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Override the package-wide autouse fixture: this module needs no `hass`."""


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _sub(**overrides: Any) -> ChargingSubSession:
    data: dict[str, Any] = {
        "id": "csub01HSH04KDEWF6Z4DB2J77J7AA1",
        "vehicle": "https://api.ev.energy/v2/vehicles/vhcl01HRFF3SEVSCRAV9B3CHVDFN0H",
        "start": "2026-11-21T21:00:00Z",
        "end": "2026-11-22T07:00:00Z",
        "mode": "SMART",
        "currency": "GBP",
        "total_co2_grams": None,
        "co2_intensity_grams_per_kilowatt_hour": None,
        **overrides,
    }
    return ChargingSubSession.from_api(data)


def _interval(start: str, seconds: int = 1800, wh: int | None = 3500, **fields: Any) -> Any:
    return {
        "started_at": start,
        "interval_seconds": seconds,
        "total_energy_delivered_watt_hours": wh,
        "meter_usage_watt_hours": fields.pop("meter", None),
        "alt_usage_watt_hours": fields.pop("alt", None),
        "percentage_import": fields.pop("percentage_import", 100),
        "electricity_cost_sub_unit": fields.pop("price", "7.5"),
        **fields,
    }


def _usage(*intervals: Any, currency: str | None = "GBP") -> EnergyUsage:
    return EnergyUsage.from_api(
        {"currency": currency, "intervals": list(intervals), "last_updated_at": None}
    )


def _column(hours: dict[datetime, dict[Quantity, float]], quantity: Quantity) -> dict[str, float]:
    return {
        hour.strftime("%d %H:%M"): round(values[quantity], 9)
        for hour, values in hours.items()
        if quantity in values
    }


def test_overnight_session_lands_hour_by_hour_across_midnight() -> None:
    """Half-hour intervals from 22:30 to 02:00 go to their own UTC hours, either side of 00:00."""
    start = _utc("2026-11-21T22:30:00Z")
    intervals = [
        _interval((start + timedelta(minutes=30 * k)).isoformat(), wh=3500, price="7.5")
        for k in range(7)
    ]
    result = hourly_values(_sub(), _usage(*intervals))
    assert _column(result.hours, E) == {
        "21 22:00": 3.5,
        "21 23:00": 7.0,
        "22 00:00": 7.0,
        "22 01:00": 7.0,
    }
    # 7 kWh x 7.5 p/kWh = 52.5 p = GBP 0.525 a full hour.
    assert _column(result.hours, C) == {
        "21 22:00": 0.2625,
        "21 23:00": 0.525,
        "22 00:00": 0.525,
        "22 01:00": 0.525,
    }
    assert result.skipped == ()


def test_interval_crossing_an_hour_is_split_in_proportion_to_time() -> None:
    """A 30-minute interval from 10:45 puts a half in 10:00 and a half in 11:00, money too."""
    result = hourly_values(
        _sub(),
        _usage(_interval("2026-11-22T10:45:00Z", wh=3000, meter=3300, alt=1000, price="20")),
    )
    assert _column(result.hours, E) == {"22 10:00": 1.5, "22 11:00": 1.5}
    assert _column(result.hours, M) == {"22 10:00": 1.65, "22 11:00": 1.65}
    assert _column(result.hours, C) == {"22 10:00": 0.3, "22 11:00": 0.3}
    # Savings: (alt 1000 - delivered 3000) Wh x 20 p/kWh = -40 p, split in halves.
    assert _column(result.hours, S) == {"22 10:00": -0.2, "22 11:00": -0.2}


def test_uneven_split_of_a_long_merged_interval() -> None:
    """A merged 90-minute interval from 10:40 splits 20:60:10 over three hours."""
    result = hourly_values(_sub(), _usage(_interval("2026-11-22T10:40:00Z", 5400, wh=9000)))
    assert _column(result.hours, E) == {"22 10:00": 2.0, "22 11:00": 6.0, "22 12:00": 1.0}


def test_dst_night_keeps_the_repeated_local_hour_apart() -> None:
    """On the night clocks go back in London, the two local 01:00 hours are two UTC hours."""
    london = ZoneInfo("Europe/London")
    first = datetime(2026, 10, 25, 1, 0, tzinfo=london, fold=0)  # 00:00 UTC (BST)
    second = datetime(2026, 10, 25, 1, 0, tzinfo=london, fold=1)  # 01:00 UTC (GMT)
    assert (first.isoformat(), second.isoformat()) == (
        "2026-10-25T01:00:00+01:00",
        "2026-10-25T01:00:00+00:00",
    )
    result = hourly_values(
        _sub(),
        _usage(
            _interval(first.isoformat(), 3600, wh=7000),
            _interval(second.isoformat(), 3600, wh=5000),
            _interval("2026-10-25T01:30:00+00:00", 3600, wh=2000),
        ),
    )
    assert _column(result.hours, E) == {"25 00:00": 7.0, "25 01:00": 6.0, "25 02:00": 1.0}


def test_savings_of_a_smart_session_add_up_to_the_counterfactual_difference() -> None:
    """Charging later at 5p instead of now at 30p: the hours' savings sum to the difference."""
    result = hourly_values(
        _sub(),
        _usage(
            _interval("2026-11-22T17:00:00Z", 3600, wh=0, alt=7000, price="30"),
            _interval("2026-11-22T02:00:00Z", 3600, wh=7000, alt=0, price="5"),
        ),
    )
    savings = _column(result.hours, S)
    assert savings == {"22 02:00": -0.35, "22 17:00": 2.1}
    assert sum(savings.values()) == pytest.approx(2.1 - 0.35)
    assert _column(result.hours, C) == {"22 02:00": 0.35, "22 17:00": 0.0}


@pytest.mark.parametrize(("currency", "cost"), [("JPY", 52.5), ("KWD", 0.0525), ("GBP", 0.525)])
def test_cost_is_in_major_units_of_the_currency(currency: str, cost: float) -> None:
    """The price is in minor units; the statistic is in major units of the currency."""
    result = hourly_values(
        _sub(currency=currency),
        _usage(_interval("2026-11-22T01:00:00Z", 3600, wh=7000), currency=currency),
    )
    assert _column(result.hours, C) == {"22 01:00": cost}


def test_sub_session_currency_is_used_when_energy_usage_names_none() -> None:
    """EnergyUsage.currency is optional; the sub-session's currency applies then."""
    result = hourly_values(
        _sub(currency="JPY"), _usage(_interval("2026-11-22T01:00:00Z", 3600), currency=None)
    )
    assert _column(result.hours, C) == {"22 01:00": 26.25}


def test_co2_shares_the_sub_session_total_by_energy() -> None:
    """The sub-session's total CO2 is shared over the hours by energy delivered."""
    result = hourly_values(
        _sub(total_co2_grams=1000, co2_intensity_grams_per_kilowatt_hour=999),
        _usage(
            _interval("2026-11-22T01:00:00Z", 3600, wh=6000),
            _interval("2026-11-22T02:00:00Z", 3600, wh=2000),
        ),
    )
    assert _column(result.hours, CO2) == {"22 01:00": 0.75, "22 02:00": 0.25}


def test_co2_from_the_average_intensity_when_no_total() -> None:
    """Without a total, the sub-session's average intensity x energy (g -> kg)."""
    result = hourly_values(
        _sub(co2_intensity_grams_per_kilowatt_hour=150),
        _usage(_interval("2026-11-22T01:00:00Z", 3600, wh=6000)),
    )
    assert _column(result.hours, CO2) == {"22 01:00": 0.9}


def test_no_co2_without_any_intensity() -> None:
    """Nothing is made up: no intensity, no CO2 value (energy is still there)."""
    result = hourly_values(_sub(), _usage(_interval("2026-11-22T01:00:00Z", 3600, wh=6000)))
    assert _column(result.hours, CO2) == {}
    assert _column(result.hours, E) == {"22 01:00": 6.0}


def test_null_fields_skip_only_their_values() -> None:
    """A null price drops cost and savings; null meter or alt drops only that value."""
    result = hourly_values(
        _sub(),
        _usage(
            _interval("2026-11-22T01:00:00Z", 3600, wh=1000, meter=1100, alt=None, price=None),
            _interval("2026-11-22T02:00:00Z", 3600, wh=None, meter=2200, alt=500),
            _interval("2026-11-22T03:00:00Z", 3600, wh=3000, meter=None, alt=3000, price="10"),
        ),
    )
    assert _column(result.hours, E) == {"22 01:00": 1.0, "22 03:00": 3.0}
    assert _column(result.hours, M) == {"22 01:00": 1.1, "22 02:00": 2.2}
    assert _column(result.hours, C) == {"22 03:00": 0.3}
    assert _column(result.hours, S) == {"22 03:00": 0.0}
    assert result.skipped == ()


def test_missing_currency_skips_money_only() -> None:
    """Without any currency there is no cost or savings, but energy is kept."""
    result = hourly_values(
        _sub(currency=None), _usage(_interval("2026-11-22T01:00:00Z", 3600), currency=None)
    )
    assert _column(result.hours, E) == {"22 01:00": 3.5}
    assert _column(result.hours, C) == {}


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (_interval("2026-11-22T02:00:00Z", 3600, wh=-5), "negative energy"),
        (_interval("2026-11-22T02:00:00Z", 3600, wh=100, meter=-1), "negative energy"),
        (_interval("2026-11-22T02:00:00Z", 3600, wh=100, alt=-1), "negative energy"),
        # 30 minutes at 350 kW is 175 kWh: one Wh more is impossible.
        (_interval("2026-11-22T02:00:00Z", 1800, wh=175_001), "350 kW"),
        (_interval("2026-11-22T02:00:00Z", 1800, wh=0, alt=10**9), "350 kW"),
        (_interval("2026-11-22T02:00:00Z", 0, wh=10), "no positive length"),
        (_interval("2026-11-22T02:00:00Z", -1800, wh=10), "no positive length"),
        (_interval("not a time", 1800, wh=10), "no start"),
        ({"total_energy_delivered_watt_hours": 10}, "no start"),
    ],
)
def test_bad_intervals_are_skipped_whole_and_reported(bad: Any, reason: str) -> None:
    """A negative, impossible or unplaceable interval is left out; good neighbours are kept."""
    result = hourly_values(
        _sub(total_co2_grams=100),
        _usage(_interval("2026-11-22T01:00:00Z", 3600, wh=1000), bad),
    )
    assert _column(result.hours, E) == {"22 01:00": 1.0}
    # The bad interval's energy does not dilute the CO2 share either.
    assert _column(result.hours, CO2) == {"22 01:00": 0.1}
    (skipped,) = result.skipped
    assert reason in skipped.reason


def test_a_full_rate_interval_is_not_absurd() -> None:
    """Exactly what 350 kW delivers in the interval is still accepted."""
    result = hourly_values(_sub(), _usage(_interval("2026-11-22T02:00:00Z", 1800, wh=175_000)))
    assert result.skipped == ()
    assert _column(result.hours, E) == {"22 02:00": 175.0}


def test_garbage_payload_gives_no_hours() -> None:
    """Intervals that are not objects, or no interval list at all, give nothing and no error."""
    assert hourly_values(_sub(), EnergyUsage.from_api({"intervals": [1, "x", None]})).hours == {}
    assert hourly_values(_sub(), EnergyUsage.from_api({"intervals": "nope"})).hours == {}


H = [datetime(2026, 11, 22, hour, tzinfo=UTC) for hour in range(6)]


def test_restate_new_hours_after_the_last_recorded() -> None:
    """New hours continue the running sum from the base."""
    assert restate(10.0, {}, {H[1]: 2.0, H[2]: 3.0}) == [
        HourRow(H[1], 2.0, 12.0),
        HourRow(H[2], 3.0, 15.0),
    ]


def test_restate_a_revised_hour_shifts_every_later_sum() -> None:
    """Revising hour 1 rewrites it and every later hour's sum; earlier ones are untouched."""
    recorded = {H[1]: (2.0, 12.0), H[2]: (3.0, 15.0), H[4]: (1.0, 16.0)}
    assert restate(10.0, recorded, {H[1]: 2.5}) == [
        HourRow(H[1], 2.5, 12.5),
        HourRow(H[2], 3.0, 15.5),
        HourRow(H[4], 1.0, 16.5),
    ]


def test_restate_the_same_values_writes_nothing() -> None:
    """Re-importing what is recorded changes no row (idempotent)."""
    recorded = {H[1]: (2.0, 12.0), H[2]: (3.0, 15.0)}
    assert restate(10.0, recorded, {H[1]: 2.0, H[2]: 3.0}) == []


def test_restate_an_hour_between_recorded_ones() -> None:
    """A new hour inside the recorded range is inserted and later sums shift."""
    recorded = {H[1]: (2.0, 12.0), H[3]: (3.0, 15.0)}
    assert restate(10.0, recorded, {H[1]: 2.0, H[2]: 1.0}) == [
        HourRow(H[2], 1.0, 13.0),
        HourRow(H[3], 3.0, 16.0),
    ]


def test_a_recalculation_restates_the_hours_it_left_to_zero() -> None:
    """6 kWh at 01:00 recalculated to 5 kWh at 00:00: both hours restated, 01:00 to 0.

    The new contribution has no cost: the cost its old one counted goes to 0 as well.
    """
    old = columns({H[1]: {E: 6.0, C: 0.6}}, "GBP")
    new = columns({H[0]: {E: 5.0}}, "GBP")
    hours = touched(old, new)
    assert hours == {(E, None): {H[0], H[1]}, (C, "GBP"): {H[1]}}
    other = columns({H[1]: {E: 1.0}, H[3]: {E: 2.0}}, "GBP")
    assert hour_states([new, other], hours) == {
        (E, None): {H[0]: 5.0, H[1]: 1.0},  # what the other sub-session put in 01:00 stays
        (C, "GBP"): {H[1]: 0.0},
    }


def test_money_in_two_currencies_is_never_added_up() -> None:
    """Cost and savings count per currency; energy and CO2 whatever the currency."""
    gbp = columns({H[1]: {E: 2.0, C: 0.4, S: 0.1, CO2: 0.2}}, "GBP")
    eur = columns({H[1]: {E: 3.0, C: 1.5, S: 0.5}}, "EUR")
    hours = touched(gbp, eur)
    assert hour_states([gbp, eur], hours) == {
        (E, None): {H[1]: 5.0},
        (CO2, None): {H[1]: 0.2},
        (C, "GBP"): {H[1]: 0.4},
        (S, "GBP"): {H[1]: 0.1},
        (C, "EUR"): {H[1]: 1.5},
        (S, "EUR"): {H[1]: 0.5},
    }


def test_a_currency_changed_by_a_recalculation_leaves_zero_in_the_old_one() -> None:
    """Billed again in GBP instead of EUR: its EUR hours go to 0, the GBP ones take the cost."""
    old = columns({H[2]: {E: 3.0, C: 1.5}}, "EUR")
    new = columns({H[2]: {E: 3.0, C: 1.3}}, "GBP")
    assert hour_states([new], touched(old, new)) == {
        (E, None): {H[2]: 3.0},
        (C, "EUR"): {H[2]: 0.0},
        (C, "GBP"): {H[2]: 1.3},
    }
