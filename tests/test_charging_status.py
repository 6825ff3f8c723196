"""The charging status sensor and the extra sensors through a real config entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.sensor import DOMAIN as SENSOR_DOMAIN
from homeassistant.const import STATE_OFF, STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ev_energy.sensor import ChargingStatusSensor

from .conftest import (
    EVSES_URL,
    NOW,
    VEHICLES_URL,
    Fault,
    MockApi,
    move_to,
    setup_integration,
    state_of,
)

STATUS = "sensor.family_car_charging_status"

pytestmark = pytest.mark.usefixtures("setup_credentials")


async def test_status_of_each_vehicle(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    """The fixtures: one car charging, one disconnected, one unplugged."""
    await setup_integration(hass, config_entry)
    status = state_of(hass, STATUS)
    assert status.state == "charging"
    assert status.attributes["next_charge_start"] is None
    assert status.attributes["options"][0] == "vehicle_disconnected"
    assert state_of(hass, "sensor.nissan_leaf_charging_status").state == "vehicle_disconnected"
    assert state_of(hass, "sensor.van_charging_status").state == "not_plugged_in"


async def test_waiting_for_the_plan_then_charging(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Plugged in and idle before the plan's 13:00 slot; the next poll sees it charging."""
    log = mock_api.vehicles[0]["latest_status_log"]
    log.update(is_charging=False, charge_rate_watts=0, state="PLUGGED_IN_NOT_CHARGING")
    mock_api.evses[0]["latest_status_log"].update(is_charging=False, control_pilot_status="B")
    await setup_integration(hass, config_entry)
    status = state_of(hass, STATUS)
    assert status.state == "waiting_for_planned_slot"
    assert status.attributes["next_charge_start"] == "2026-11-22T13:00:00+00:00"

    log.update(is_charging=True, sampled_at="2026-11-22T13:00:30Z")
    mock_api.evses[0]["latest_status_log"]["sampled_at"] = "2026-11-22T13:00:30Z"
    await move_to(hass, freezer, datetime.fromisoformat("2026-11-22T13:01:00+00:00"))
    assert state_of(hass, STATUS).state == "charging"


async def test_charger_goes_offline(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The charger's status stops updating: past 30 minutes the car's status says so."""
    await setup_integration(hass, config_entry)
    assert state_of(hass, STATUS).state == "charging"
    # The fixtures' charger was sampled at 09:59 and never again.
    await move_to(hass, freezer, NOW + timedelta(minutes=25))
    assert state_of(hass, STATUS).state == "charger_offline"


async def test_status_unavailable_when_the_live_poll_fails(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    await setup_integration(hass, config_entry)
    mock_api.fail(VEHICLES_URL, Fault(status=400), times=10)
    await move_to(hass, freezer, NOW + timedelta(minutes=1))
    assert state_of(hass, STATUS).state == STATE_UNAVAILABLE


async def test_unknown_when_nothing_explains_it(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    """Idle, smart charging on, below the limit and nothing planned: unknown, not a guess."""
    log = mock_api.vehicles[0]["latest_status_log"]
    log.update(is_charging=False, charge_rate_watts=0, state="PLUGGED_IN_NOT_CHARGING")
    mock_api.schedules["schedules"] = []
    await setup_integration(hass, config_entry)
    assert state_of(hass, STATUS).state == STATE_UNKNOWN


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_extra_sensors(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    """Battery capacity, charge level, energy added, charger currents, charging complete."""
    await setup_integration(hass, config_entry)
    capacity = state_of(hass, "sensor.family_car_battery_capacity")
    assert (capacity.state, capacity.attributes["unit_of_measurement"]) == ("75.0", "kWh")
    assert state_of(hass, "sensor.family_car_charge_level").state == "47.25"
    assert state_of(hass, "sensor.family_car_energy_added_vehicle").state == "12.0"
    maximum = state_of(hass, "sensor.hypervolt_home_3_0_maximum_current")
    assert (maximum.state, maximum.attributes["unit_of_measurement"]) == ("32.0", "A")
    assert state_of(hass, "sensor.hypervolt_home_3_0_cable_current_rating").state == "32.0"
    assert state_of(hass, "binary_sensor.family_car_charging_complete").state == STATE_OFF
    assert state_of(hass, "binary_sensor.nissan_leaf_charging_complete").state == STATE_UNKNOWN


async def test_fast_changing_sensors_are_disabled_by_default(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    entity_registry: er.EntityRegistry,
) -> None:
    await setup_integration(hass, config_entry)
    for entity_id, disabled in (
        ("sensor.family_car_charge_level", True),
        ("sensor.family_car_energy_added_vehicle", True),
        ("sensor.family_car_last_seen", True),
        ("sensor.hypervolt_home_3_0_last_seen", True),
        ("sensor.ev_energy_account_last_successful_update", True),
        ("sensor.ev_energy_account_api_requests_in_the_last_hour", False),
        ("sensor.family_car_battery_capacity", False),
        ("sensor.family_car_charging_status", False),
        ("binary_sensor.family_car_charging_complete", False),
    ):
        entry = entity_registry.async_get(entity_id)
        assert entry is not None, entity_id
        assert (entry.disabled_by is not None) is disabled, entity_id


async def test_a_car_without_telematics_follows_its_charger(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A car that reports no plug or charging state: its charger starting shows at that poll."""
    mock_api.vehicles[0]["latest_status_log"].update(
        is_plugged_in=None, is_charging=None, charge_rate_watts=None, state=None
    )
    charger = mock_api.evses[0]["latest_status_log"]
    charger.update(is_charging=False, charge_rate_watts=0, control_pilot_status="B")
    mock_api.schedules["schedules"] = []
    await setup_integration(hass, config_entry)
    # Plugged in (the charger says), not charging, nothing planned: nothing explains it.
    assert state_of(hass, STATUS).state == STATE_UNKNOWN

    charger.update(
        is_charging=True,
        charge_rate_watts=7180,
        control_pilot_status="C",
        sampled_at="2026-11-22T10:10:30Z",
    )
    reads = len(mock_api.calls(EVSES_URL))
    await move_to(hass, freezer, NOW + timedelta(minutes=1))
    assert len(mock_api.calls(EVSES_URL)) == reads + 1, "the next poll reads the charger"
    assert state_of(hass, STATUS).state == "charging"


async def test_charger_offline_on_time_though_nothing_changes(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Its charger last reported at 09:59: offline from 10:29, though every poll says the same.

    Once it reports again the car is charging, and offline again 30 minutes later, until the
    entry is unloaded: that ends the timer.
    """
    # One price all morning: no price boundary re-evaluates the status by chance.
    mock_api.prices = [
        {"started_at": "2026-11-22T08:00:00Z", "interval_seconds": 14400, "price_minor_units": 20}
    ]
    await setup_integration(hass, config_entry)
    sensor = hass.data[SENSOR_DOMAIN].get_entity(STATUS)
    assert isinstance(sensor, ChargingStatusSensor)
    while dt_util.utcnow() < datetime(2026, 11, 22, 10, 28, tzinfo=UTC):
        await move_to(hass, freezer, dt_util.utcnow() + timedelta(minutes=1))
    await move_to(hass, freezer, datetime(2026, 11, 22, 10, 28, 59, tzinfo=UTC))
    assert state_of(hass, STATUS).state == "charging"

    await move_to(hass, freezer, datetime(2026, 11, 22, 10, 29, 1, tzinfo=UTC))
    status = state_of(hass, STATUS)
    assert status.state == "charger_offline"
    assert status.last_changed == datetime(2026, 11, 22, 10, 29, 1, tzinfo=UTC)

    # It reports again; nothing else changes.
    mock_api.evses[0]["latest_status_log"]["sampled_at"] = "2026-11-22T10:30:00Z"
    await move_to(hass, freezer, datetime(2026, 11, 22, 10, 31, tzinfo=UTC))
    assert state_of(hass, STATUS).state == "charging"
    assert sensor.timers is not None
    assert sensor.timers.armed("flip")

    assert await hass.config_entries.async_unload(config_entry.entry_id)
    assert sensor.timers.stopped
    assert not sensor.timers.armed("flip")
