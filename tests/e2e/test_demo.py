"""End to end: the simulator and a real Home Assistant process, driven over REST like the demo."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
import re
import socket
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from simulator.demo import (
    AREA,
    CHARGER_METER,
    CHARGER_POWER,
    DASHBOARD_URL,
    HISTORY_HOURS,
    HOUSEHOLD_COST,
    HOUSEHOLD_METER,
    HOUSEHOLD_POWER,
    DemoStack,
    dashboard_config,
    find_chromium,
)
from simulator.tariff import Supplier, Tariff

pytestmark = pytest.mark.e2e

SOC = "sensor.family_car_state_of_charge"
STATUS = "sensor.family_car_integration_status"
LIMIT = "number.family_car_charge_limit"
PRICE = "sensor.ev_energy_account_current_price"
PUSH_ACTIVE = "binary_sensor.ev_energy_account_push_updates"
FAMILY_CAR_PLUGGED_IN = "binary_sensor.family_car_plugged_in"
LEAF_PLUGGED_IN = "binary_sensor.nissan_leaf_plugged_in"
# A plug change pushed by webhook shows within this many seconds; a poll would take up to two
# minutes while nothing is plugged in (ten while push works).
PUSH_WITHIN = 10.0
# Push reads the live state at most once per this many seconds (the integration's window).
PUSH_REFRESH_WINDOW = 10.0


@pytest.fixture
async def stack(tmp_path: Path, socket_enabled: None) -> AsyncGenerator[DemoStack]:
    """A fresh simulator + Home Assistant, signed in; the simulator clock stands still."""
    async with DemoStack(tmp_path) as running:
        await running.sim("POST", "/_sim/clock", {"time_scale": 0})
        yield running


def _vehicle(world: dict[str, Any], description: str) -> dict[str, Any]:
    return next(v for v in world["vehicles"] if v["description"] == description)


async def _refresh(stack: DemoStack) -> None:
    """Ask both coordinators to poll now (live state, and the price list)."""
    await stack.call_service("homeassistant", "update_entity", {"entity_id": [SOC, PRICE]})


async def test_demo_end_to_end(stack: DemoStack) -> None:
    """Values arrive, the charge limit is written, prices move, a revoked sign-in asks again."""
    # Price states follow Home Assistant's clock over the fetched price list (boundary-exact,
    # tested with a frozen clock). Put the simulator two days back: its list then has nothing
    # from Home Assistant's today on, and the price follows the tariff's current price.
    now = datetime.fromisoformat((await stack.sim("GET", "/_sim/clock"))["now"])
    await stack.sim("POST", "/_sim/clock", {"set": (now - timedelta(days=2)).isoformat()})
    await _refresh(stack)
    world = await stack.sim("GET", "/_sim/state")
    car = _vehicle(world, "Family car")

    soc = await stack.wait_for(SOC, lambda s: s == str(car["state_of_charge_percentage"]))
    assert soc["attributes"]["unit_of_measurement"] == "%"
    await stack.wait_for(STATUS, lambda s: s == "active")
    await stack.wait_for(LIMIT, lambda s: float(s) == car["maximum_charge_limit_percentage"])
    price_now = world["tariff"]["current_price"] / 100
    price = await stack.wait_for(PRICE, lambda s: float(s) == price_now)
    assert price["attributes"]["unit_of_measurement"] == "GBP/kWh"

    # The charge limit goes to the simulator as a PATCH and the state follows.
    await stack.sim("DELETE", "/_sim/requests")
    await stack.call_service("number", "set_value", {"entity_id": LIMIT, "value": 65})
    patches = [r for r in await stack.sim("GET", "/_sim/requests") if r["method"] == "PATCH"]
    assert [(r["path"], r["body"]) for r in patches] == [
        (f"/v2/vehicles/{car['id']}", {"maximum_charge_limit_percentage": 65})
    ]
    await stack.wait_for(LIMIT, lambda s: float(s) == 65)
    world = await stack.sim("GET", "/_sim/state")
    assert _vehicle(world, "Family car")["maximum_charge_limit_percentage"] == 65

    # Past a half-hour boundary the price entity shows the next interval's price.
    await stack.sim("POST", "/_sim/clock", {"advance_seconds": 1800})
    later = (await stack.sim("GET", "/_sim/state"))["tariff"]["current_price"] / 100
    assert later != price_now, "the scenario's next half-hour should have another price"
    await _refresh(stack)
    await stack.wait_for(PRICE, lambda s: float(s) == later)

    # Revoked access: 401 and a refused refresh make Home Assistant ask to sign in again.
    await stack.sim("POST", "/_sim/faults", {"kind": "unauthorized", "count": None})
    await stack.sim("POST", "/_sim/faults", {"kind": "refresh_refused", "count": None})
    await _refresh(stack)
    await stack.wait_for(SOC, lambda s: s == "unavailable")
    flows = await stack.websocket({"type": "config_entries/flow/progress"})
    reauth = [
        flow
        for flow in flows
        if flow["handler"] == "ev_energy" and flow["context"]["source"] == "reauth"
    ]
    assert len(reauth) == 1
    entries = await stack.websocket({"type": "config_entries/get", "domain": "ev_energy"})
    assert [entry["entry_id"] for entry in entries] == [stack.entry_id]

    # Signing in again brings the entities back without a restart.
    await stack.sim("DELETE", "/_sim/faults")
    step = await stack._json("POST", f"/api/config/config_entries/flow/{reauth[0]['flow_id']}")
    assert await stack.complete_oauth_flow(step) == stack.entry_id
    await stack.wait_for(SOC, lambda s: s not in ("unavailable", "unknown"))


async def test_charging_history_reaches_the_statistics(stack: DemoStack) -> None:
    """The simulator's finished charging lands in HA's long-term statistics, hour by hour."""
    world = await stack.sim("GET", "/_sim/state")
    car = _vehicle(world, "Family car")
    finished = [
        sub
        for session in world["sessions"]
        if session["vehicle_id"] == car["id"]
        for sub in session["subs"]
        if sub["end"] is not None
    ]
    expected_kwh = sum(sub["energy_wh"] for sub in finished) / 1000
    assert expected_kwh > 0
    statistic = f"ev_energy:{car['id'].lower()}_charging_energy"
    now = datetime.fromisoformat((await stack.sim("GET", "/_sim/clock"))["now"])
    rows: list[dict[str, Any]] = []
    # The recorder starts writing once Home Assistant has finished starting, which can take
    # a while on a fresh configuration.
    deadline = asyncio.get_running_loop().time() + 240
    while asyncio.get_running_loop().time() < deadline:
        reply = await stack.websocket(
            {
                "type": "recorder/statistics_during_period",
                "start_time": (now - timedelta(days=10)).isoformat(),
                "statistic_ids": [statistic],
                "period": "hour",
                "types": ["state", "sum"],
            }
        )
        rows = reply.get(statistic, [])
        if rows and rows[-1]["sum"] == pytest.approx(expected_kwh, abs=0.05):
            break
        await asyncio.sleep(2)
    assert rows, f"{statistic} never appeared in the recorder"
    assert rows[-1]["sum"] == pytest.approx(expected_kwh, abs=0.05)
    # Each sub-session's energy is spread over the hours it flowed, not put in one lump.
    assert len([row for row in rows if row["state"] > 0]) > len(finished)


async def test_logbook_opens_without_unavailable_entities(stack: DemoStack) -> None:
    """After the demo's start the logbook shows no ev.energy entity becoming unavailable."""
    started = datetime.now(UTC) - timedelta(hours=1)
    # The recorder commits every few seconds: once this entry is readable, so is all before it.
    await stack.call_service("logbook", "log", {"name": "e2e", "message": "checkpoint"})
    events: list[dict[str, Any]] = []
    deadline = asyncio.get_running_loop().time() + 60
    while not any(event.get("message") == "checkpoint" for event in events):
        assert asyncio.get_running_loop().time() < deadline, "the checkpoint was not recorded"
        await asyncio.sleep(1)
        events = await stack.websocket(
            {"type": "logbook/get_events", "start_time": started.isoformat()}
        )
    ours = {
        entry["entity_id"]
        for entry in await stack.websocket({"type": "config/entity_registry/list"})
        if entry["platform"] == "ev_energy"
    }
    assert len(ours) > 40
    unavailable = [e for e in events if e.get("entity_id") in ours and e["state"] == "unavailable"]
    assert unavailable == []


async def test_browser_shows_vehicle_device(stack: DemoStack, tmp_path: Path) -> None:
    """Headless Chromium logs in and renders the vehicle's device page and the dashboard."""
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no Chromium installed (apt-get install chromium); .ci/run installs it")
    await _refresh(stack)
    await stack.wait_for(SOC, lambda s: s.isdigit())
    screenshot = tmp_path / "device.png"
    await stack.screenshot_device("Family car", screenshot, chromium)
    # PNG signature; a blank or login page compresses to a few KB, the device page to far more.
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 40_000
    # The EV charging dashboard renders its cards (gauge, price chart, calendar): far more.
    dashboard = tmp_path / "dashboard.png"
    await stack.screenshot(f"/{DASHBOARD_URL}/ev-charging", dashboard, chromium, (1280, 1700))
    assert dashboard.stat().st_size > 100_000


async def _check_tonights_plan(stack: DemoStack) -> None:
    """The plugged-in car's plan from the simulator reaches the sensors and the calendar."""
    next_start = await stack.wait_for(
        "sensor.family_car_next_charge_start", lambda s: s not in ("unknown", "unavailable")
    )
    now = datetime.fromisoformat((await stack.sim("GET", "/_sim/clock"))["now"])
    london = ZoneInfo("Europe/London")
    ready_by = datetime.combine(now.astimezone(london).date(), time(7), london)
    if ready_by <= now:
        ready_by += timedelta(days=1)
    events = await stack._json(
        "GET",
        "/api/calendars/calendar.family_car_charging_calendar",
        params={
            "start": (now - timedelta(days=1)).isoformat(),
            "end": (now + timedelta(days=1)).isoformat(),
        },
    )
    planned = [event for event in events if event["summary"] == "Planned charging"]
    assert planned, events
    starts = [datetime.fromisoformat(event["start"]["dateTime"]) for event in planned]
    ends = [datetime.fromisoformat(event["end"]["dateTime"]) for event in planned]
    # A timestamp sensor's state has whole seconds; a plan that starts with its sub-session
    # (when the half-hour in progress is planned) starts at the plug-in's exact instant.
    assert starts[0].replace(microsecond=0) == datetime.fromisoformat(next_start["state"])
    assert max(ends) <= ready_by
    # 45 % -> 80 % of 75 kWh at 7.2 kW takes 3 h 39 min: eight half-hours (nine if the one in
    # progress is among them, as only its rest counts, and it shows from the plug-in, as the
    # plan starts no earlier than its sub-session), merged where contiguous; run shortly
    # before 07:00 there is less time than that, and the plan fills what is left.
    planned_time = sum((end - start for start, end in zip(starts, ends, strict=True)), timedelta())
    left = ready_by - now
    half_hour = timedelta(minutes=30)
    needed = timedelta(hours=0.35 * 75 / 7.2)
    assert min(needed, left - half_hour) <= planned_time
    assert planned_time <= min(timedelta(hours=4, minutes=30), left + half_hour)
    assert any(event["summary"] == "Charging session (plugged in)" for event in events)


def _dashboard_entities(node: Any) -> Iterator[str]:
    """Every entity id a dashboard configuration names in `entity`/`entities`."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "entity" and isinstance(value, str):
                yield value
            elif key == "entities":
                for item in value:
                    yield from [item] if isinstance(item, str) else _dashboard_entities(item)
            else:
                yield from _dashboard_entities(value)
    elif isinstance(node, list):
        for item in node:
            yield from _dashboard_entities(item)


async def test_demo_is_set_up_like_a_home(tmp_path: Path, socket_enabled: None) -> None:
    """A busy port is reported; no HTTP repair; area, dashboards, plan and push are there.

    One stack for all these checks: each start costs the suite about ten seconds.
    """
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        async with DemoStack(tmp_path, ha_port=taken) as stack:
            await stack.sim("POST", "/_sim/clock", {"time_scale": 0})
            assert stack.ha_port != taken
            assert stack.notices == [f"port {taken} is busy; Home Assistant is on {stack.ha_port}"]
            await _check_set_up(stack)
            await _check_tonights_plan(stack)
            await _check_push(stack)


async def _check_set_up(stack: DemoStack) -> None:
    # Onboarding added no integrations the offline demo cannot run: every entry is set up, and
    # the log's errors are only Home Assistant's own about two optional system libraries.
    entries = await stack.websocket({"type": "config_entries/get"})
    assert {entry["state"] for entry in entries} == {"loaded"}, entries
    assert {"google_translate", "met", "radio_browser"}.isdisjoint(e["domain"] for e in entries)
    log = (stack.work_dir / "home-assistant.log").read_text()
    error_loggers = set(re.findall(r"^\S+ \S+ ERROR \([^)]*\) \[([^\]]+)\]", log, re.MULTILINE))
    assert error_loggers <= {"haffmpeg.core", "homeassistant.components.camera.img_util"}

    # HTTP settings come from storage: no `http:` YAML, so no deprecation repair.
    configuration = (stack.work_dir / "config" / "configuration.yaml").read_text()
    assert "http:" not in configuration.splitlines()
    issues = (await stack.websocket({"type": "repairs/list_issues"}))["issues"]
    assert [issue for issue in issues if issue["domain"] == "http"] == []

    # Every ev.energy device is in the Driveway.
    areas = await stack.websocket({"type": "config/area_registry/list"})
    driveway = next(area["area_id"] for area in areas if area["name"] == AREA)
    devices = [
        device
        for device in await stack.websocket({"type": "config/device_registry/list"})
        if stack.entry_id in device["config_entries"]
    ]
    assert len(devices) == 4  # two cars, the charger, the account
    assert {device["area_id"] for device in devices} == {driveway}

    # The shipped dashboard is installed as is, and every entity it names exists.
    dashboards = await stack.websocket({"type": "lovelace/dashboards/list"})
    assert [d["title"] for d in dashboards if d["url_path"] == DASHBOARD_URL] == ["EV charging"]
    saved = await stack.websocket({"type": "lovelace/config", "url_path": DASHBOARD_URL})
    assert saved == dashboard_config()
    states = await stack.states()
    named = set(_dashboard_entities(saved))
    assert {
        "sensor.family_car_state_of_charge",
        "binary_sensor.family_car_plugged_in",
        "number.family_car_charge_limit",
        "switch.family_car_smart_charging",
        "switch.family_car_boost",
        "sensor.ev_energy_account_current_price",
        "binary_sensor.ev_energy_account_cheapest_window",
        "calendar.family_car_charging_calendar",
        "sensor.family_car_last_session_energy",
    } <= named
    assert named - states.keys() == set()
    sections = [section for view in saved["views"] for section in view["sections"]]
    cards = {card["type"] for section in sections for card in section["cards"]}
    assert {"gauge", "tile", "markdown", "history-graph", "calendar"} <= cards

    # The Energy dashboard: the household meter is the grid connection, priced by the price
    # entity; the charger and, inside it, each car's imported charging are individual devices;
    # the grid and the charger give their live power.
    prefs = await stack.websocket({"type": "energy/get_prefs"})
    [grid] = prefs["energy_sources"]
    assert (grid["type"], grid["stat_energy_from"], grid["entity_energy_price"]) == (
        "grid",
        HOUSEHOLD_METER,
        PRICE,
    )
    assert grid["stat_rate"] == HOUSEHOLD_POWER
    world = await stack.sim("GET", "/_sim/state")
    car_stats = [f"ev_energy:{v['id'].lower()}_charging_energy" for v in world["vehicles"]]
    assert prefs["device_consumption"] == [
        {"stat_consumption": CHARGER_METER, "stat_rate": CHARGER_POWER},
        *({"stat_consumption": stat, "included_in_stat": CHARGER_METER} for stat in car_stats),
    ]
    household = await stack.sim("GET", f"/_sim/household?hours={HISTORY_HOURS}")
    states = await stack.states()
    assert float(states[HOUSEHOLD_METER]["state"]) == pytest.approx(
        household["meter_wh"] / 1000, abs=0.05
    )
    assert float(states[HOUSEHOLD_POWER]["state"]) == pytest.approx(household["power_watts"], abs=1)
    assert float(states[CHARGER_POWER]["state"]) == 7.2  # the family car charges (kW)
    assert states[HOUSEHOLD_COST]["attributes"]["unit_of_measurement"] == "GBP"

    # The past week is in the recorder, hour by hour, as the simulator's household had it: the
    # grid takes in the house's load and the charger's (at that mean power), the charger what
    # the cars' imported charging says, and each hour has its cost.
    full_hours = household["hours"][:-1]
    start = datetime.fromisoformat(full_hours[0]["start"])
    end = datetime.fromisoformat(household["hours"][-1]["start"])
    stats = [HOUSEHOLD_METER, HOUSEHOLD_COST, CHARGER_METER, *car_stats]
    changes: dict[str, dict[float, float]] = {}
    rows: dict[str, list[dict[str, Any]]] = {}
    deadline = asyncio.get_running_loop().time() + 120
    while asyncio.get_running_loop().time() < deadline:
        rows = await stack.websocket(
            {
                "type": "recorder/statistics_during_period",
                "start_time": start.isoformat(),
                "end_time": end.isoformat(),
                "statistic_ids": [*stats, HOUSEHOLD_POWER],
                "period": "hour",
                "types": ["change", "mean"],
            }
        )
        changes = {
            stat: {row["start"] / 1000: row["change"] for row in rows.get(stat, [])}
            for stat in stats
        }
        # The integration imports the cars' charging in shares; wait for all of it.
        cars = sum(sum(changes[stat].values()) for stat in car_stats)
        if cars == pytest.approx(sum(hour["charging_wh"] for hour in full_hours) / 1000):
            break
        await asyncio.sleep(1)
    assert len(changes[HOUSEHOLD_METER]) == len(changes[HOUSEHOLD_COST]) == HISTORY_HOURS
    power = {row["start"] / 1000: row["mean"] for row in rows[HOUSEHOLD_POWER]}
    for hour in full_hours:
        at = datetime.fromisoformat(hour["start"]).timestamp()
        grid_kwh, charger_kwh = changes[HOUSEHOLD_METER][at], changes[CHARGER_METER][at]
        assert grid_kwh == pytest.approx((hour["house_wh"] + hour["charging_wh"]) / 1000)
        assert power[at] == pytest.approx(grid_kwh * 1000)
        assert grid_kwh > charger_kwh >= 0
        assert charger_kwh == pytest.approx(hour["charging_wh"] / 1000, abs=1e-3)
        assert charger_kwh == pytest.approx(
            sum(changes[stat].get(at, 0) for stat in car_stats), abs=2e-3
        )
        assert changes[HOUSEHOLD_COST][at] == pytest.approx(hour["cost"])
        assert hour["cost"] > 0
    assert sum(changes[CHARGER_METER].values()) > 60  # the scenario's past sessions: 70.5 kWh

    # The price's last day is in the recorder too, each hour the mean of its two half-hours,
    # for the dashboard's 24-hour graph.
    tariff_data = {**world["tariff"], "supplier": Supplier(**world["tariff"]["supplier"])}
    del tariff_data["current_price"]
    tariff = Tariff(**tariff_data)
    this_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    prices = await stack.websocket(
        {
            "type": "recorder/statistics_during_period",
            "start_time": (this_hour - timedelta(days=1)).isoformat(),
            "end_time": this_hour.isoformat(),
            "statistic_ids": [PRICE],
            "period": "hour",
            "types": ["mean"],
        }
    )
    assert len(prices[PRICE]) >= 23
    for row in prices[PRICE]:
        start = datetime.fromtimestamp(row["start"] / 1000, UTC)
        half_hours = [tariff.price_at(start), tariff.price_at(start + timedelta(minutes=30))]
        assert row["mean"] == pytest.approx(sum(half_hours) / 2 / 100)

    # Home Assistant finds nothing to fix in the Energy settings or the imported statistics,
    # but that the charger's power has statistics only from the recorder's first compile on.
    validation = await stack.websocket({"type": "energy/validate"})
    assert len(validation["device_consumption"]) == len(prefs["device_consumption"])
    found = {
        (issue["type"], entity)
        for issues in validation["energy_sources"] + validation["device_consumption"]
        for issue in issues
        for entity, _ in issue["affected_entities"]
    }
    assert found <= {("statistics_not_defined", CHARGER_POWER)}
    issues = await stack.websocket({"type": "recorder/validate_statistics"})
    imported = [*stats, HOUSEHOLD_POWER, PRICE]
    assert {stat: issues[stat] for stat in imported if stat in issues} == {}


async def _new_deliveries(stack: DemoStack, seen: int) -> list[dict[str, Any]]:
    """Wait for the simulator's next webhook delivery to be answered; return those after `seen`."""
    deadline = asyncio.get_running_loop().time() + PUSH_WITHIN
    while True:
        deliveries = (await stack.sim("GET", "/_sim/webhooks"))["deliveries"][seen:]
        if deliveries and all(d["attempts"] and d["attempts"][-1]["status"] for d in deliveries):
            return list(deliveries)
        assert asyncio.get_running_loop().time() < deadline, deliveries
        await asyncio.sleep(0.1)


def _summary(deliveries: list[dict[str, Any]]) -> list[tuple[str, str, list[int | None]]]:
    return [(d["type"], d["state"], [a["status"] for a in d["attempts"]]) for d in deliveries]


async def _plug(stack: DemoStack, vehicle: dict[str, Any], plugged_in: bool) -> float:
    """Plug a car in or out in the simulator; return the loop time it happened."""
    await stack.sim("POST", f"/_sim/vehicles/{vehicle['id']}/plug", {"plugged_in": plugged_in})
    return asyncio.get_running_loop().time()


async def _check_push(stack: DemoStack) -> None:
    """The demo set push updates up: plug changes arrive by webhook within seconds.

    A delivery with a bad signature is refused and changes nothing.
    """
    loop = asyncio.get_running_loop()
    # The demo gave the portal the URL the push step showed, and the step the portal's secret.
    webhooks = await stack.sim("GET", "/_sim/webhooks")
    endpoint = webhooks["endpoint"]
    assert stack.webhook_url.startswith(f"{stack.ha_url}/api/webhook/")
    assert endpoint["url"] == stack.webhook_url
    form = await stack.open_options("push")
    await stack._json("DELETE", f"/api/config/config_entries/options/flow/{form['flow_id']}")
    assert not form["errors"]
    assert form["description_placeholders"]["webhook_url"] == stack.webhook_url
    [secret_field] = form["data_schema"]
    assert secret_field["name"] == "webhook_secret"
    assert secret_field["description"]["suggested_value"] == endpoint["secret"]
    # Nothing was delivered yet, so push does not count as working yet.
    assert (await stack.states())[PUSH_ACTIVE]["state"] == "off"
    assert webhooks["deliveries"] == []
    # Svix timestamps come from the simulator's clock, which stood still since the start; Home
    # Assistant takes them within 5 minutes of its own. (It keeps standing still: no retries.)
    await stack.sim("POST", "/_sim/clock", {"set": datetime.now(UTC).isoformat()})
    world = await stack.sim("GET", "/_sim/state")
    family_car, leaf = _vehicle(world, "Family car"), _vehicle(world, "")
    states = await stack.states()
    assert (states[FAMILY_CAR_PLUGGED_IN]["state"], states[LEAF_PLUGGED_IN]["state"]) == (
        "on",
        "off",
    )

    # The family car leaves: the webhook makes Home Assistant read the live state at once.
    unplugged = await _plug(stack, family_car, plugged_in=False)
    await stack.wait_for(FAMILY_CAR_PLUGGED_IN, lambda s: s == "off", within=PUSH_WITHIN)
    unplug_seconds = loop.time() - unplugged
    assert _summary(await _new_deliveries(stack, 0)) == [
        ("charging_sub_session.ended", "delivered", [200])
    ]
    assert (await stack.states())[PUSH_ACTIVE]["state"] == "on"

    # A delivery signed with another key is refused (401) and changes nothing: not even after
    # the read window has passed is the live state read again.
    await stack.sim("POST", "/_sim/webhooks/faults", {"kind": "bad_signature", "count": 1})
    await stack.sim("DELETE", "/_sim/requests")
    await _plug(stack, family_car, plugged_in=True)
    assert _summary(await _new_deliveries(stack, 1)) == [
        ("charging_sub_session.created", "pending", [401])
    ]
    await asyncio.sleep(max(0.0, unplugged + PUSH_REFRESH_WINDOW + 2 - loop.time()))
    assert (await stack.states())[FAMILY_CAR_PLUGGED_IN]["state"] == "off"
    requests = await stack.sim("GET", "/_sim/requests")
    assert [r["path"] for r in requests if r["path"].startswith("/v2/vehicles")] == []
    assert await stack.sim("GET", "/_sim/webhooks/faults") == []

    # A guest's car plugs in: its verified webhook brings it, and the family car's return too.
    plugged = await _plug(stack, leaf, plugged_in=True)
    await stack.wait_for(LEAF_PLUGGED_IN, lambda s: s == "on", within=PUSH_WITHIN)
    plug_seconds = loop.time() - plugged
    assert _summary(await _new_deliveries(stack, 2)) == [
        ("charging_sub_session.created", "delivered", [200])
    ]
    assert (await stack.states())[FAMILY_CAR_PLUGGED_IN]["state"] == "on"
    print(f"push: unplug shown in {unplug_seconds:.2f} s, plug-in in {plug_seconds:.2f} s")
