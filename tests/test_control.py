"""Control and history: smart charging, boost, sessions, dynamic devices, connectivity."""

from __future__ import annotations

import copy
from datetime import timedelta
from http import HTTPStatus

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.switch.const import DOMAIN as SWITCH_DOMAIN
from homeassistant.const import ATTR_ENTITY_ID, SERVICE_TURN_OFF, SERVICE_TURN_ON
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.ev_energy import async_remove_config_entry_device
from custom_components.ev_energy.const import DOMAIN, UPDATE_INTERVAL

from .conftest import (
    API,
    CONNECTIVITY_URL,
    OPEN_SESSION_URL,
    SESSIONS_URL,
    VEHICLE_ID,
    VEHICLES_URL,
    Fault,
    MockApi,
    setup_integration,
    state_of,
)

SMART = "switch.family_car_smart_charging"
BOOST = "switch.family_car_boost"
NEW_VEHICLE_ID = "vhcl01HRFF3SEVSCRAV9B3CHVDFN9Z"


async def _poll(hass: HomeAssistant, freezer: FrozenDateTimeFactory, every: timedelta) -> None:
    freezer.tick(every)
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


async def _switch(hass: HomeAssistant, entity_id: str, on: bool) -> None:
    await hass.services.async_call(
        SWITCH_DOMAIN,
        SERVICE_TURN_ON if on else SERVICE_TURN_OFF,
        {ATTR_ENTITY_ID: entity_id},
        blocking=True,
    )
    await hass.async_block_till_done(wait_background_tasks=True)


@pytest.mark.usefixtures("setup_credentials")
async def test_smart_charging_switch(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    """Turning smart charging off PATCHes the vehicle; the answer shows at once."""
    await setup_integration(hass, config_entry)
    assert state_of(hass, SMART).state == "on"
    before = len(mock_api.calls())

    await _switch(hass, SMART, on=False)

    (patch,) = mock_api.calls()[before:]
    assert patch[0] == "PATCH"
    assert str(patch[1].with_query(None)) == f"{VEHICLES_URL}/{VEHICLE_ID}"
    assert patch[2] == {"smart_charging_enabled": False}
    assert state_of(hass, SMART).state == "off"


@pytest.mark.usefixtures("setup_credentials")
async def test_smart_charging_rejected_keeps_state(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    """A refused change is an error and the switch keeps the real value."""
    await setup_integration(hass, config_entry)
    mock_api.fail(f"{VEHICLES_URL}/{VEHICLE_ID}", Fault(status=HTTPStatus.BAD_REQUEST))
    with pytest.raises(HomeAssistantError):
        await _switch(hass, SMART, on=False)
    assert state_of(hass, SMART).state == "on"


@pytest.mark.usefixtures("setup_credentials")
async def test_boost_on_then_confirmed(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Boost POSTs boost_start on the open session, shows on at once, and stays on."""
    await setup_integration(hass, config_entry)
    assert state_of(hass, BOOST).state == "off"
    before = len(mock_api.calls())

    await _switch(hass, BOOST, on=True)

    sent = mock_api.calls()[before:]
    assert [(call[0], str(call[1].with_query(None))) for call in sent] == [
        ("POST", f"{OPEN_SESSION_URL}/boost_start"),
        ("GET", SESSIONS_URL),
        # A new sub-session: its plan is read at once.
        ("GET", f"{API}/charging_sub_sessions/csub-BOOST/schedules"),
    ]
    assert state_of(hass, BOOST).state == "on"
    # Later polls confirm it: no flip back.
    await _poll(hass, freezer, timedelta(minutes=5))
    assert state_of(hass, BOOST).state == "on"
    assert state_of(hass, "sensor.family_car_last_session_mode").state == "boost"

    await _switch(hass, BOOST, on=False)
    assert mock_api.calls()[-3][1].path.endswith("/boost_end")
    assert state_of(hass, BOOST).state == "off"


@pytest.mark.usefixtures("setup_credentials")
async def test_boost_refused_with_409(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    """A 409 (e.g. smart charging off) is a clear error and boost stays off."""
    await setup_integration(hass, config_entry)
    mock_api.fail(
        f"{OPEN_SESSION_URL}/boost_start",
        Fault(
            status=HTTPStatus.CONFLICT,
            body={
                "title": "Conflict",
                "status": 409,
                "detail": "Smart charging is turned off for this vehicle.",
            },
        ),
    )
    with pytest.raises(HomeAssistantError) as err:
        await _switch(hass, BOOST, on=True)
    assert err.value.translation_key == "boost_refused"
    assert "Smart charging is turned off" in str(err.value)
    assert state_of(hass, BOOST).state == "off"


@pytest.mark.usefixtures("setup_credentials")
async def test_boost_without_open_session(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    """A vehicle whose last session has ended cannot boost: clear error, nothing sent."""
    await setup_integration(hass, config_entry)
    before = len(mock_api.calls())
    with pytest.raises(HomeAssistantError) as err:
        await _switch(hass, "switch.nissan_leaf_boost", on=True)
    assert err.value.translation_key == "not_plugged_in"
    assert len(mock_api.calls()) == before


@pytest.mark.usefixtures("setup_credentials")
async def test_session_spanning_midnight(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    """An overnight session adds up all its sub-sessions, in major units and kWh."""
    await setup_integration(hass, config_entry)
    expected = {
        "sensor.nissan_leaf_last_session_start": "2026-11-21T22:40:00+00:00",
        "sensor.nissan_leaf_last_session_end": "2026-11-22T06:55:00+00:00",
        "sensor.nissan_leaf_last_session_energy": "23.5",
        "sensor.nissan_leaf_last_session_cost": "2.84",
        "sensor.nissan_leaf_last_session_savings": "0.93",
        "sensor.nissan_leaf_last_session_co2": "3.6",
        "sensor.nissan_leaf_last_session_mode": "boost",
        "sensor.family_car_last_session_end": "unknown",
        "sensor.van_last_session_energy": "unknown",
    }
    assert {entity_id: state_of(hass, entity_id).state for entity_id in expected} == expected


@pytest.mark.usefixtures("setup_credentials")
async def test_session_energy_is_energy_dashboard_safe(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Grows within a session, ignores a late lower figure, restarts with a new session."""
    energy = "sensor.family_car_session_energy"
    await setup_integration(hass, config_entry)
    # One meter cycle per session (statistics are proven in test_session_energy.py).
    assert state_of(hass, energy).attributes["state_class"] == "total"
    assert state_of(hass, energy).attributes["last_reset"] == "2026-11-22T08:00:00+00:00"
    sub = mock_api.sessions[0]["sub_sessions"][0]
    readings = []
    for watt_hours in (15000, 14200, 16000):
        sub["energy_delivered_watt_hours"] = watt_hours
        await _poll(hass, freezer, timedelta(minutes=10))
        readings.append(state_of(hass, energy).state)
    assert readings == ["15.0", "15.0", "16.0"]

    # Unplugged, then plugged in again: a new session begins with little energy.
    new_session = copy.deepcopy(mock_api.sessions[0])
    new_session["id"] = "cses01HSH04KDEWF6Z4DB2J77J7DDD"
    new_session["start"] = "2026-11-22T11:00:00Z"
    new_session["sub_sessions"][0]["energy_delivered_watt_hours"] = 800
    mock_api.sessions[0]["end"] = "2026-11-22T10:40:00Z"
    mock_api.sessions.insert(0, new_session)
    await _poll(hass, freezer, timedelta(minutes=10))
    assert state_of(hass, energy).state == "0.8"
    assert state_of(hass, energy).attributes["last_reset"] == "2026-11-22T11:00:00+00:00"


@pytest.mark.usefixtures("setup_credentials")
async def test_plug_change_reads_sessions_at_once(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Unplugging ends a session: sessions are read on the next live poll, not 10 min later."""
    await setup_integration(hass, config_entry)
    mock_api.vehicles_page2 = []
    await _poll(hass, freezer, UPDATE_INTERVAL)
    before = len(mock_api.calls(SESSIONS_URL))
    mock_api.vehicles[0]["latest_status_log"]["is_plugged_in"] = False
    await _poll(hass, freezer, UPDATE_INTERVAL)
    assert len(mock_api.calls(SESSIONS_URL)) == before + 1
    await _poll(hass, freezer, UPDATE_INTERVAL)
    assert len(mock_api.calls(SESSIONS_URL)) == before + 1


@pytest.mark.usefixtures("setup_credentials")
async def test_vehicle_added_and_removed_without_reload(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> None:
    """A new vehicle gets its device and entities; a vanished one is removed after 3 polls."""
    await setup_integration(hass, config_entry)
    entities_before = len(er.async_entries_for_config_entry(entity_registry, config_entry.entry_id))
    added = copy.deepcopy(mock_api.vehicles[0])
    added.update(id=NEW_VEHICLE_ID, description="Second car")
    mock_api.vehicles.append(added)

    await _poll(hass, freezer, UPDATE_INTERVAL)
    assert state_of(hass, "sensor.second_car_state_of_charge").state == "63"
    new_device = device_registry.async_get_device_by_identifier(
        (DOMAIN, NEW_VEHICLE_ID), config_entry.entry_id
    )
    assert new_device is not None
    per_vehicle = (
        len(er.async_entries_for_config_entry(entity_registry, config_entry.entry_id))
        - entities_before
    )
    assert per_vehicle > 10

    mock_api.vehicles.remove(added)
    for poll in range(3):
        await _poll(hass, freezer, UPDATE_INTERVAL)
        gone = (
            device_registry.async_get_device_by_identifier(
                (DOMAIN, NEW_VEHICLE_ID), config_entry.entry_id
            )
            is None
        )
        assert gone == (poll == 2), f"after poll {poll + 1}"
        if not gone:
            assert state_of(hass, "sensor.second_car_state_of_charge").state == "unavailable"
    assert hass.states.get("sensor.second_car_state_of_charge") is None

    # It comes back: entities return, none duplicated.
    mock_api.vehicles.append(added)
    await _poll(hass, freezer, UPDATE_INTERVAL)
    assert state_of(hass, "sensor.second_car_state_of_charge").state == "63"
    assert (
        len(er.async_entries_for_config_entry(entity_registry, config_entry.entry_id))
        == entities_before + per_vehicle
    )


@pytest.mark.usefixtures("setup_credentials")
async def test_brief_absence_keeps_device(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
    device_registry: dr.DeviceRegistry,
) -> None:
    """Missing from one or two answers (a glitch) makes entities unavailable, nothing more."""
    await setup_integration(hass, config_entry)
    car = mock_api.vehicles.pop(0)
    await _poll(hass, freezer, UPDATE_INTERVAL)
    await _poll(hass, freezer, UPDATE_INTERVAL)
    assert state_of(hass, "sensor.family_car_state_of_charge").state == "unavailable"
    mock_api.vehicles.insert(0, car)
    await _poll(hass, freezer, UPDATE_INTERVAL)
    assert state_of(hass, "sensor.family_car_state_of_charge").state == "63"
    assert (
        device_registry.async_get_device_by_identifier((DOMAIN, VEHICLE_ID), config_entry.entry_id)
        is not None
    )


@pytest.mark.usefixtures("setup_credentials")
async def test_manual_device_removal(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    device_registry: dr.DeviceRegistry,
) -> None:
    """Only devices no longer in the account may be removed by hand."""
    await setup_integration(hass, config_entry)
    car = device_registry.async_get_device_by_identifier(
        (DOMAIN, VEHICLE_ID), config_entry.entry_id
    )
    assert car is not None
    assert not await async_remove_config_entry_device(hass, config_entry, car)
    stale = device_registry.async_get_or_create(
        config_entry_id=config_entry.entry_id,
        identifiers={(DOMAIN, "vhcl01OLDOLDOLDOLDOLDOLDOLDOL")},
    )
    assert await async_remove_config_entry_device(hass, config_entry, stale)


@pytest.mark.usefixtures("setup_credentials")
async def test_connectivity_read_hourly(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Connectivity is read once an hour; its failure affects only its own entities."""
    reliability = "sensor.hypervolt_home_3_0_connection_reliability_30_days"
    await setup_integration(hass, config_entry)
    assert state_of(hass, reliability).state == "97"
    mock_api.fail(CONNECTIVITY_URL, Fault(status=HTTPStatus.SERVICE_UNAVAILABLE), times=2)
    await _poll(hass, freezer, timedelta(minutes=30))
    assert len(mock_api.calls(CONNECTIVITY_URL)) == 1
    await _poll(hass, freezer, timedelta(minutes=31))
    assert len(mock_api.calls(CONNECTIVITY_URL)) == 2
    # One failure is a blip, retried within minutes; the second makes it unavailable.
    assert state_of(hass, reliability).state == "97"
    await _poll(hass, freezer, timedelta(minutes=5))
    assert len(mock_api.calls(CONNECTIVITY_URL)) == 3
    assert state_of(hass, reliability).state == "unavailable"
    assert state_of(hass, "sensor.hypervolt_home_3_0_charge_power").state == "7.18"
