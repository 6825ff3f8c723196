"""Access-token renewal: one renewal for refusals together, none after a refused refresh."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from http import HTTPStatus
import logging
import time
from typing import Any

from aiohttp import ClientConnectionError
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.homeassistant import SERVICE_UPDATE_ENTITY
from homeassistant.config_entries import SOURCE_REAUTH
from homeassistant.const import ATTR_ENTITY_ID, STATE_UNAVAILABLE
from homeassistant.core import DOMAIN as HA_DOMAIN, HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from pytest_homeassistant_custom_component.test_util.aiohttp import (
    AiohttpClientMocker,
    AiohttpClientMockResponse,
)
from yarl import URL

from custom_components.ev_energy.api import EvEnergyConnectionError
from custom_components.ev_energy.api.client import REQUEST_TIMEOUT
from custom_components.ev_energy.const import (
    CONNECTIVITY_REFRESH_INTERVAL,
    DOMAIN,
    PRICE_REFRESH_INTERVAL,
    SESSIONS_REFRESH_INTERVAL,
    UPDATE_INTERVAL,
)
from custom_components.ev_energy.oauth import REFRESH_TIMEOUT

from .conftest import (
    TARIFF_ID,
    TOKEN_URL,
    VEHICLES_URL,
    Fault,
    MockApi,
    make_token,
    setup_integration,
    state_of,
)

SOC = "sensor.family_car_state_of_charge"
PRICE = "sensor.ev_energy_account_current_price"


async def _tick(hass: HomeAssistant, freezer: FrozenDateTimeFactory, delta: timedelta) -> None:
    freezer.tick(delta)
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


def _rotating_token_endpoint(aioclient_mock: AiohttpClientMocker) -> None:
    """Each renewal hands out the next access and refresh token (access-2/refresh-2, …)."""
    issued = 1

    async def renew(method: str, url: URL, data: Any) -> AiohttpClientMockResponse:
        nonlocal issued
        issued += 1
        token = {**make_token(f"access-{issued}"), "refresh_token": f"refresh-{issued}"}
        return AiohttpClientMockResponse(method, url, json=token)

    aioclient_mock.post(TOKEN_URL, side_effect=renew)


def _late_refusals(entry: MockConfigEntry, together: int) -> Callable[[], Awaitable[None]]:
    """Hold `together` refusals until all were sent with the old token, then answer one.

    The others are answered once the entry holds the renewed token: the order that cost
    extra renewals, since each late 401 expired the new token.
    """
    arrived = 0

    async def wait_for(condition: Callable[[], bool]) -> None:
        for _ in range(1000):
            if condition():
                return
            await asyncio.sleep(0)
        raise AssertionError("the refusals never lined up")

    async def gate() -> None:
        nonlocal arrived
        arrived += 1
        first = arrived == 1
        await wait_for(lambda: arrived >= together)
        if not first:
            await wait_for(lambda: entry.data["token"]["access_token"] != "access-1")

    return gate


async def _update_entity(hass: HomeAssistant) -> None:
    await async_setup_component(hass, HA_DOMAIN, {})
    await hass.services.async_call(
        HA_DOMAIN, SERVICE_UPDATE_ENTITY, {ATTR_ENTITY_ID: SOC}, blocking=True
    )
    await hass.async_block_till_done(wait_background_tasks=True)


@pytest.mark.usefixtures("setup_credentials")
async def test_concurrent_refusals_renew_the_token_once(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    aioclient_mock: AiohttpClientMocker,
) -> None:
    """Five requests refused with the old token: one renewal, and all five then succeed.

    Four of the refusals arrive after the renewal; they retry with the new token instead of
    renewing again (which, with rotating refresh tokens, would cancel the token in use).
    """
    await setup_integration(hass, config_entry)
    _rotating_token_endpoint(aioclient_mock)
    mock_api.access_token = "access-2"
    mock_api.refusal_gate = _late_refusals(config_entry, 5)
    client = config_entry.runtime_data.client

    tariffs = await asyncio.gather(*(client.async_get_tariff(TARIFF_ID) for _ in range(5)))

    assert [tariff.id for tariff in tariffs] == [TARIFF_ID] * 5
    assert len(mock_api.calls(TOKEN_URL)) == 1
    token = config_entry.data["token"]
    assert (token["access_token"], token["refresh_token"]) == ("access-2", "refresh-2")
    assert token["expires_at"] > time.time()


@pytest.mark.usefixtures("setup_credentials")
async def test_late_refusal_in_a_poll_keeps_entities_available(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    aioclient_mock: AiohttpClientMocker,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The poll's two requests refused with the old token renew it once and all succeed."""
    await setup_integration(hass, config_entry)
    _rotating_token_endpoint(aioclient_mock)
    mock_api.access_token = "access-2"
    mock_api.refusal_gate = _late_refusals(config_entry, 2)
    before = len(mock_api.calls())

    await _tick(hass, freezer, UPDATE_INTERVAL)

    assert len(mock_api.calls(TOKEN_URL)) == 1
    assert config_entry.data["token"]["access_token"] == "access-2"
    sent = [call[3]["Authorization"] for call in mock_api.calls()[before:] if call[3]]
    # Two refusals; the retries (and the second vehicles page) carry the new token.
    assert sent.count("Bearer access-1") == 2
    assert sent.count("Bearer access-2") == len(sent) - 2 >= 2
    assert state_of(hass, SOC).state == "63"
    assert state_of(hass, PRICE).state == "0.24"
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)


@pytest.mark.usefixtures("setup_credentials")
async def test_refused_refresh_is_asked_once_for_concurrent_refusals(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    aioclient_mock: AiohttpClientMocker,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The poll's two requests refused together: one refused refresh, one reauth flow."""
    await setup_integration(hass, config_entry)
    aioclient_mock.post(TOKEN_URL, status=HTTPStatus.BAD_REQUEST, json={"error": "invalid_grant"})
    mock_api.access_token = "access-2"  # the user revoked access-1 (and its refresh token)
    mock_api.refusal_gate = _late_refusals(config_entry, 2)

    await _tick(hass, freezer, UPDATE_INTERVAL)

    assert len(mock_api.calls(TOKEN_URL)) == 1
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]
    assert state_of(hass, SOC).state == STATE_UNAVAILABLE


@pytest.mark.usefixtures("setup_credentials")
async def test_refused_refresh_is_not_tried_again_until_signed_in(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    aioclient_mock: AiohttpClientMocker,
    freezer: FrozenDateTimeFactory,
) -> None:
    """After invalid_grant nothing asks the token endpoint again until a new sign-in.

    Not the slower coordinators on their own schedules, not a refresh the user asks for;
    once the entry holds a new sign-in, requests flow again.
    """
    await setup_integration(hass, config_entry)
    aioclient_mock.post(TOKEN_URL, status=HTTPStatus.BAD_REQUEST, json={"error": "invalid_grant"})
    mock_api.fail(VEHICLES_URL, Fault(status=HTTPStatus.UNAUTHORIZED))

    await _tick(hass, freezer, UPDATE_INTERVAL)

    assert len(mock_api.calls(TOKEN_URL)) == 1
    assert state_of(hass, SOC).state == STATE_UNAVAILABLE
    sent = len(mock_api.calls())

    # Three hours in 5-minute steps: sessions, prices and connectivity all come due.
    assert SESSIONS_REFRESH_INTERVAL < PRICE_REFRESH_INTERVAL < CONNECTIVITY_REFRESH_INTERVAL
    for _ in range(36):
        await _tick(hass, freezer, timedelta(minutes=5))
    await _update_entity(hass)  # the user asks for a refresh
    assert len(mock_api.calls()) == sent
    assert len(hass.config_entries.flow.async_progress_by_handler(DOMAIN)) == 1

    # The user signs in again (reauth stores the new tokens on the entry).
    hass.config_entries.async_update_entry(
        config_entry,
        data={**config_entry.data, "token": {**make_token("access-2"), "refresh_token": "r-2"}},
    )
    await _update_entity(hass)
    await _tick(hass, freezer, timedelta(seconds=11))  # the refresh request's cooldown
    assert state_of(hass, SOC).state == "63"
    assert {call[3]["Authorization"] for call in mock_api.calls()[sent:]} == {"Bearer access-2"}
    assert len(mock_api.calls(TOKEN_URL)) == 1


@pytest.mark.usefixtures("setup_credentials")
async def test_failing_renewal_is_logged_once_and_raises_no_repair(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    aioclient_mock: AiohttpClientMocker,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An unreachable token endpoint is logged when it starts and when it ends, once each.

    The user cannot fix it, so there is no repair issue; the health sensors show the stale
    last update meanwhile.
    """
    await setup_integration(hass, config_entry)
    caplog.set_level(logging.INFO, logger="custom_components.ev_energy.oauth")
    expired = {**config_entry.data["token"], "expires_at": 0}
    hass.config_entries.async_update_entry(
        config_entry, data={**config_entry.data, "token": expired}
    )
    aioclient_mock.post(TOKEN_URL, exc=ClientConnectionError("unreachable"))
    issues_before = set(issue_registry.issues)

    for _ in range(10):
        await _tick(hass, freezer, UPDATE_INTERVAL)
    assert state_of(hass, SOC).state == STATE_UNAVAILABLE
    assert set(issue_registry.issues) == issues_before

    aioclient_mock.clear_requests()
    mock_api.__post_init__()
    aioclient_mock.post(TOKEN_URL, json=make_token("access-2"))
    for _ in range(3):
        await _tick(hass, freezer, UPDATE_INTERVAL)
    assert state_of(hass, SOC).state == "63"

    logged = [
        (r.levelno, r.getMessage())
        for r in caplog.records
        if r.name == "custom_components.ev_energy.oauth"
    ]
    assert logged == [
        (
            logging.WARNING,
            "Could not renew the ev.energy access token, retrying at each update: "
            "Temporary error refreshing credentials for ev_energy, try again later",
        ),
        (logging.INFO, "Renewing the ev.energy access token works again"),
    ]
    assert set(issue_registry.issues) == issues_before


@pytest.mark.usefixtures("setup_credentials")
async def test_refresh_is_waited_for_up_to_its_own_bound(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    aioclient_mock: AiohttpClientMocker,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Callers give up after the request timeout, the refresh only after REFRESH_TIMEOUT.

    Until then a caller joins the refresh still running; after it, the next caller sends a
    new one.
    """
    await setup_integration(hass, config_entry)
    expired = {**config_entry.data["token"], "expires_at": 0}
    hass.config_entries.async_update_entry(
        config_entry, data={**config_entry.data, "token": expired}
    )
    answers = [asyncio.Event()]  # the first refresh is never answered

    async def token_endpoint(method: str, url: URL, data: Any) -> AiohttpClientMockResponse:
        if answers:
            await answers.pop().wait()
        token = {**make_token("access-2"), "refresh_token": "refresh-2"}
        return AiohttpClientMockResponse(method, url, json=token)

    aioclient_mock.post(TOKEN_URL, side_effect=token_endpoint)
    client = config_entry.runtime_data.client
    assert REQUEST_TIMEOUT.total is not None
    past_a_callers_wait = REQUEST_TIMEOUT.total + 1

    async def caller_gives_up() -> None:
        call = asyncio.ensure_future(client.async_get_tariff(TARIFF_ID))
        await asyncio.sleep(0)
        freezer.tick(past_a_callers_wait)
        async_fire_time_changed(hass)
        with pytest.raises(EvEnergyConnectionError, match="getting an access token timed out"):
            await call

    await caller_gives_up()
    await caller_gives_up()
    assert len(mock_api.calls(TOKEN_URL)) == 1, "the second caller joined the first refresh"

    freezer.tick(REFRESH_TIMEOUT + 1 - 2 * past_a_callers_wait)
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    call = asyncio.ensure_future(client.async_get_tariff(TARIFF_ID))
    await hass.async_block_till_done()

    assert len(mock_api.calls(TOKEN_URL)) == 2, "the first refresh was given up"
    assert (await call).id == TARIFF_ID
    assert config_entry.data["token"]["refresh_token"] == "refresh-2"
