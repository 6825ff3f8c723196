"""The charging plan through a real config entry: sensors, binary sensor, calendar, action."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    load_json_object_fixture,
)

from custom_components.ev_energy.const import DOMAIN

from .conftest import (
    EVSE_ID,
    SCHEDULES_URL,
    SESSIONS_URL,
    VEHICLE_ID,
    VEHICLE_NO_STATUS_ID,
    VEHICLE_PAGE2_ID,
    Fault,
    MockApi,
    setup_integration,
    state_of,
)

NEXT_START = "sensor.family_car_next_charge_start"
PLANNED_END = "sensor.family_car_planned_charge_end"
ENERGY = "sensor.family_car_planned_energy"
COST = "sensor.family_car_planned_cost"
CO2 = "sensor.family_car_planned_co2"
PLANNED = "binary_sensor.family_car_charging_planned"
CALENDAR = "calendar.family_car_charging_calendar"
PLAN_SENSORS = (NEXT_START, PLANNED_END, ENERGY, COST, CO2, PLANNED, CALENDAR)
PLAN_FIGURES = ("planned_energy", "planned_cost", "planned_co2")
# What the plan sensors' attributes say of an estimate, which a car without a plan has not.
ASSUMED = {
    "ready_by",
    "voltage",
    "voltage_source",
    "priced_cost",
    "unpriced_energy_kwh",
    "carbon_intensity",
    "carbon_intensity_source",
}

pytestmark = pytest.mark.usefixtures("setup_credentials")


def _schedules(fixture: str) -> dict[str, Any]:
    return load_json_object_fixture(fixture)


def _interval(start: str, current: int = 32000, seconds: int | None = 1800) -> dict[str, Any]:
    return {
        "started_at": start,
        "interval_seconds": seconds,
        "current_milliamps": current,
        "schedule_type": "SMART",
    }


async def _move(hass: HomeAssistant, freezer: FrozenDateTimeFactory, to: datetime) -> None:
    freezer.move_to(to)
    async_fire_time_changed(hass, to)
    await hass.async_block_till_done(wait_background_tasks=True)


def _schedule_calls(mock_api: MockApi) -> int:
    return sum("/schedules" in str(call[1]) for call in mock_api.calls())


async def test_plan_sensors(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    """Two slots ahead: 13:00-14:00 and 22:30-23:30 at 32 A on a charger reporting 239.8 V."""
    await setup_integration(hass, config_entry)

    assert state_of(hass, NEXT_START).state == "2026-11-22T13:00:00+00:00"
    assert state_of(hass, PLANNED_END).state == "2026-11-22T23:30:00+00:00"
    assert state_of(hass, PLANNED).state == STATE_OFF
    energy = state_of(hass, ENERGY)
    # 32 A x 239.8 V = 7.6736 kW for two hours.
    assert float(energy.state) == pytest.approx(15.347)
    assert energy.attributes["unit_of_measurement"] == "kWh"
    assert energy.attributes["voltage"] == 239.8
    assert energy.attributes["voltage_source"] == "charger"
    cost = state_of(hass, COST)
    # 7.6736 kWh at 18p, then 3.8368 kWh at 15p and at 14p.
    assert float(cost.state) == pytest.approx(2.4939)
    assert cost.attributes["unit_of_measurement"] == "GBP"
    assert cost.attributes["unpriced_energy_kwh"] == 0
    co2 = state_of(hass, CO2)
    assert float(co2.state) == pytest.approx(15.3472 * 182 / 1000, abs=0.001)
    assert co2.attributes["carbon_intensity"] == 182
    assert co2.attributes["carbon_intensity_source"] == "current"
    # The other vehicles have no open session: no plan, and their plans are not read.
    assert [
        str(call[1].with_query(None)) for call in mock_api.calls() if "/sched" in str(call[1])
    ] == [SCHEDULES_URL]


async def test_charging_planned_flips_at_the_boundary_without_a_request(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A local timer flips the state at 10:30:00 exactly; no poll is due then."""
    # One price for the whole morning, so no price boundary updates the entity at 10:30.
    mock_api.prices = [
        {"started_at": "2026-11-22T08:00:00Z", "interval_seconds": 14400, "price_minor_units": 20}
    ]
    mock_api.schedules["schedules"] = [
        _interval("2026-11-22T10:00:00Z", current=0),
        _interval("2026-11-22T10:30:00Z"),
    ]
    await setup_integration(hass, config_entry)
    assert state_of(hass, PLANNED).state == STATE_OFF

    # The live poll runs at 10:29:59 (and next at 10:30:59); the plan is due at 10:40.
    await _move(hass, freezer, datetime(2026, 11, 22, 10, 29, 59, tzinfo=UTC))
    assert state_of(hass, PLANNED).state == STATE_OFF
    before = len(mock_api.calls())

    await _move(hass, freezer, datetime(2026, 11, 22, 10, 30, tzinfo=UTC))

    planned = state_of(hass, PLANNED)
    assert planned.state == STATE_ON
    assert planned.attributes["type"] == "smart"
    assert planned.last_changed == datetime(2026, 11, 22, 10, 30, tzinfo=UTC)
    assert len(mock_api.calls()) == before, "the flip needed no request"
    # The slot in progress: it started at 10:30 and what remains of it is planned.
    assert state_of(hass, NEXT_START).state == "2026-11-22T10:30:00+00:00"

    await _move(hass, freezer, datetime(2026, 11, 22, 11, 0, tzinfo=UTC))
    assert state_of(hass, PLANNED).state == STATE_OFF
    assert state_of(hass, NEXT_START).state == STATE_UNKNOWN


async def test_empty_plan_and_no_plan(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    """A plan with nothing in it plans nothing (0); a car without a plan has unknown figures.

    The family car is plugged in and its plan has no slot; the van has no open session.
    """
    mock_api.schedules = _schedules("schedules_empty.json")
    await setup_integration(hass, config_entry)
    assert state_of(hass, PLANNED).state == STATE_OFF
    assert state_of(hass, NEXT_START).state == STATE_UNKNOWN
    assert state_of(hass, PLANNED_END).state == STATE_UNKNOWN
    for entity_id in (ENERGY, COST, CO2):
        assert float(state_of(hass, entity_id).state) == 0, entity_id
    assert state_of(hass, COST).attributes["priced_cost"] == 0

    for key in ("next_charge_start", "planned_charge_end", *PLAN_FIGURES):
        state = state_of(hass, f"sensor.van_{key}")
        assert state.state == STATE_UNKNOWN, key
        assumed = {name: value for name, value in state.attributes.items() if name in ASSUMED}
        assert set(assumed.values()) <= {None}, (key, assumed)


async def test_boost_slot_has_no_end(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    """Boost (interval_seconds null): charging now, no planned end, no energy estimate."""
    mock_api.schedules = _schedules("schedules_boost.json")
    await setup_integration(hass, config_entry)
    planned = state_of(hass, PLANNED)
    assert planned.state == STATE_ON
    assert planned.attributes["type"] == "boost"
    assert state_of(hass, NEXT_START).state == "2026-11-22T10:00:00+00:00"
    assert state_of(hass, PLANNED_END).state == STATE_UNKNOWN
    for entity_id in (ENERGY, COST, CO2):
        assert state_of(hass, entity_id).state == STATE_UNKNOWN
    calendar = state_of(hass, CALENDAR)
    assert calendar.state == STATE_ON
    assert calendar.attributes["message"] == "Planned charging"
    assert "Until stopped" in calendar.attributes["description"]


async def test_boost_starts_when_it_was_turned_on(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    """A boost begun at 10:05 is planned from the half-hour (10:00): charging starts at 10:05."""
    session = mock_api.sessions[0]
    smart = session["sub_sessions"][-1]
    smart["end"] = "2026-11-22T10:05:00Z"
    session["sub_sessions"].append(
        {**smart, "id": "csub-BOOST", "start": "2026-11-22T10:05:00Z", "end": None, "mode": "BOOST"}
    )
    mock_api.schedules = _schedules("schedules_boost.json")
    await setup_integration(hass, config_entry)
    assert state_of(hass, PLANNED).state == STATE_ON
    assert state_of(hass, NEXT_START).state == "2026-11-22T10:05:00+00:00"
    events = await _events(hass, "2026-11-22T10:00:00+00:00", "2026-11-22T12:00:00+00:00")
    planned = [event for event in events if event["summary"] == "Planned charging"]
    assert [event["start"] for event in planned] == ["2026-11-22T10:05:00+00:00"]


async def test_unknown_schedule_type_is_still_a_plan(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    mock_api.schedules = _schedules("schedules_unknown_type.json")
    await setup_integration(hass, config_entry)
    assert state_of(hass, NEXT_START).state == "2026-11-22T13:00:00+00:00"
    assert state_of(hass, PLANNED_END).state == "2026-11-22T14:00:00+00:00"
    # 16 A x 239.8 V for an hour.
    assert float(state_of(hass, ENERGY).state) == pytest.approx(3.837, abs=0.001)


async def test_plan_across_midnight_with_tomorrow_unpriced(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    """23:00-01:00 and battery warming 06:00-07:00; prices are known until midnight only."""
    mock_api.schedules = _schedules("schedules_midnight.json")
    await setup_integration(hass, config_entry)
    assert state_of(hass, NEXT_START).state == "2026-11-22T23:00:00+00:00"
    end = state_of(hass, PLANNED_END)
    assert end.state == "2026-11-23T07:00:00+00:00"
    assert end.attributes["ready_by"] == "2026-11-23T07:00:00+00:00"
    # Two hours at 7.6736 kW and one at 3.8368 kW.
    assert float(state_of(hass, ENERGY).state) == pytest.approx(19.184)
    cost = state_of(hass, COST)
    assert cost.state == STATE_UNKNOWN
    # Only 23:00-00:00 is priced (14p and 13p).
    assert cost.attributes["priced_cost"] == pytest.approx(3.8368 * 0.27, abs=0.0001)
    # 00:00-01:00 and 06:00-07:00 are not.
    assert cost.attributes["unpriced_energy_kwh"] == pytest.approx(7.6736 + 3.8368, abs=0.001)


async def test_plan_across_a_dst_change(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """01:00-02:00 London happens twice on 25 October: four half-hours, two hours of charge."""
    freezer.move_to(datetime(2026, 10, 24, 20, 0, tzinfo=UTC))
    # Plugged in that evening; the fixture's other sessions are still to come.
    session = mock_api.sessions[0]
    session["start"] = session["sub_sessions"][-1]["start"] = "2026-10-24T19:00:00Z"
    mock_api.sessions = [session]
    mock_api.schedules = _schedules("schedules_dst.json")
    await setup_integration(hass, config_entry)
    assert state_of(hass, NEXT_START).state == "2026-10-25T00:00:00+00:00"
    assert state_of(hass, PLANNED_END).state == "2026-10-25T02:00:00+00:00"
    assert float(state_of(hass, ENERGY).state) == pytest.approx(15.347)

    await _move(hass, freezer, datetime(2026, 10, 25, 1, 0, tzinfo=UTC))  # 01:00 GMT
    assert state_of(hass, PLANNED).state == STATE_ON
    assert float(state_of(hass, ENERGY).state) == pytest.approx(7.674, abs=0.001)
    await _move(hass, freezer, datetime(2026, 10, 25, 2, 0, tzinfo=UTC))
    assert state_of(hass, PLANNED).state == STATE_OFF


async def test_forbidden_plan_raises_the_permission_repair(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    mock_api.fail(SCHEDULES_URL, Fault(status=403))
    await setup_integration(hass, config_entry)
    issue_id = f"{config_entry.entry_id}_forbidden_plans"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "permission_denied"
    assert issue.translation_placeholders == {"feature": "plans"}
    for entity_id in PLAN_SENSORS:
        assert state_of(hass, entity_id).state == STATE_UNAVAILABLE
    # Everything else works.
    assert state_of(hass, "binary_sensor.family_car_plugged_in").state == STATE_ON

    await _move(hass, freezer, datetime(2026, 11, 22, 10, 41, tzinfo=UTC))
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    assert state_of(hass, NEXT_START).state == "2026-11-22T13:00:00+00:00"


async def test_a_lasting_403_keeps_to_the_budget(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A refusal is not an outage: no catch-up after every live poll; it backs off from 30 min."""
    mock_api.fail(SCHEDULES_URL, Fault(status=403), times=100)
    await setup_integration(hass, config_entry)
    start = datetime(2026, 11, 22, 10, 10, tzinfo=UTC)
    for minute in range(1, 61):
        await _move(hass, freezer, start + timedelta(minutes=minute))
    assert _schedule_calls(mock_api) == 2  # at setup and 10:40; then 11:40
    assert state_of(hass, NEXT_START).state == STATE_UNAVAILABLE


async def test_requests_per_plugged_in_car(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Two reads an hour while plugged in; one at once on plug-in; none while unplugged."""
    open_session = mock_api.sessions[0]
    open_session["end"] = open_session["sub_sessions"][-1]["end"] = "2026-11-22T10:00:00Z"
    mock_api.vehicles[0]["latest_status_log"]["is_plugged_in"] = False
    await setup_integration(hass, config_entry)
    start = datetime(2026, 11, 22, 10, 10, tzinfo=UTC)
    for minute in range(1, 61):
        await _move(hass, freezer, start + timedelta(minutes=minute))
    assert _schedule_calls(mock_api) == 0, "no plan is read for an unplugged car"

    # Plugged in again: a new session with a new sub-session.
    mock_api.sessions.insert(
        0,
        {
            **open_session,
            "id": "cses01HSH04KDEWF6Z4DB2J77J7DDD",
            "start": "2026-11-22T11:10:00Z",
            "end": None,
            "sub_sessions": [
                {**open_session["sub_sessions"][0], "id": "csub-NEW", "end": None},
            ],
        },
    )
    mock_api.vehicles[0]["latest_status_log"]["is_plugged_in"] = True
    for minute in range(61, 66):
        await _move(hass, freezer, start + timedelta(minutes=minute))
    assert _schedule_calls(mock_api) == 1
    urls = [str(call[1].with_query(None)) for call in mock_api.calls()]
    read = next(i for i, url in enumerate(urls) if url.endswith("/csub-NEW/schedules"))
    assert urls[read - 1] == SESSIONS_URL, "read at once when the new session is seen"

    for minute in range(66, 126):
        await _move(hass, freezer, start + timedelta(minutes=minute))
    assert _schedule_calls(mock_api) == 3, "then every 30 minutes"


async def _get_charge_plan(hass: HomeAssistant, data: dict[str, Any]) -> dict[str, Any]:
    response = await hass.services.async_call(
        DOMAIN, "get_charge_plan", data, blocking=True, return_response=True
    )
    assert response is not None
    return dict(response)


async def test_get_charge_plan(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    await setup_integration(hass, config_entry)
    response = await _get_charge_plan(hass, {"config_entry": config_entry.entry_id})
    vehicles = response["vehicles"]
    assert set(vehicles) == {VEHICLE_ID, VEHICLE_NO_STATUS_ID, VEHICLE_PAGE2_ID}
    assert vehicles[VEHICLE_ID] == {
        "name": "Family car",
        "slots": [
            {
                "start": "2026-11-22T13:00:00+00:00",
                "end": "2026-11-22T14:00:00+00:00",
                "power_w": 7674.0,
                "energy_kwh": 7.674,
                "price": 0.18,
                "cost": 1.3812,
                "type": "smart",
            },
            {
                "start": "2026-11-22T22:30:00+00:00",
                "end": "2026-11-22T23:30:00+00:00",
                "power_w": 7674.0,
                "energy_kwh": 7.674,
                "price": 0.145,
                "cost": 1.1127,
                "type": "smart",
            },
        ],
        "energy_kwh": 15.347,
        "cost": 2.4939,
        "currency": "GBP",
        "co2_kg": 2.793,
        "ready_by": None,
    }
    assert vehicles[VEHICLE_PAGE2_ID]["slots"] == []
    assert vehicles[VEHICLE_PAGE2_ID]["energy_kwh"] == 0

    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, VEHICLE_ID), config_entry.entry_id
    )
    assert device is not None
    one = await _get_charge_plan(
        hass, {"config_entry": config_entry.entry_id, "device_id": device.id}
    )
    assert list(one["vehicles"]) == [VEHICLE_ID]


async def test_get_charge_plan_boost(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    mock_api.schedules = _schedules("schedules_boost.json")
    await setup_integration(hass, config_entry)
    response = await _get_charge_plan(hass, {"config_entry": config_entry.entry_id})
    plan = response["vehicles"][VEHICLE_ID]
    assert plan["slots"] == [
        {
            "start": "2026-11-22T10:10:00+00:00",
            "end": None,
            "power_w": 7674.0,
            "energy_kwh": None,
            "price": None,
            "cost": None,
            "type": "boost",
        }
    ]
    assert (plan["energy_kwh"], plan["cost"], plan["co2_kg"]) == (None, None, None)


async def test_get_charge_plan_errors(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    await setup_integration(hass, config_entry)
    registry = dr.async_get(hass)
    charger = registry.async_get_device_by_identifier((DOMAIN, EVSE_ID), config_entry.entry_id)
    assert charger is not None
    for device_id in (charger.id, "no-such-device"):
        with pytest.raises(ServiceValidationError) as err:
            await _get_charge_plan(
                hass, {"config_entry": config_entry.entry_id, "device_id": device_id}
            )
        assert err.value.translation_key == "device_not_vehicle"

    await hass.config_entries.async_unload(config_entry.entry_id)
    assert config_entry.state is ConfigEntryState.NOT_LOADED
    with pytest.raises(ServiceValidationError) as err:
        await _get_charge_plan(hass, {"config_entry": config_entry.entry_id})
    assert err.value.translation_key == "entry_not_loaded"


async def _events(
    hass: HomeAssistant, start: str, end: str, calendar: str = CALENDAR
) -> list[dict[str, Any]]:
    response = await hass.services.async_call(
        "calendar",
        "get_events",
        {"entity_id": calendar, "start_date_time": start, "end_date_time": end},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    return cast("list[dict[str, Any]]", cast("dict[str, Any]", response[calendar])["events"])


async def test_calendar_shows_last_week_and_tonight(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    await setup_integration(hass, config_entry)
    events = await _events(hass, "2026-11-15T00:00:00+00:00", "2026-11-24T00:00:00+00:00")
    assert [(e["start"], e["end"], e["summary"]) for e in events] == [
        ("2026-11-20T18:00:00+00:00", "2026-11-21T07:00:00+00:00", "Charging session"),
        ("2026-11-22T08:00:00+00:00", "2026-11-22T12:00:00+00:00", "Charging session (plugged in)"),
        ("2026-11-22T13:00:00+00:00", "2026-11-22T14:00:00+00:00", "Planned charging"),
        ("2026-11-22T22:30:00+00:00", "2026-11-22T23:30:00+00:00", "Planned charging"),
    ]
    assert events[1]["description"] == "Mode: Smart\nEnergy: 12.40 kWh\nCost: 1.98 GBP"
    assert events[0]["description"] == "Mode: unknown"
    assert events[3]["description"] == (
        "Mode: Smart\nPower: 7.7 kW\nEnergy: about 7.67 kWh\nCost: about 1.11 GBP"
    )


async def test_calendar_forgets_sessions_older_than_a_week(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    mock_api.sessions[2]["start"] = "2026-11-14T18:00:00Z"
    mock_api.sessions[2]["end"] = "2026-11-15T10:00:00Z"
    await setup_integration(hass, config_entry)
    events = await _events(hass, "2026-11-01T00:00:00+00:00", "2026-11-22T10:00:00+00:00")
    assert [e["summary"] for e in events] == ["Charging session (plugged in)"]


async def test_an_open_session_is_in_progress_until_it_ends(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Plugged in since 08:00: the calendar is on, its session running until the end of the
    next hour, moved on every hour; unplugged at 11:20, the session ends and the calendar is off.
    """
    mock_api.schedules = _schedules("schedules_empty.json")
    await setup_integration(hass, config_entry)
    calendar = state_of(hass, CALENDAR)
    assert calendar.state == STATE_ON
    assert calendar.attributes["message"] == "Charging session (plugged in)"
    events = await _events(hass, "2026-11-22T10:10:00+00:00", "2026-11-22T10:11:00+00:00")
    assert [(e["start"], e["end"]) for e in events] == [
        ("2026-11-22T08:00:00+00:00", "2026-11-22T12:00:00+00:00")
    ]

    await _move(hass, freezer, datetime(2026, 11, 22, 11, 0, tzinfo=UTC))
    events = await _events(hass, "2026-11-22T11:00:00+00:00", "2026-11-22T11:01:00+00:00")
    assert [e["end"] for e in events] == ["2026-11-22T13:00:00+00:00"]
    calendar = state_of(hass, CALENDAR)
    assert (calendar.state, calendar.last_updated) == (
        STATE_ON,
        datetime(2026, 11, 22, 11, 0, tzinfo=UTC),
    )

    session = mock_api.sessions[0]
    session["end"] = session["sub_sessions"][-1]["end"] = "2026-11-22T11:20:00Z"
    mock_api.vehicles[0]["latest_status_log"]["is_plugged_in"] = False
    for minute in range(21, 23):
        await _move(hass, freezer, datetime(2026, 11, 22, 11, minute, tzinfo=UTC))
    assert state_of(hass, CALENDAR).state == STATE_OFF
    events = await _events(hass, "2026-11-22T11:00:00+00:00", "2026-11-22T12:00:00+00:00")
    assert [(e["end"], e["summary"]) for e in events] == [
        ("2026-11-22T11:20:00+00:00", "Charging session")
    ]


async def test_calendar_speaks_the_language(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    """In German: German titles and descriptions, decimals with a comma."""
    hass.config.language = "de"
    await setup_integration(hass, config_entry)
    # German entity ids are made from the German names.
    calendar = er.async_get(hass).async_get_entity_id("calendar", DOMAIN, f"{VEHICLE_ID}_charging")
    assert calendar is not None
    events = await _events(hass, "2026-11-15T00:00:00+00:00", "2026-11-24T00:00:00+00:00", calendar)
    assert [(e["summary"], e["description"]) for e in events] == [
        ("Ladevorgang", "Modus: unbekannt"),
        ("Ladevorgang (eingesteckt)", "Modus: Intelligent\nEnergie: 12,40 kWh\nKosten: 1,98 GBP"),
        (
            "Geplantes Laden",
            "Modus: Intelligent\nLeistung: 7,7 kW\nEnergie: etwa 7,67 kWh\nKosten: etwa 1,38 GBP",
        ),
        (
            "Geplantes Laden",
            "Modus: Intelligent\nLeistung: 7,7 kW\nEnergie: etwa 7,67 kWh\nKosten: etwa 1,11 GBP",
        ),
    ]

    # A language the integration is not translated into: English.
    hass.config.language = "pt"
    events = await _events(hass, "2026-11-15T00:00:00+00:00", "2026-11-24T00:00:00+00:00", calendar)
    assert events[0]["summary"] == "Charging session"
