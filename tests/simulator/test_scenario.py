"""World behaviour: charging physics, prices along the clock, sessions, boost, events."""

from datetime import UTC, datetime, timedelta
import itertools
from pathlib import Path
from typing import Any

import pytest

from simulator import SimClock, SimulatorConfig, SimulatorServer, World
from simulator.model import Event
from simulator.tariff import Supplier, Tariff, carbon_class

from .conftest import EVSE, LEAF, START, TARIFF, TESLA, USER, Client

DUAL_RATE = Path(__file__).parents[2] / "simulator/scenarios/dual_rate.json"


async def vehicle(client: Client, vehicle_id: str) -> dict[str, Any]:
    reply = await client.get(f"/v2/vehicles/{vehicle_id}?expand=latest_status_log")
    assert reply.status == 200
    return reply.json()  # type: ignore[no-any-return]


async def evse_status(client: Client) -> dict[str, Any]:
    evses = (await client.get("/v2/evses?expand=latest_status_log")).json()
    return evses[0]["latest_status_log"]  # type: ignore[no-any-return]


async def sessions(client: Client) -> list[dict[str, Any]]:
    return (await client.get("/v2/charging_sessions?expand=sub_sessions")).json()  # type: ignore[no-any-return]


async def test_soc_rises_while_charging_and_stops_at_limit(
    sim: SimulatorServer, client: Client
) -> None:
    status = (await vehicle(client, TESLA))["latest_status_log"]
    assert status["state"] == "PLUGGED_IN_CHARGING"
    assert status["state_of_charge_percentage"] == 45
    assert status["minutes_to_full_charge"] == 219  # 26.25 kWh at 7.2 kW
    assert status["target_charge_level_percentage"] == 80
    assert status["sampled_at"] == "2026-03-10T10:00:00Z"
    meter_before = (await evse_status(client))["meter_reading_watt_hours"]

    sim.clock.advance(3600)
    status = (await vehicle(client, TESLA))["latest_status_log"]
    assert status["state_of_charge_percentage"] == 54  # 45 % + 7.2 kWh / 75 kWh
    assert status["is_charging"] is True
    assert status["charge_rate_watts"] == 7200
    assert status["minutes_to_full_charge"] == 159
    charger = await evse_status(client)
    assert charger["meter_reading_watt_hours"] == meter_before + 7200
    assert (charger["control_pilot_status"], charger["is_charging"], charger["mode"]) == (
        "C",
        True,
        "Charge",
    )
    assert charger["charge_rate_watts"] == 7200
    assert charger["voltage_millivolts"] == 230_000
    assert charger["state_of_charge_percentage"] == 54

    sim.clock.advance(3 * 3600)
    status = (await vehicle(client, TESLA))["latest_status_log"]
    assert status["state_of_charge_percentage"] == 80
    assert status["state"] == "PLUGGED_IN_COMPLETE"
    assert (
        status["is_charging"],
        status["charge_rate_watts"],
        status["minutes_to_full_charge"],
    ) == (
        False,
        0,
        0,
    )
    assert status["is_complete"] is True
    charger = await evse_status(client)
    assert charger["meter_reading_watt_hours"] == meter_before + 26250
    assert (charger["control_pilot_status"], charger["is_charging"]) == ("B", False)

    current = (await sessions(client))[0]
    sub = current["sub_sessions"][0]
    assert (current["end"], sub["mode"], sub["end"]) == (None, "SMART", None)
    assert sub["energy_delivered_watt_hours"] == 26250
    assert sub["duration_minutes"] == 240
    assert sub["percentage_added"] == 35.0
    # Cost follows the half-hourly prices: 7.2 kW for 3 h 38 m 45 s from 10:00.
    tariff = sim.world.tariff
    expected = sum(3.6 * tariff.price_at(START + timedelta(minutes=30 * k)) for k in range(7))
    expected += 7.2 * 525 / 3600 * tariff.price_at(START + timedelta(minutes=210))
    assert sub["cost"] == round(expected)
    assert sub["cost_per_kilowatt_hour"] == round(expected / 26.25)
    assert sub["total_co2_grams"] > 0
    assert sub["co2_intensity_classification"] == carbon_class(
        sub["co2_intensity_grams_per_kilowatt_hour"]
    )
    assert sub["savings_cost"] >= 0


async def test_charge_limit_changes_while_plugged_in(sim: SimulatorServer, client: Client) -> None:
    patched = await client.call(
        "PATCH",
        f"/v2/vehicles/{TESLA}?expand=latest_status_log",
        body={"maximum_charge_limit_percentage": 50},
    )
    status = patched.json()["latest_status_log"]
    assert status["state"] == "PLUGGED_IN_CHARGING"
    sim.clock.advance(3600)
    status = (await vehicle(client, TESLA))["latest_status_log"]
    assert (status["state_of_charge_percentage"], status["state"]) == (50, "PLUGGED_IN_COMPLETE")
    await client.call(
        "PATCH", f"/v2/vehicles/{TESLA}", body={"maximum_charge_limit_percentage": 60}
    )
    status = (await vehicle(client, TESLA))["latest_status_log"]
    assert status["state"] == "PLUGGED_IN_CHARGING"
    assert status["target_charge_level_percentage"] == 60


async def test_idle_vehicle_and_not_charging_state(sim: SimulatorServer, client: Client) -> None:
    leaf = await vehicle(client, LEAF)
    assert leaf["description"] == ""
    status = leaf["latest_status_log"]
    assert (status["state"], status["is_plugged_in"], status["minutes_to_full_charge"]) == (
        "STATIONARY",
        False,
        None,
    )
    await client.admin("PATCH", f"/_sim/vehicles/{TESLA}", {"charge_rate_watts": 0})
    status = (await vehicle(client, TESLA))["latest_status_log"]
    assert status["state"] == "PLUGGED_IN_NOT_CHARGING"
    assert status["minutes_to_full_charge"] is None
    charger = await evse_status(client)
    assert (charger["control_pilot_status"], charger["mode"]) == ("B", "Idle")


async def test_price_changes_at_half_hour_boundary(sim: SimulatorServer, client: Client) -> None:
    boundary = START + timedelta(hours=6)  # 16:00 GMT: the evening peak starts
    sim.clock.set(boundary - timedelta(seconds=1))
    before = (await client.get(f"/v2/tariffs/{TARIFF}")).json()["current_price"]
    sim.clock.advance(1)
    after = (await client.get(f"/v2/tariffs/{TARIFF}")).json()["current_price"]
    tariff = sim.world.tariff
    assert before == tariff.price_at(boundary - timedelta(minutes=30))
    assert after == tariff.price_at(boundary)
    assert after - before >= 5
    prices = (
        await client.get(
            f"/v2/tariffs/{TARIFF}/prices?started_at__gte=2026-03-10T16:00:00Z&page_size=100"
        )
    ).json()
    assert prices[-1] == {
        "started_at": "2026-03-10T16:00:00Z",
        "interval_seconds": 1800,
        "price_minor_units": after,
    }


def test_default_prices_change_at_every_half_hour(sim: SimulatorServer) -> None:
    # Demos and end-to-end tests rely on the next interval having a different price.
    tariff = sim.world.tariff
    prices = [tariff.price_at(START + timedelta(minutes=30 * k)) for k in range(48 * 7)]
    assert all(a != b for a, b in itertools.pairwise(prices))
    assert min(prices) >= 6
    assert max(prices) <= 36


async def test_dynamic_prices_horizon(sim: SimulatorServer, client: Client) -> None:
    url = f"/v2/tariffs/{TARIFF}/prices?page_size=100"
    newest_first = (await client.get(url)).json()
    starts = [p["started_at"] for p in newest_first]
    assert starts == sorted(starts, reverse=True)
    assert starts[0] == "2026-03-10T22:30:00Z"  # today's prices only, before 16:00
    assert starts[-1] == "2026-03-09T10:00:00Z"  # 24 h of history
    values = {p["price_minor_units"] for p in newest_first}
    assert min(values) <= 12  # cheap overnight
    assert max(values) >= 30  # evening peak
    sim.clock.set(datetime(2026, 3, 10, 16, 5, tzinfo=UTC))
    assert (await client.get(url)).json()[0]["started_at"] == "2026-03-11T22:30:00Z"


async def test_plug_and_unplug_open_and_close_a_session(
    sim: SimulatorServer, client: Client
) -> None:
    before = await sessions(client)
    await client.admin("POST", f"/_sim/vehicles/{TESLA}/plug", {"plugged_in": True})  # no-op
    assert len(await sessions(client)) == len(before)
    plugged = await client.admin("POST", f"/_sim/vehicles/{LEAF}/plug", {"plugged_in": True})
    assert plugged["latest_status_log"]["state"] == "PLUGGED_IN_CHARGING"
    opened = (await sessions(client))[0]
    assert len(await sessions(client)) == len(before) + 1
    assert opened["vehicle"].endswith(f"/v2/vehicles/{LEAF}")
    assert opened["evse"].endswith(f"/v2/evses/{EVSE}")
    assert (opened["start"], opened["end"]) == ("2026-03-10T10:00:00Z", None)
    assert [s["mode"] for s in opened["sub_sessions"]] == ["UNMANAGED_HOME"]  # smart charging off
    sim.clock.advance(1800)
    await client.admin("POST", f"/_sim/vehicles/{LEAF}/plug", {"plugged_in": False})
    closed = (await client.get(f"/v2/charging_sessions/{opened['id']}?expand=sub_sessions")).json()
    assert closed["end"] == "2026-03-10T10:30:00Z"
    assert closed["sub_sessions"][0]["end"] == "2026-03-10T10:30:00Z"
    assert closed["sub_sessions"][0]["energy_delivered_watt_hours"] == 3300
    assert (await vehicle(client, LEAF))["latest_status_log"]["state"] == "STATIONARY"
    # Both vehicles share the charger; only the plugged one drives its status.
    assert (await evse_status(client))["is_plugged_in"] is True


async def test_boost_start_and_end(sim: SimulatorServer, client: Client) -> None:
    session = sim.world.open_session(TESLA)
    assert session is not None
    url = f"/v2/charging_sessions/{session.id}"
    sim.clock.advance(600)
    started = await client.call("POST", f"{url}/boost_start?expand=sub_sessions")
    assert started.status == 200
    subs = started.json()["sub_sessions"]
    assert [(s["mode"], s["end"] is None) for s in subs] == [("SMART", False), ("BOOST", True)]
    assert subs[0]["end"] == subs[1]["start"] == "2026-03-10T10:10:00Z"
    again = await client.call("POST", f"{url}/boost_start")
    assert again.status == 409
    assert again.json()["detail"] == "The current sub-session is not a smart charging session."
    ended = await client.call("POST", f"{url}/boost_end")
    assert ended.status == 200
    assert len(ended.json()["sub_sessions"]) == 3
    not_boosting = await client.call("POST", f"{url}/boost_end")
    assert not_boosting.status == 409
    assert not_boosting.json()["detail"] == "This charging session is not boosting."


async def test_boost_needs_smart_charging(sim: SimulatorServer, client: Client) -> None:
    session = sim.world.open_session(TESLA)
    assert session is not None
    await client.call("PATCH", f"/v2/vehicles/{TESLA}", body={"smart_charging_enabled": False})
    assert [s.mode for s in session.subs] == ["SMART", "UNMANAGED_HOME"]
    refused = await client.call("POST", f"/v2/charging_sessions/{session.id}/boost_start")
    assert refused.status == 409
    assert refused.json()["detail"] == "Smart charging is turned off for this vehicle."
    await client.call("PATCH", f"/v2/vehicles/{TESLA}", body={"smart_charging_enabled": True})
    assert [s.mode for s in session.subs] == ["SMART", "UNMANAGED_HOME", "SMART"]
    boosted = await client.call("POST", f"/v2/charging_sessions/{session.id}/boost_start")
    assert boosted.status == 200
    await client.call("PATCH", f"/v2/vehicles/{TESLA}", body={"smart_charging_enabled": False})
    assert session.subs[-1].mode == "UNMANAGED_HOME"


async def test_boost_on_ended_session(client: Client) -> None:
    ended = (await sessions(client))[1]
    assert ended["end"] is not None
    reply = await client.call("POST", f"/v2/charging_sessions/{ended['id']}/boost_start")
    assert reply.status == 409
    assert reply.json()["detail"] == "This charging session has ended."


async def test_past_sessions_from_scenario(client: Client) -> None:
    history = (await sessions(client))[1:]
    assert len(history) == 3
    assert [s["start"] for s in history] == sorted((s["start"] for s in history), reverse=True)
    latest = history[0]
    assert [s["mode"] for s in latest["sub_sessions"]] == ["SMART", "BOOST"]
    assert [s["energy_delivered_watt_hours"] for s in latest["sub_sessions"]] == [21000, 3500]
    assert latest["sub_sessions"][1]["savings_cost"] is None
    assert all(s["cost"] > 0 and s["currency"] == "GBP" for s in latest["sub_sessions"])


async def test_user_location_detail(client: Client) -> None:
    user = (await client.get("/v2/users/me?expand=default_location.tariff.supplier")).json()
    assert user["id"] == USER
    location = user["default_location"]
    assert location["country_code"] == "GB"
    assert location["current_carbon_intensity_grams_per_kilowatt_hour"] == 140  # 10:00 local
    assert location["tariff"]["supplier"]["name"] == "Octopus Energy"
    listed = (await client.get("/v2/users")).json()[0]
    assert "current_carbon_intensity_grams_per_kilowatt_hour" not in listed["default_location"]


async def test_expand_comma_separated_and_nested(client: Client) -> None:
    reply = await client.get("/v2/vehicles?expand=latest_status_log,trim.model.make")
    tesla = reply.json()[0]
    assert tesla["trim"]["model"]["make"]["name"] == "Tesla"
    assert tesla["trim"]["model"]["name"] == "Model 3"
    assert isinstance(tesla["latest_status_log"], dict)
    plain = (await client.get("/v2/vehicles")).json()[0]
    assert plain["trim"].endswith("/v2/vehicle_trims/trim01HRY314M0AV4RRXG07HN7JVAX")
    assert plain["latest_status_log"].startswith(f"{client.base_url}/v2/vehicles/{TESLA}/")
    evse = (await client.get("/v2/evses?expand=model.make,latest_status_log")).json()[0]
    assert evse["model"]["make"]["name"] == "myenergi"
    assert evse["lock_mode"] == "SMART"


async def test_removed_vehicle_and_charger(sim: SimulatorServer, client: Client) -> None:
    session = sim.world.open_session(TESLA)
    assert session is not None
    assert await client.admin("DELETE", f"/_sim/evses/{EVSE}") == {"deleted": EVSE}
    assert sim.world.vehicles[TESLA].evse_id is None
    sim.clock.advance(600)
    sim.world.sync()
    assert sim.world.vehicles[TESLA].charge_wh > 33750  # still charges without a charger
    expanded = (await client.get(f"/v2/charging_sessions/{session.id}?expand=evse")).json()
    assert expanded["evse"] is None
    assert await client.admin("DELETE", f"/_sim/vehicles/{TESLA}") == {"deleted": TESLA}
    assert session.end == START + timedelta(seconds=600)
    assert (await client.get(f"/v2/vehicles/{TESLA}")).status == 404
    expanded = (await client.get(f"/v2/charging_sessions/{session.id}?expand=vehicle")).json()
    assert expanded["vehicle"] is None
    refused = await client.call("POST", f"/v2/charging_sessions/{session.id}/boost_start")
    assert refused.status == 409


async def test_clock_moving_backwards_does_not_rewind(sim: SimulatorServer) -> None:
    sim.clock.advance(3600)
    charged = sim.world.vehicles[TESLA].charge_wh
    sim.clock.set(START)
    sim.world.sync()
    assert sim.world.vehicles[TESLA].charge_wh == charged


async def test_scheduled_events(socket_enabled: None) -> None:
    sim = SimulatorServer(SimulatorConfig(scenario=DUAL_RATE, time_scale=0))
    world = sim.world
    kia = next(iter(world.vehicles.values()))
    assert kia.maximum_charge_limit_percentage is None
    assert [kia.plugged_in, world.sessions] == [False, []]
    sim.clock.advance(6 * 3600 + 1)  # plug-in event at 18:00
    world.sync()
    assert [kia.plugged_in, len(world.sessions)] == [True, 1]
    assert world.sessions[0].start == datetime(2026, 1, 15, 18, 0, tzinfo=UTC)
    sim.clock.advance(86400)  # unplug event 24 h after the 12:00 start
    world.sync()
    assert [kia.plugged_in, len(world.sessions)] == [False, 1]
    assert world.sessions[0].end == datetime(2026, 1, 16, 12, 0, tzinfo=UTC)
    assert kia.charge_wh == kia.battery_size_watt_hours  # a null limit charges to 100 %
    # Cost used the off-peak rate from 23:30 and the peak rate before it.
    sub = world.sessions[0].subs[0]
    assert 7.5 < sub.cost / (sub.energy_wh / 1000) < 28.5
    # Events can also be queued from Python; ones for removed vehicles are skipped.
    at = sim.clock.now() + timedelta(minutes=5)
    world.schedule(Event(at, kia.id, plugged_in=True))
    world.schedule(Event(at, "vhcl00000000000000000000000000", plugged_in=True))
    sim.clock.advance(300)
    world.sync()
    assert [kia.plugged_in, len(world.sessions), world.events] == [True, 2, []]


def test_observers_hear_of_sub_sessions_starting_and_ending(sim: SimulatorServer) -> None:
    world = sim.world
    heard: list[tuple[str, str, str, datetime]] = []
    world.observers.append(lambda what, _, sub, at: heard.append((what, sub.id, sub.mode, at)))
    world.plug(LEAF, True)  # smart charging off: UNMANAGED_HOME
    (leaf_sub,) = world.sessions[-1].subs
    tesla = world.open_session(TESLA)
    assert tesla is not None
    smart = tesla.subs[-1]
    sim.clock.advance(60)
    world.boost(tesla, True)
    boost = tesla.subs[-1]
    sim.clock.advance(60)
    world.remove_vehicle(TESLA)
    world.plug(LEAF, True)  # already plugged in: nothing happens
    one, two = START + timedelta(minutes=1), START + timedelta(minutes=2)
    assert heard == [
        ("created", leaf_sub.id, "UNMANAGED_HOME", START),
        ("ended", smart.id, "SMART", one),
        ("created", boost.id, "BOOST", one),
        ("ended", boost.id, "BOOST", two),
    ]


def test_scenario_validation() -> None:
    clock = SimClock(start=START, time_scale=0)
    scenario: dict[str, Any] = {
        "user": {
            "id": USER,
            "email": "a@example.com",
            "full_name": "A",
            "joined_at": "2024-01-01T00:00:00",
            "location": {"address_1": "1 Road", "city": "Leeds", "postal_code": "LS1 1AA"},
        },
        "tariff": {
            "id": TARIFF,
            "name": "Flat",
            "type": "FLAT_RATE",
            "currency": "GBP",
            "supplier": {"id": "supl01HRY314M0PPG2X7R5JQC42EJ5", "name": "S"},
            "daily_prices": {
                "peak": {"price": "0.25", "times": [{"start": "00:00:00", "end": "00:00:00"}]}
            },
        },
    }
    with pytest.raises(ValueError, match="without a timezone"):
        World(clock, scenario)
    scenario["user"]["joined_at"] = "2024-01-01T00:00:00Z"
    world = World(clock, scenario | {"events": []})
    assert world.tariff.price_at(START) == 25
    assert world.vehicles == {}
    with pytest.raises(ValueError, match="unknown event action"):
        World(
            clock,
            scenario | {"events": [{"at_offset_seconds": 1, "vehicle": "x", "action": "fly"}]},
        )


def test_tariff_bands() -> None:
    tariff = Tariff(
        id=TARIFF,
        name="Three rate",
        type="THREE_RATE",
        currency="GBP",
        supplier=Supplier("supl01HRY314M0PPG2X7R5JQC42EJ5", "S"),
        daily_prices={
            "peak": {"price": "0.40", "times": [{"start": "16:00:00", "end": "19:00:00"}]},
            "off_peak": {"price": "0.10", "times": [{"start": "22:00:00", "end": "06:00:00"}]},
            "mid_peak": {"price": "0.25", "times": [{"start": "06:00:00", "end": "12:00:00"}]},
        },
    )
    at = datetime(2026, 7, 1, tzinfo=UTC)  # BST: local = UTC + 1
    assert tariff.price_at(at.replace(hour=16)) == 40  # 17:00 local
    assert tariff.price_at(at.replace(hour=22)) == 10  # 23:00 local, wraps midnight
    assert tariff.price_at(at.replace(hour=3)) == 10
    assert tariff.price_at(at.replace(hour=8)) == 25
    assert tariff.price_at(at.replace(hour=12)) == 40  # no band: falls back to peak
    assert tariff.mean_daily_price(at) == pytest.approx(
        sum(tariff.price_at(at - timedelta(hours=1) + timedelta(minutes=30 * k)) for k in range(48))
        / 48
    )
    # Fixed tariffs publish through tomorrow 23:00 local regardless of the hour.
    assert tariff.known_prices(at.replace(hour=8))[-1][0] == datetime(
        2026, 7, 2, 21, 30, tzinfo=UTC
    )


def test_sim_clock() -> None:
    ticks = [100.0]
    clock = SimClock(start=START, time_scale=60, monotonic=lambda: ticks[0])
    ticks[0] += 10
    assert clock.now() == START + timedelta(minutes=10)
    clock.time_scale = 1
    ticks[0] += 10
    assert clock.now() == START + timedelta(minutes=10, seconds=10)
    assert clock.time_scale == 1
    assert clock.advance(-10) == START + timedelta(minutes=10)
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.set(datetime(2026, 1, 1))
    assert SimClock().now().tzinfo is UTC
    moves: list[datetime] = []
    clock.subscribe(lambda: moves.append(clock.now()))
    ticks[0] += 10  # time passing is not a move
    clock.advance(5)
    clock.time_scale = 0
    clock.set(START)
    assert moves == [START + timedelta(minutes=10, seconds=15)] * 2 + [START]
