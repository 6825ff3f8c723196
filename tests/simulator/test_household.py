"""The household meter: the house's load plus the home charging, hour by hour, with its cost."""

from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest

from simulator import SimClock, SimulatorServer, World
from simulator.demo import HOUSEHOLD_METER, household_history
from simulator.household import Household

from .conftest import EVSE, START, Client

WEEK = 7 * 24


async def household(client: Client, hours: int = WEEK) -> dict[str, Any]:
    return await client.admin("GET", f"/_sim/household?hours={hours}")  # type: ignore[no-any-return]


async def admin_status(client: Client, path: str) -> int:
    async with client.session.get(client.base_url + path) as response:
        return response.status


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _slots_between(sim: SimulatorServer, start: datetime, end: datetime) -> float:
    """Energy the sessions delivered in the half-hour slots starting in [start, end)."""
    return sum(
        wh
        for session in sim.world.sessions
        for sub in session.subs
        for key, wh in sub.slots.items()
        if start <= _at(key) < end
    )


async def test_hours_add_up_to_the_meter(sim: SimulatorServer, client: Client) -> None:
    """Each hour's house load plus charging is what the meter advanced; the charger's is in it."""
    sim.clock.advance(20 * 60)
    view = await household(client)
    hours = view["hours"]
    assert len(hours) == WEEK + 1
    assert _at(hours[-1]["start"]) == START
    assert _at(hours[-1]["end"]) == _at(view["now"]) == START + timedelta(minutes=20)
    assert _at(hours[0]["start"]) == START - timedelta(hours=WEEK)
    assert hours[-1]["meter_wh"] == view["meter_wh"]
    assert hours[-1]["charger_meter_wh"] == view["charger_meter_wh"] == {EVSE: 1234567 + 2400}
    for earlier, later in pairwise(hours):
        assert _at(later["start"]) == _at(earlier["end"])
        assert _at(earlier["end"]) - _at(earlier["start"]) == timedelta(hours=1)
        advanced = later["meter_wh"] - earlier["meter_wh"]
        assert advanced == pytest.approx(later["house_wh"] + later["charging_wh"])
        charger = later["charger_meter_wh"][EVSE] - earlier["charger_meter_wh"][EVSE]
        assert charger == pytest.approx(later["charging_wh"])
        assert later["charging_wh"] == pytest.approx(
            _slots_between(sim, _at(later["start"]), _at(later["end"]))
        )
        assert 100 < later["house_wh"] < 2000
    # The scenario's three past sessions and the 20 minutes the Tesla has charged since.
    assert sum(hour["charging_wh"] for hour in hours) == pytest.approx(70_500 + 2400)
    assert 7_000 < sum(hour["house_wh"] for hour in hours[:-1]) / 7 < 15_000


async def test_cost_is_each_half_hours_energy_at_its_price(
    sim: SimulatorServer, client: Client
) -> None:
    """Cost in the tariff's currency: energy in each half-hour times that half-hour's price.

    Each hour also has its mean price, in the same unit per kWh.
    """
    view = await household(client, 24)
    assert view["currency"] == "GBP"
    tariff = sim.world.tariff
    for hour in view["hours"][:-1]:
        start = _at(hour["start"])
        prices = [tariff.price_at(start), tariff.price_at(start + timedelta(minutes=30))]
        assert hour["price"] == pytest.approx(sum(prices) / 2 / 100)
        if hour["charging_wh"] == 0:
            # The house's load is constant within an hour: half of it at each price.
            expected = hour["house_wh"] / 2 / 1000 * sum(prices) / 100
            assert hour["cost"] == pytest.approx(expected)
        assert min(prices) / 100 <= hour["cost"] * 1000 / (hour["house_wh"] + hour["charging_wh"])
        assert hour["cost"] * 1000 / (hour["house_wh"] + hour["charging_wh"]) <= max(prices) / 100


async def test_live_meter_and_power(sim: SimulatorServer, client: Client) -> None:
    """The meter and power follow the charging car; history reads the same when asked again."""
    before = await household(client, 2)
    house_watts = sim.world.household.load_watts(START, sim.world.tariff.tz)
    assert before["power_watts"] == pytest.approx(house_watts + 7200)
    sim.clock.advance(3600)
    after = await household(client, 2)
    assert after["meter_wh"] - before["meter_wh"] == pytest.approx(house_watts + 7200)
    assert after["charger_meter_wh"][EVSE] - before["charger_meter_wh"][EVSE] == 7200
    assert after["hours"][1]["charging_wh"] == 7200  # the hour just gone is complete now
    assert after["hours"][0] == before["hours"][1]

    # Past the limit the car stops: only the house draws.
    sim.clock.advance(4 * 3600)
    idle = await household(client, 0)
    assert idle["power_watts"] == pytest.approx(
        sim.world.household.load_watts(_at(idle["now"]), sim.world.tariff.tz)
    )


async def test_meter_never_runs_back(sim: SimulatorServer, client: Client) -> None:
    """Moving the clock back does not rewind the meter (the world does not rewind either)."""
    sim.clock.advance(3600)
    ahead = await household(client, 0)
    sim.clock.set(START - timedelta(days=2))
    assert (await household(client, 0))["meter_wh"] == ahead["meter_wh"]


async def test_hours_parameter(client: Client) -> None:
    """`hours` is a whole number of full hours, up to a year."""
    assert len((await household(client, 0))["hours"]) == 1
    for bad in ("-1", "x", str(24 * 367)):
        assert await admin_status(client, f"/_sim/household?hours={bad}") == 400


def test_scenario_household() -> None:
    """A scenario may set the meter and the load profile; typos and short profiles fail."""
    profile = [500] * 24
    world = World(
        SimClock(START, time_scale=0),
        {**_minimal_scenario(), "household": {"meter_wh": 1000, "load_watts_by_hour": profile}},
    )
    assert world.household.meter_wh == 1000
    assert 375 <= world.household.load_watts(START, world.tariff.tz) <= 625
    with pytest.raises(ValueError, match="unknown fields: meter"):
        World(SimClock(START, time_scale=0), {**_minimal_scenario(), "household": {"meter": 1}})
    with pytest.raises(ValueError, match="24 values"):
        Household(load_watts_by_hour=[500] * 23)


def _minimal_scenario() -> dict[str, Any]:
    return {
        "user": {
            "id": "user1",
            "email": "a@example.com",
            "full_name": "A",
            "joined_at": "2024-01-01T00:00:00+00:00",
            "location": {"address_1": "1 Road", "city": "London", "postal_code": "N1"},
        },
        "tariff": {
            "id": "tari1",
            "name": "Flat",
            "type": "DYNAMIC",
            "currency": "GBP",
            "supplier": {"id": "supl1", "name": "S"},
            "half_hourly_prices": [20] * 48,
        },
    }


async def test_demo_history_carries_on_into_the_recorders_sums(
    sim: SimulatorServer, client: Client
) -> None:
    """The demo's imported sums start at the first hour's energy and end where the live ones go on.

    The recorder's own sum counts from a sensor's first state; moved up by `adjustment`, it
    carries on from the last imported hour by what the meter advanced since.
    """
    sim.clock.advance(20 * 60)
    view = await household(client, 4)
    charger_zero_kwh = view["charger_meter_wh"][EVSE] / 1000 - 1.5  # first read 1.5 kWh ago
    meter, cost, charger = household_history(view, charger_zero_kwh)
    before, *hours, current = view["hours"]
    assert [row["start"] for row in meter.stats] == [hour["start"] for hour in hours]
    assert meter.stats[0]["sum"] * 1000 == pytest.approx(
        hours[0]["house_wh"] + hours[0]["charging_wh"]
    )
    assert cost.stats[0]["sum"] == pytest.approx(hours[0]["cost"])
    assert charger.stats[0]["sum"] * 1000 == pytest.approx(hours[0]["charging_wh"])
    # Live sums, moved up, at the first state: the last hour's sum plus the hour so far.
    this_hour_kwh = (current["house_wh"] + current["charging_wh"]) / 1000
    assert meter.adjustment == pytest.approx(meter.stats[-1]["sum"] + this_hour_kwh)
    assert cost.adjustment == pytest.approx(cost.stats[-1]["sum"] + current["cost"])
    charger_now = charger.adjustment + view["charger_meter_wh"][EVSE] / 1000 - charger_zero_kwh
    assert charger_now == pytest.approx(charger.stats[-1]["sum"] + current["charging_wh"] / 1000)
    assert meter.stats[-1]["state"] * 1000 == pytest.approx(hours[-1]["meter_wh"])
    assert (meter.metadata["statistic_id"], cost.metadata["unit_of_measurement"]) == (
        HOUSEHOLD_METER,
        "GBP",
    )
    assert before["end"] == hours[0]["start"]
