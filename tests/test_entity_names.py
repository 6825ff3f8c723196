"""Entity names as users read them, in every language the integration speaks."""

from __future__ import annotations

from collections import defaultdict

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ev_energy.const import CONF_WINDOW_END, CONF_WINDOW_HOURS

from .conftest import setup_integration, state_of
from .test_translations import LANGUAGES


@pytest.mark.parametrize("language", ["en", *LANGUAGES])
@pytest.mark.usefixtures("setup_credentials", "mock_api", "entity_registry_enabled_by_default")
async def test_no_two_entities_of_a_device_share_a_name(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
    language: str,
) -> None:
    """Each device's entities have names of their own, as shown in `language`.

    Every entity is created (the disabled-by-default ones too, and the cheapest window), and
    names are read as Home Assistant shows them: our translations, and its own for the
    entities named by their device class.
    """
    hass.config.language = language
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        config_entry, options={CONF_WINDOW_HOURS: 3, CONF_WINDOW_END: "07:00:00"}
    )
    await setup_integration(hass, config_entry)

    names: dict[str, list[str]] = defaultdict(list)
    for entry in er.async_entries_for_config_entry(entity_registry, config_entry.entry_id):
        assert entry.device_id is not None, entry.entity_id
        names[entry.device_id].append(state_of(hass, entry.entity_id).name)
    assert len(names) == len(
        dr.async_entries_for_config_entry(device_registry, config_entry.entry_id)
    )
    for device_id, shown in names.items():
        device = device_registry.async_get(device_id)
        assert device is not None
        repeated = sorted({name for name in shown if shown.count(name) > 1})
        assert not repeated, f"{language}: {device.name} has more than one {repeated}"
