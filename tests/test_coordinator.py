"""Polling: request budget, token refresh, reauth, rate limits, outages and recovery."""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus
import logging
from unittest.mock import patch

from aiohttp import ClientConnectionError
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from pytest_homeassistant_custom_component.test_util.aiohttp import AiohttpClientMocker

from custom_components.ev_energy.const import DOMAIN, UPDATE_INTERVAL

from .conftest import (
    API,
    CONNECTIVITY_URL,
    EVSE_ID,
    EVSES_URL,
    NOTIFICATIONS_URL,
    PRICES_URL,
    SCHEDULES_URL,
    SESSIONS_URL,
    TARIFF_URL,
    TOKEN_URL,
    USER_URL,
    VEHICLES_URL,
    Fault,
    MockApi,
    make_token,
    setup_integration,
    state_of,
)

SOC = "sensor.family_car_state_of_charge"
PRICE = "sensor.ev_energy_account_current_price"


async def _poll(hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float = 0) -> None:
    freezer.tick(timedelta(seconds=seconds) if seconds else UPDATE_INTERVAL)
    async_fire_time_changed(hass)
    # Scheduled refreshes run as background tasks.
    await hass.async_block_till_done(wait_background_tasks=True)


def _urls(calls: list[tuple[object, ...]]) -> list[str]:
    return [str(call[1].with_query(None)) for call in calls]  # type: ignore[attr-defined]


@pytest.mark.usefixtures("setup_credentials")
async def test_poll_costs_three_requests(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A cycle reads vehicles and chargers once each; the user and tariff only at setup."""
    mock_api.vehicles_page2 = []
    await setup_integration(hass, config_entry)
    assert sorted(_urls(mock_api.calls())) == sorted(
        [
            *(USER_URL, VEHICLES_URL, EVSES_URL, TARIFF_URL, PRICES_URL, SESSIONS_URL),
            *(CONNECTIVITY_URL, SCHEDULES_URL, NOTIFICATIONS_URL),
        ]
    )

    for _ in range(3):
        before = len(mock_api.calls())
        await _poll(hass, freezer)
        cycle = mock_api.calls()[before:]
        assert sorted(_urls(cycle)) == sorted([VEHICLES_URL, EVSES_URL])

    vehicles_call = next(call for call in cycle if _urls([call]) == [VEHICLES_URL])
    assert vehicles_call[1].query.getall("expand") == ["latest_status_log", "trim.model.make"]
    assert vehicles_call[1].query["page_size"] == "100"
    assert vehicles_call[3]["EvEnergy-Version"] == "2"
    evses_call = next(call for call in cycle if _urls([call]) == [EVSES_URL])
    assert evses_call[1].query.getall("expand") == ["latest_status_log", "model.make"]


@pytest.mark.usefixtures("setup_credentials")
async def test_account_without_chargers_polls_once(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """No charger in the account: one request a poll; a new charger shows within the hour."""
    mock_api.vehicles_page2 = []
    mock_api.user["evses"] = []
    evses, mock_api.evses = mock_api.evses, []
    await setup_integration(hass, config_entry)
    for _ in range(3):
        before = len(mock_api.calls())
        await _poll(hass, freezer)
        assert _urls(mock_api.calls()[before:]) == [VEHICLES_URL]

    mock_api.user["evses"] = [f"{API}/evses/{EVSE_ID}"]
    mock_api.evses = evses
    for _ in range(57):
        await _poll(hass, freezer)
    assert state_of(hass, "sensor.hypervolt_home_3_0_charge_power").state == "7.18"


@pytest.mark.usefixtures("setup_credentials")
async def test_tariff_read_while_the_price_list_has_no_price_for_now(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Without a listed price for now the tariff's own price is shown, read every poll."""
    mock_api.vehicles_page2 = []
    mock_api.prices = []
    await setup_integration(hass, config_entry)
    await hass.async_block_till_done(wait_background_tasks=True)
    before = len(mock_api.calls())
    await _poll(hass, freezer)
    assert sorted(_urls(mock_api.calls()[before:])) == sorted([VEHICLES_URL, EVSES_URL, TARIFF_URL])
    mock_api.tariff["current_price"] = 31
    await _poll(hass, freezer)
    assert state_of(hass, PRICE).state == "0.31"


@pytest.mark.usefixtures("setup_credentials")
async def test_hourly_budget(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """An hour charging: 60 polls x 2, user + tariff 2, prices 2, sessions 6, connectivity 1,
    plan 2, notifications 2: 135."""
    mock_api.vehicles_page2 = []
    await setup_integration(hass, config_entry)
    before = len(mock_api.calls())
    for _ in range(60):
        await _poll(hass, freezer)
    hour = mock_api.calls()[before:]
    urls = _urls(hour)
    assert len(hour) == 135
    assert urls.count(PRICES_URL) == 2
    assert urls.count(USER_URL) == 1
    assert urls.count(TARIFF_URL) == 1
    assert urls.count(SESSIONS_URL) == 6
    assert urls.count(CONNECTIVITY_URL) == 1
    # One plugged-in car: its plan is read every 30 minutes.
    assert urls.count(SCHEDULES_URL) == 2
    assert urls.count(NOTIFICATIONS_URL) == 2


@pytest.mark.usefixtures("setup_credentials")
async def test_second_page_adds_one_request(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Vehicles on a second page cost exactly one more request and all get entities."""
    await setup_integration(hass, config_entry)
    before = len(mock_api.calls())
    await _poll(hass, freezer)
    assert len(mock_api.calls()[before:]) == 3
    assert state_of(hass, "sensor.van_integration_status").state == "unintegrated"
    assert state_of(hass, SOC).state == "63"


@pytest.mark.usefixtures("setup_credentials")
async def test_account_without_tariff(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """No tariff: two requests a cycle and no price entity."""
    mock_api.user["default_location"]["tariff"] = None
    mock_api.vehicles_page2 = []
    await setup_integration(hass, config_entry)
    before = len(mock_api.calls())
    await _poll(hass, freezer)
    assert sorted(_urls(mock_api.calls()[before:])) == sorted([VEHICLES_URL, EVSES_URL])
    assert hass.states.get(PRICE) is None


@pytest.mark.usefixtures("setup_credentials")
async def test_user_reread_hourly(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The tariff assignment is re-read once an hour, not every poll."""
    now = 1000.0
    with patch("custom_components.ev_energy.coordinator.time.monotonic", side_effect=lambda: now):
        await setup_integration(hass, config_entry)
        for _ in range(5):
            now += 59 * 60 / 5
            await _poll(hass, freezer)
        assert len(mock_api.calls(USER_URL)) == 1
        now += 61
        await _poll(hass, freezer)
        assert len(mock_api.calls(USER_URL)) == 2


@pytest.mark.usefixtures("setup_credentials")
async def test_unauthorized_refreshes_token_once(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    aioclient_mock: AiohttpClientMocker,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A 401 refreshes the token and retries with the new one; nothing goes unavailable."""
    await setup_integration(hass, config_entry)
    aioclient_mock.post(TOKEN_URL, json={**make_token("access-2"), "refresh_token": "refresh-2"})
    mock_api.fail(EVSES_URL, Fault(status=HTTPStatus.UNAUTHORIZED))

    await _poll(hass, freezer)

    token_calls = mock_api.calls(TOKEN_URL)
    assert len(token_calls) == 1
    assert token_calls[0][2]["grant_type"] == "refresh_token"
    assert token_calls[0][2]["refresh_token"] == "refresh-1"
    assert config_entry.data["token"]["access_token"] == "access-2"
    assert config_entry.data["token"]["refresh_token"] == "refresh-2"
    assert mock_api.calls(EVSES_URL)[-1][3]["Authorization"] == "Bearer access-2"
    assert state_of(hass, PRICE).state == "0.24"
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)


@pytest.mark.usefixtures("setup_credentials")
async def test_refresh_refused_starts_reauth(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    aioclient_mock: AiohttpClientMocker,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A refused refresh (invalid_grant) asks the user to sign in again; the entry stays."""
    await setup_integration(hass, config_entry)
    aioclient_mock.post(TOKEN_URL, status=HTTPStatus.BAD_REQUEST, json={"error": "invalid_grant"})
    mock_api.fail(VEHICLES_URL, Fault(status=HTTPStatus.UNAUTHORIZED))

    await _poll(hass, freezer)

    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]
    assert flows[0]["context"]["entry_id"] == config_entry.entry_id
    assert hass.config_entries.async_entries(DOMAIN) == [config_entry]
    assert state_of(hass, SOC).state == STATE_UNAVAILABLE


@pytest.mark.usefixtures("setup_credentials")
async def test_expired_token_refused_at_setup(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    aioclient_mock: AiohttpClientMocker,
) -> None:
    """An expired token whose refresh is refused fails setup with a reauth prompt."""
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        config_entry, data={**config_entry.data, "token": make_token(expires_in=-10)}
    )
    aioclient_mock.post(TOKEN_URL, status=HTTPStatus.BAD_REQUEST, json={"error": "invalid_grant"})
    await setup_integration(hass, config_entry)

    assert config_entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]
    assert not mock_api.calls(USER_URL)


@pytest.mark.usefixtures("setup_credentials")
async def test_rate_limit_honours_retry_after(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """After a 429 nothing is sent until Retry-After has passed; then data comes back."""
    mock_api.vehicles_page2 = []
    await setup_integration(hass, config_entry)
    mock_api.fail(
        EVSES_URL, Fault(status=HTTPStatus.TOO_MANY_REQUESTS, headers={"Retry-After": "660"})
    )
    await _poll(hass, freezer)
    assert state_of(hass, SOC).state == STATE_UNAVAILABLE
    assert config_entry.state is ConfigEntryState.LOADED

    sent = len(mock_api.calls())
    # 10 minutes: still inside the 11-minute window, past the sessions' 10-minute cadence.
    for _ in range(10):
        await _poll(hass, freezer)
    assert len(mock_api.calls()) == sent

    await _poll(hass, freezer, seconds=61)
    # The live poll resumes; the sessions poll, held back meanwhile, catches up once.
    resumed = sorted(_urls(mock_api.calls()[sent:]))
    assert resumed == sorted([VEHICLES_URL, EVSES_URL, SESSIONS_URL])
    assert state_of(hass, SOC).state == "63"


@pytest.mark.parametrize(
    "fault",
    [
        Fault(status=HTTPStatus.INTERNAL_SERVER_ERROR),
        Fault(status=HTTPStatus.SERVICE_UNAVAILABLE),
        Fault(exc=ClientConnectionError("connection reset")),
        Fault(exc=TimeoutError()),
    ],
    ids=["500", "503", "connection", "timeout"],
)
@pytest.mark.usefixtures("setup_credentials")
async def test_outage_then_recovery(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    fault: Fault,
) -> None:
    """A blip is retried soon; lasting failures make entities unavailable, logged once.

    The next success brings them back. The price is known from the cached price list, so it
    keeps its value meanwhile.
    """
    await setup_integration(hass, config_entry)
    caplog.set_level(logging.INFO)
    mock_api.fail(VEHICLES_URL, fault, times=3)

    await _poll(hass, freezer)
    assert state_of(hass, SOC).state == "63"
    for _ in range(2):
        await _poll(hass, freezer)
        assert state_of(hass, SOC).state == STATE_UNAVAILABLE
        assert state_of(hass, PRICE).state == "0.24"
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]

    await _poll(hass, freezer)
    assert state_of(hass, SOC).state == "63"
    assert sum("recovered" in r.getMessage() for r in caplog.records) == 1
    assert config_entry.state is ConfigEntryState.LOADED


@pytest.mark.usefixtures("setup_credentials")
async def test_setup_retries_when_api_down(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    """If ev.energy is down at start-up, setup is retried later instead of failing."""
    mock_api.fail(USER_URL, Fault(status=HTTPStatus.BAD_GATEWAY))
    await setup_integration(hass, config_entry)
    assert config_entry.state is ConfigEntryState.SETUP_RETRY


@pytest.mark.usefixtures("setup_credentials")
async def test_malformed_payload_is_an_update_failure(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A list endpoint answering with an object fails the cycle cleanly, then recovers."""
    await setup_integration(hass, config_entry)
    good = mock_api.evses
    mock_api.evses = {"unexpected": "object"}  # type: ignore[assignment]
    await _poll(hass, freezer)
    assert state_of(hass, SOC).state == STATE_UNAVAILABLE
    mock_api.evses = good
    await _poll(hass, freezer)
    assert state_of(hass, SOC).state == "63"


@pytest.mark.usefixtures("setup_credentials")
async def test_token_endpoint_down_is_transient(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    aioclient_mock: AiohttpClientMocker,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A token endpoint outage is an ordinary failed update: no reauth, entry kept."""
    await setup_integration(hass, config_entry)
    aioclient_mock.post(TOKEN_URL, status=HTTPStatus.SERVICE_UNAVAILABLE)
    mock_api.fail(VEHICLES_URL, Fault(status=HTTPStatus.UNAUTHORIZED))

    await _poll(hass, freezer)
    assert state_of(hass, SOC).state == "63"
    await _poll(hass, freezer)

    assert state_of(hass, SOC).state == STATE_UNAVAILABLE
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert config_entry.state is ConfigEntryState.LOADED


@pytest.mark.usefixtures("setup_credentials")
async def test_null_price_is_unknown(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    """No price list and no current price: unknown, with the unit still known."""
    mock_api.prices = []
    mock_api.tariff["current_price"] = None
    await setup_integration(hass, config_entry)
    state = state_of(hass, PRICE)
    assert state.state == "unknown"
    assert state.attributes["unit_of_measurement"] == "GBP/kWh"


@pytest.mark.parametrize(
    ("currency", "minor", "expected"), [("JPY", 31, "31"), ("USD", 1234, "12.34")]
)
@pytest.mark.usefixtures("setup_credentials")
async def test_price_in_major_units(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    currency: str,
    minor: int,
    expected: str,
) -> None:
    """Without a price list, the tariff's current price is used, in major units per kWh."""
    mock_api.prices = []
    mock_api.tariff.update(currency=currency, current_price=minor)
    await setup_integration(hass, config_entry)
    state = state_of(hass, PRICE)
    assert state.state == expected
    assert state.attributes["unit_of_measurement"] == f"{currency}/kWh"


@pytest.mark.parametrize(
    "target", ["file:///etc/passwd", "mailto:x", "http://[::1", "//[::1"], ids=str
)
@pytest.mark.usefixtures("setup_credentials")
async def test_unusable_pagination_link_keeps_entities_available(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    target: str,
) -> None:
    """A garbled next link stops paging with one warning; the first page's data is shown."""
    mock_api.vehicles_link = f'<{target}>; rel="next"'
    await setup_integration(hass, config_entry)
    for _ in range(3):
        await _poll(hass, freezer)
        assert state_of(hass, SOC).state == "63"

    logged = [
        r
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.name.startswith("custom_components")
    ]
    assert [r.getMessage() for r in logged] == [
        f"Ignoring a pagination link that is not on the API's origin: {target!r}"
    ]
    assert logged[0].exc_info is None


@pytest.mark.usefixtures("setup_credentials")
async def test_account_answer_without_its_location_keeps_the_tariff(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The hourly account read leaves out the (optional) home location: the tariff stays."""
    await setup_integration(hass, config_entry)
    mock_api.user = {key: mock_api.user[key] for key in ("id", "url")}
    for _ in range(62):
        await _poll(hass, freezer)
    assert len(mock_api.calls(USER_URL)) >= 2
    assert state_of(hass, PRICE).state not in (STATE_UNAVAILABLE, STATE_UNKNOWN)
    data = config_entry.runtime_data.live.data
    assert data.tariff is not None
    assert data.user.tariff_id == data.tariff.id
