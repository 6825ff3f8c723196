"""Reliability: adaptive polling within the budget, visible health, repair issues."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from http import HTTPStatus

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.ev_energy.const import DOMAIN, LIVE_RETRY_SOON
from custom_components.ev_energy.price_coordinator import _off_boundary_delay

from .conftest import (
    NOW,
    PRICES_URL,
    SESSIONS_URL,
    VEHICLES_URL,
    Fault,
    MockApi,
    setup_integration,
    state_of,
)

INTERVAL = "sensor.ev_energy_account_polling_interval"
REQUESTS = "sensor.ev_energy_account_api_requests_in_the_last_hour"
REMAINING = "sensor.ev_energy_account_api_rate_limit_remaining"
LAST_SUCCESS = "sensor.ev_energy_account_last_successful_update"
TOKEN_EXPIRY = "sensor.ev_energy_account_access_token_expiry"
SOC = "sensor.family_car_state_of_charge"


async def _tick(hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float) -> None:
    freezer.tick(timedelta(seconds=seconds))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


def _idle(mock_api: MockApi) -> None:
    """Nothing plugged in, nothing charging."""
    for vehicle in mock_api.vehicles + mock_api.vehicles_page2:
        if status := vehicle["latest_status_log"]:
            status.update(is_plugged_in=False, is_charging=False)
    for evse in mock_api.evses:
        evse["latest_status_log"].update(is_plugged_in=False, is_charging=False)


async def _live_polls(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, mock_api: MockApi, minutes: int
) -> int:
    before = len(mock_api.calls(VEHICLES_URL))
    for _ in range(minutes):
        await _tick(hass, freezer, 60)
    pages_per_poll = 2 if mock_api.vehicles_page2 else 1
    return (len(mock_api.calls(VEHICLES_URL)) - before) // pages_per_poll


@pytest.mark.usefixtures("setup_credentials")
async def test_idle_polls_every_two_minutes(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """With nothing plugged in, live state is read every 2 minutes, then every minute again."""
    _idle(mock_api)
    await setup_integration(hass, config_entry)
    assert state_of(hass, INTERVAL).state == "120.0"
    assert await _live_polls(hass, freezer, mock_api, 30) == 15

    mock_api.vehicles[0]["latest_status_log"].update(is_plugged_in=True, is_charging=True)
    await _live_polls(hass, freezer, mock_api, 5)
    assert state_of(hass, INTERVAL).state == "60.0"
    assert await _live_polls(hass, freezer, mock_api, 10) == 10


@pytest.mark.usefixtures("setup_credentials")
async def test_slows_down_when_rate_limit_runs_low(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Below 10 % of the limit left, polling drops to every 15 minutes even while charging."""
    mock_api.rate_limit = (1000, 80)
    await setup_integration(hass, config_entry)
    assert state_of(hass, REMAINING).state == "80"
    assert state_of(hass, INTERVAL).state == "900.0"
    assert await _live_polls(hass, freezer, mock_api, 30) == 2

    mock_api.rate_limit = (1000, 700)
    await _live_polls(hass, freezer, mock_api, 15)
    assert state_of(hass, INTERVAL).state == "60.0"


@pytest.mark.usefixtures("setup_credentials")
async def test_own_hourly_share_caps_polling(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Past half of a small limit in our own last hour, charging polls slow to 5 minutes."""
    mock_api.rate_limit = (60, 55)
    await setup_integration(hass, config_entry)
    await _live_polls(hass, freezer, mock_api, 5)
    assert int(state_of(hass, REQUESTS).state) < 30
    assert state_of(hass, INTERVAL).state == "60.0"
    # Setup plus one-minute polls use up half of the 60 requests ...
    await _live_polls(hass, freezer, mock_api, 5)
    assert int(state_of(hass, REQUESTS).state) >= 30
    # ... so the pace drops to every 5 minutes.
    assert state_of(hass, INTERVAL).state == "300.0"


@pytest.mark.usefixtures("setup_credentials", "entity_registry_enabled_by_default")
async def test_health_visible_during_outage(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """While ev.energy fails, health sensors stay available and show the last success."""
    await setup_integration(hass, config_entry)
    assert state_of(hass, LAST_SUCCESS).state == NOW.isoformat()
    expiry = config_entry.data["token"]["expires_at"]
    assert state_of(hass, TOKEN_EXPIRY).state.startswith(str(NOW.year + 1))
    assert expiry > NOW.timestamp()
    requests_before = int(state_of(hass, REQUESTS).state)

    mock_api.fail(VEHICLES_URL, Fault(status=HTTPStatus.BAD_GATEWAY), times=2)
    await _tick(hass, freezer, 60)
    await _tick(hass, freezer, LIVE_RETRY_SOON.total_seconds())
    assert state_of(hass, SOC).state == "unavailable"
    assert state_of(hass, LAST_SUCCESS).state == NOW.isoformat()
    assert int(state_of(hass, REQUESTS).state) > requests_before


@pytest.mark.usefixtures("setup_credentials")
async def test_missing_scopes_repair(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    issue_registry: ir.IssueRegistry,
) -> None:
    """A sign-in without every needed scope raises a repair issue naming what is missing."""
    token = {**config_entry.data["token"], "scope": "user:read vehicle:read evse:read"}
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(config_entry, data={**config_entry.data, "token": token})
    await setup_integration(hass, config_entry)
    issue = issue_registry.async_get_issue(DOMAIN, f"{config_entry.entry_id}_missing_scopes")
    assert issue is not None
    assert issue.translation_placeholders == {
        "scopes": "carbon:read, charging_session:read, charging_session:write, "
        "tariff:prices:read, tariff:read, vehicle:write"
    }

    full = {
        **token,
        "scope": "user:read vehicle:read vehicle:write evse:read tariff:read "
        "tariff:prices:read charging_session:read charging_session:write carbon:read",
    }
    hass.config_entries.async_update_entry(config_entry, data={**config_entry.data, "token": full})
    await hass.config_entries.async_reload(config_entry.entry_id)
    await hass.async_block_till_done()
    assert issue_registry.async_get_issue(DOMAIN, f"{config_entry.entry_id}_missing_scopes") is None


@pytest.mark.usefixtures("setup_credentials")
async def test_forbidden_feature_repair(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    """A 403 on the price list raises an issue; it clears once access works."""
    mock_api.fail(PRICES_URL, Fault(status=HTTPStatus.FORBIDDEN))
    await setup_integration(hass, config_entry)
    issue_id = f"{config_entry.entry_id}_forbidden_prices"
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_placeholders == {"feature": "prices"}
    # The current price falls back to the tariff's while the list is forbidden.
    assert state_of(hass, "sensor.ev_energy_account_current_price").state == "0.24"

    await _tick(hass, freezer, 30 * 60)
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None


@pytest.mark.usefixtures("setup_credentials")
async def test_missing_status_keeps_the_charging_pace(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A charging car whose status is missing from an answer is not taken for idle."""
    await setup_integration(hass, config_entry)
    assert state_of(hass, INTERVAL).state == "60.0"
    status = mock_api.vehicles[0]["latest_status_log"]
    charger_status = mock_api.evses[0]["latest_status_log"]
    mock_api.vehicles[0]["latest_status_log"] = None
    mock_api.evses[0]["latest_status_log"] = None
    await _tick(hass, freezer, 60)
    assert state_of(hass, INTERVAL).state == "60.0"
    # Known to be idle: then the pace drops.
    mock_api.vehicles[0]["latest_status_log"] = {
        **status,
        "is_plugged_in": False,
        "is_charging": False,
    }
    mock_api.evses[0]["latest_status_log"] = {
        **charger_status,
        "is_plugged_in": False,
        "is_charging": False,
    }
    await _tick(hass, freezer, 60)
    assert state_of(hass, INTERVAL).state == "120.0"


@pytest.mark.usefixtures("setup_credentials")
async def test_plugged_in_and_settled_polls_every_three_minutes(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Plugged in but not charging for 10 minutes: a middle pace, back to 1 min on charging."""
    mock_api.vehicles_page2 = []
    vehicle, charger = (
        mock_api.vehicles[0]["latest_status_log"],
        mock_api.evses[0]["latest_status_log"],
    )
    for status in (vehicle, charger):
        status.update(is_plugged_in=True, is_charging=False)
    await setup_integration(hass, config_entry)
    assert state_of(hass, INTERVAL).state == "60.0"
    assert await _live_polls(hass, freezer, mock_api, 10) == 10
    assert state_of(hass, INTERVAL).state == "180.0"
    assert await _live_polls(hass, freezer, mock_api, 30) == 10

    for status in (vehicle, charger):
        status.update(is_charging=True)
    await _live_polls(hass, freezer, mock_api, 3)
    assert state_of(hass, INTERVAL).state == "60.0"


@pytest.mark.usefixtures("setup_credentials")
async def test_complete_car_without_charger_settles_at_once(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A car that says it is complete needs no minute-by-minute polling."""
    mock_api.vehicles_page2 = []
    mock_api.user["evses"], mock_api.evses = [], []
    mock_api.vehicles[0]["latest_status_log"].update(
        is_plugged_in=True, is_charging=False, state="PLUGGED_IN_COMPLETE"
    )
    await setup_integration(hass, config_entry)
    assert state_of(hass, INTERVAL).state == "180.0"


@pytest.mark.parametrize("minute", range(0, 60, 1))
def test_price_refresh_never_on_a_boundary(minute: int) -> None:
    """Wherever Home Assistant started, the next price refresh is 7 minutes past a quarter."""
    now = datetime(2026, 11, 22, 10, minute, 13, tzinfo=UTC)
    delay = _off_boundary_delay(now)
    refresh = now + delay
    assert timedelta(minutes=22) <= delay <= timedelta(minutes=38)
    assert (refresh.minute % 15, refresh.second) == (7, 0)


@pytest.mark.usefixtures("setup_credentials")
async def test_slow_data_catches_up_after_outage(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Sessions failed during an outage are read again as soon as the live poll recovers.

    Live poll: blip at 60 s, down from 80 s, failing every minute until it works at 740 s.
    Sessions: blip at 600 s, down at 630 s, failing again at 690 s; backed off to 810 s, but the
    live poll's recovery at 740 s brings them back at once.
    """
    await setup_integration(hass, config_entry)
    energy = "sensor.family_car_last_session_energy"
    mock_api.fail(SESSIONS_URL, Fault(status=HTTPStatus.BAD_GATEWAY), times=3)
    mock_api.fail(VEHICLES_URL, Fault(status=HTTPStatus.BAD_GATEWAY), times=12)
    for _ in range(73):
        await _tick(hass, freezer, 10)
    assert state_of(hass, SOC).state == "unavailable"
    assert state_of(hass, energy).state == "unavailable"
    assert len(mock_api.calls(SESSIONS_URL)) == 4
    await _tick(hass, freezer, 10)
    assert state_of(hass, SOC).state == "63"
    assert state_of(hass, energy).state == "12.4"
    assert len(mock_api.calls(SESSIONS_URL)) == 5
