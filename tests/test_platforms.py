"""Snapshots of every entity platform over the OpenAPI-shaped fixtures."""

from __future__ import annotations

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from syrupy.assertion import SnapshotAssertion

from .conftest import EVSE_ID, USER_ID, VEHICLE_NO_STATUS_ID, MockApi, setup_integration, state_of


@pytest.mark.parametrize(
    "only_platform",
    [
        Platform.SENSOR,
        Platform.BINARY_SENSOR,
        Platform.CALENDAR,
        Platform.EVENT,
        Platform.NUMBER,
        Platform.SWITCH,
    ],
    indirect=True,
)
@pytest.mark.usefixtures(
    "setup_credentials", "only_platform", "entity_registry_enabled_by_default", "mock_api"
)
async def test_entities(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    """Every entity's registry entry and state matches the snapshot."""
    await setup_integration(hass, config_entry)
    # Health figures follow live refreshes: one after the background reads makes them settle.
    await config_entry.runtime_data.live.async_refresh()
    await snapshot_platform(hass, entity_registry, snapshot, config_entry.entry_id)


@pytest.mark.usefixtures("setup_credentials", "mock_api")
async def test_devices(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    """One device per vehicle, per charger and one service device for the account."""
    await setup_integration(hass, config_entry)
    devices = dr.async_entries_for_config_entry(device_registry, config_entry.entry_id)
    by_id = {next(iter(device.identifiers))[1]: device for device in devices}
    assert len(devices) == 5
    assert by_id[VEHICLE_NO_STATUS_ID].name == "Nissan Leaf"
    assert by_id[EVSE_ID].serial_number == "SHIR100001"
    assert by_id[USER_ID].entry_type is dr.DeviceEntryType.SERVICE
    assert [
        (device.name, device.manufacturer, device.model, device.model_id)
        for device in sorted(devices, key=lambda device: device.name or "")
    ] == snapshot


@pytest.mark.usefixtures("setup_credentials")
async def test_null_fields_are_unknown(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    """A vehicle without a status log, or with null fields, shows unknown, never an error."""
    await setup_integration(hass, config_entry)
    for entity_id in (
        "sensor.nissan_leaf_state_of_charge",
        "sensor.nissan_leaf_vehicle_state",
        "binary_sensor.nissan_leaf_plugged_in",
        "number.nissan_leaf_charge_limit",
        "sensor.van_state_of_charge",
        "sensor.van_vehicle_state",
    ):
        assert state_of(hass, entity_id).state == "unknown", entity_id
    assert state_of(hass, "sensor.nissan_leaf_integration_status").state == "inactive"
