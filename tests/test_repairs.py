"""Reconnect repairs: one fixable issue per INACTIVE vehicle, its fix flow end to end."""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus
import json
from pathlib import Path
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.repairs import repairs_flow_manager
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from pytest_homeassistant_custom_component.test_util.aiohttp import AiohttpClientMocker

from custom_components.ev_energy.const import DOMAIN

from .conftest import (
    RECONNECT_URL,
    TOKEN_URL,
    VEHICLE_ID,
    VEHICLE_NO_STATUS_ID,
    Fault,
    MockApi,
    setup_integration,
    state_of,
)

ISSUE_ID = f"vehicle_inactive_{VEHICLE_NO_STATUS_ID}"
FIX_FLOW_STRINGS = json.loads(
    (Path(__file__).parents[1] / "custom_components/ev_energy/translations/en.json").read_text(
        encoding="utf-8"
    )
)["issues"]["vehicle_inactive"]["fix_flow"]
LINK = "https://app.ev.energy/vehicle-onboarding/start/56091b3b-86e9-4e7c"

pytestmark = pytest.mark.usefixtures("setup_credentials")


def _leaf(mock_api: MockApi) -> dict[str, Any]:
    return next(v for v in mock_api.vehicles if v["id"] == VEHICLE_NO_STATUS_ID)


async def _poll(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    freezer.tick(timedelta(minutes=5))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


async def _start_fix(hass: HomeAssistant) -> dict[str, Any]:
    assert await async_setup_component(hass, "repairs", {})
    manager = repairs_flow_manager(hass)
    assert manager is not None
    result = await manager.async_init(DOMAIN, context={"issue_id": ISSUE_ID})
    return dict(result)


async def _submit(hass: HomeAssistant, flow_id: str) -> dict[str, Any]:
    manager = repairs_flow_manager(hass)
    assert manager is not None
    return dict(await manager.async_configure(flow_id, {}))


async def test_issue_per_inactive_vehicle(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    issue_registry: ir.IssueRegistry,
) -> None:
    """The fixtures' Leaf is INACTIVE: one fixable issue naming it; none for the others."""
    await setup_integration(hass, config_entry)
    issue = issue_registry.async_get_issue(DOMAIN, ISSUE_ID)
    assert issue is not None
    assert issue.is_fixable
    assert issue.translation_key == "vehicle_inactive"
    assert issue.translation_placeholders == {"vehicle": "Nissan Leaf"}
    assert issue_registry.async_get_issue(DOMAIN, f"vehicle_inactive_{VEHICLE_ID}") is None
    inactive = [i for (d, i) in issue_registry.issues if d == DOMAIN and "inactive" in i]
    assert inactive == [ISSUE_ID]


async def test_fix_flow_shows_the_link_and_clears_when_active(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    issue_registry: ir.IssueRegistry,
) -> None:
    """Fix: ev.energy makes a link, the flow shows it; once reconnected the issue is gone."""
    await setup_integration(hass, config_entry)

    result = await _start_fix(hass)

    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconnect"
    assert result["description_placeholders"] == {"vehicle": "Nissan Leaf", "url": LINK}
    assert len(mock_api.calls(RECONNECT_URL)) == 1

    # Not reconnected yet: the flow says so and stays open.
    result = await _submit(hass, result["flow_id"])
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "still_inactive"}
    assert "still_inactive" in FIX_FLOW_STRINGS["error"]
    assert "reconnect" in FIX_FLOW_STRINGS["step"]
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_ID) is not None

    _leaf(mock_api)["integrated"] = "ACTIVE"
    result = await _submit(hass, result["flow_id"])
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_ID) is None
    assert state_of(hass, "sensor.nissan_leaf_integration_status").state == "active"


async def test_issue_clears_when_the_vehicle_is_back(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    issue_registry: ir.IssueRegistry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Reconnected in the app: the next poll clears the issue; disconnected again, it is back."""
    await setup_integration(hass, config_entry)
    _leaf(mock_api)["integrated"] = "ACTIVE"
    await _poll(hass, freezer)
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_ID) is None

    _leaf(mock_api)["integrated"] = "INACTIVE"
    await _poll(hass, freezer)
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_ID) is not None


async def test_issue_stays_while_the_vehicle_is_briefly_missing(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    issue_registry: ir.IssueRegistry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """One answer without the Leaf changes nothing; once its device is removed, so is the issue."""
    await setup_integration(hass, config_entry)
    leaf = _leaf(mock_api)
    mock_api.vehicles.remove(leaf)
    await _poll(hass, freezer)
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_ID) is not None
    await _poll(hass, freezer)
    await _poll(hass, freezer)
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_ID) is None


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (Fault(status=403), "reconnect_forbidden"),
        (Fault(status=404), "cannot_connect"),
        (Fault(status=201, body={"url": "ftp://example.com"}), "cannot_connect"),
        (Fault(status=503), "cannot_connect"),
    ],
)
async def test_fix_flow_aborts_when_no_link_comes(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    issue_registry: ir.IssueRegistry,
    fault: Fault,
    reason: str,
) -> None:
    """A refusal or failure aborts with a translated reason; the issue stays."""
    await setup_integration(hass, config_entry)
    mock_api.fail(RECONNECT_URL, fault)
    result = await _start_fix(hass)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == reason
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_ID) is not None
    assert reason in FIX_FLOW_STRINGS["abort"]


async def test_fix_flow_reauth_on_refused_sign_in(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    aioclient_mock: AiohttpClientMocker,
) -> None:
    """A refused sign-in aborts the fix and starts the reauth flow."""
    await setup_integration(hass, config_entry)
    aioclient_mock.post(TOKEN_URL, status=HTTPStatus.BAD_REQUEST, json={"error": "invalid_grant"})
    mock_api.fail(RECONNECT_URL, Fault(status=HTTPStatus.UNAUTHORIZED))
    result = await _start_fix(hass)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "auth_failed"
    assert "auth_failed" in FIX_FLOW_STRINGS["abort"]
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]


async def test_fix_flow_when_the_entry_is_not_loaded(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    await setup_integration(hass, config_entry)
    result = await _start_fix(hass)
    assert result["type"] is FlowResultType.FORM
    assert await hass.config_entries.async_unload(config_entry.entry_id)
    result = await _submit(hass, result["flow_id"])
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "entry_not_loaded"
    result = await _start_fix(hass)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "entry_not_loaded"
    assert "entry_not_loaded" in FIX_FLOW_STRINGS["abort"]


async def test_removing_the_entry_removes_its_issues(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    issue_registry: ir.IssueRegistry,
) -> None:
    await setup_integration(hass, config_entry)
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_ID) is not None
    assert await hass.config_entries.async_remove(config_entry.entry_id)
    await hass.async_block_till_done()
    assert issue_registry.async_get_issue(DOMAIN, ISSUE_ID) is None
