"""Setting up and unloading the integration."""

from __future__ import annotations

from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.test_util.aiohttp import AiohttpClientMocker

from custom_components.ev_energy.const import CONF_WINDOW_END, CONF_WINDOW_HOURS, DOMAIN
from custom_components.ev_energy.history import ChargingHistory, async_setup_history

from .conftest import (
    USER_ID,
    MockApi,
    entry_state,
    make_token,
    setup_integration,
    state_of,
)


@pytest.mark.usefixtures("setup_credentials")
async def test_setup_and_unload(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    """The entry loads, creates entities, and unloads cleanly."""
    await setup_integration(hass, config_entry)
    assert config_entry.state is ConfigEntryState.LOADED
    assert state_of(hass, "sensor.family_car_state_of_charge").state == "63"

    assert await hass.config_entries.async_unload(config_entry.entry_id)
    await hass.async_block_till_done()
    assert entry_state(config_entry) is ConfigEntryState.NOT_LOADED


@pytest.mark.usefixtures("setup_credentials")
async def test_api_url_from_yaml_moves_api_and_oauth(
    hass: HomeAssistant, config_entry: MockConfigEntry, aioclient_mock: AiohttpClientMocker
) -> None:
    """`ev_energy: api_url:` points both the API and the token refresh at another host."""
    base = "http://127.0.0.1:8765"
    expired = {**config_entry.data["token"], "expires_at": 0}
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        config_entry, data={**config_entry.data, "token": expired}
    )
    aioclient_mock.post(f"{base}/o/token/", json={**make_token("sim-access")})
    aioclient_mock.get(f"{base}/v2/users/{USER_ID}", status=503)

    assert await async_setup_component(hass, DOMAIN, {DOMAIN: {"api_url": base + "/"}})
    await hass.async_block_till_done()

    hosts = {str(call[1].origin()) for call in aioclient_mock.mock_calls}
    assert hosts == {base}
    assert config_entry.data["token"]["access_token"] == "sim-access"
    assert config_entry.state is ConfigEntryState.SETUP_RETRY


async def test_invalid_api_url_is_rejected(hass: HomeAssistant) -> None:
    """A malformed api_url is a configuration error, not a crash later."""
    assert not await async_setup_component(hass, DOMAIN, {DOMAIN: {"api_url": "not a url"}})


WINDOW = "binary_sensor.ev_energy_account_cheapest_window"
WINDOW_ON = {CONF_WINDOW_HOURS: 2, CONF_WINDOW_END: "07:00:00"}


@pytest.mark.usefixtures("setup_credentials")
async def test_options_changed_while_setting_up_apply_once_set_up(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    """A change after the platforms read the options, before the listener is there, counts."""

    async def change_options_first(*args: Any) -> ChargingHistory | None:
        hass.config_entries.async_update_entry(config_entry, options=WINDOW_ON)
        return await async_setup_history(*args)

    with patch("custom_components.ev_energy.async_setup_history", change_options_first):
        await setup_integration(hass, config_entry)

    assert state_of(hass, WINDOW).state == "off"


@pytest.mark.usefixtures("setup_credentials")
async def test_options_changed_while_unloading_change_nothing(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    """Nothing is added to platforms on their way out, not even left behind unavailable."""
    await setup_integration(hass, config_entry)
    push = config_entry.runtime_data.push
    original = push.async_unload

    async def change_options_first() -> None:
        hass.config_entries.async_update_entry(config_entry, options=WINDOW_ON)
        await original()

    with patch.object(push, "async_unload", change_options_first):
        assert await hass.config_entries.async_unload(config_entry.entry_id)
    await hass.async_block_till_done()

    assert entry_state(config_entry) is ConfigEntryState.NOT_LOADED
    assert hass.states.get(WINDOW) is None
