"""The shipped automation blueprint: valid, and it fires on a cheap price or window."""

from __future__ import annotations

from pathlib import Path
import shutil

from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import async_mock_service

BLUEPRINT = Path(__file__).parent.parent / "blueprints/automation/ev_energy/cheap_electricity.yaml"
PRICE = "sensor.ev_energy_account_current_price"
WINDOW = "binary_sensor.ev_energy_account_cheapest_window"


async def _automation(
    hass: HomeAssistant, tmp_path: Path, inputs: dict[str, object]
) -> list[ServiceCall]:
    target = tmp_path / "blueprints/automation/ev_energy"
    target.mkdir(parents=True)
    shutil.copy(BLUEPRINT, target)
    hass.config.config_dir = str(tmp_path)
    calls = async_mock_service(hass, "test", "cheap")
    hass.states.async_set(PRICE, "0.24")
    hass.states.async_set(WINDOW, "off")
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "use_blueprint": {
                    "path": "ev_energy/cheap_electricity.yaml",
                    "input": {
                        "price_sensor": PRICE,
                        "actions": [{"action": "test.cheap"}],
                        **inputs,
                    },
                }
            }
        },
    )
    await hass.async_block_till_done()
    automations = hass.states.async_all("automation")
    assert [state.state for state in automations] == ["on"], "the blueprint did not load"
    return calls


async def test_fires_when_price_drops_below_threshold(hass: HomeAssistant, tmp_path: Path) -> None:
    """Crossing below the threshold runs the actions once; staying below does not repeat."""
    calls = await _automation(hass, tmp_path, {"threshold": 0.15})
    hass.states.async_set(PRICE, "0.16")
    await hass.async_block_till_done()
    assert not calls
    hass.states.async_set(PRICE, "0.12")
    await hass.async_block_till_done()
    hass.states.async_set(PRICE, "0.11")
    await hass.async_block_till_done()
    assert len(calls) == 1


@pytest.mark.parametrize(("window", "expected"), [(WINDOW, 1), ("", 0)])
async def test_fires_when_cheapest_window_starts(
    hass: HomeAssistant, tmp_path: Path, window: str, expected: int
) -> None:
    """With a window sensor chosen, its turning on runs the actions; without, nothing."""
    calls = await _automation(hass, tmp_path, {"window_sensor": window})
    hass.states.async_set(WINDOW, "on")
    await hass.async_block_till_done()
    assert len(calls) == expected
