"""The OAuth2 config flow: sign-in, duplicates, reauth, reconfigure, failures."""

from __future__ import annotations

from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState, ConfigFlowResult
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import config_entry_oauth2_flow
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.test_util.aiohttp import AiohttpClientMocker
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.ev_energy.const import DOMAIN, SCOPES

from .conftest import (
    API,
    CLIENT_ID,
    TOKEN_URL,
    USER_ID,
    Fault,
    InPlace,
    MockApi,
    setup_integration,
)

REDIRECT_URI = "https://example.com/auth/external/callback"
AUTHORIZE_URL = "https://api.ev.energy/o/authorize/"
OTHER_USER = {
    "id": "user01HN2NJ9NMRZBXT1H6FT9N9999",
    "url": f"{API}/users/user01HN2NJ9NMRZBXT1H6FT9N9999",
    "email": "sam@example.com",
    "full_name": "Samwise Gamgee",
}


async def _authorize(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    result: ConfigFlowResult,
) -> dict[str, list[str]]:
    """Follow the external step like a browser returning from ev.energy; return its query."""
    assert result["type"] is FlowResultType.EXTERNAL_STEP
    state = config_entry_oauth2_flow._encode_jwt(
        hass, {"flow_id": result["flow_id"], "redirect_uri": REDIRECT_URI}
    )
    url = urlsplit(result["url"])
    query = parse_qs(url.query)
    assert f"{url.scheme}://{url.netloc}{url.path}" == AUTHORIZE_URL
    assert query["state"] == [state]
    client = await hass_client_no_auth()
    response = await client.get(f"/auth/external/callback?code=abcd&state={state}")
    assert response.status == HTTPStatus.OK
    return query


def _mock_token(aioclient_mock: AiohttpClientMocker, access_token: str = "new-access") -> None:
    aioclient_mock.post(
        TOKEN_URL,
        json={
            "access_token": access_token,
            "refresh_token": "new-refresh",
            "token_type": "Bearer",
            "expires_in": 36000,
            "scope": " ".join(SCOPES),
        },
    )


@pytest.mark.usefixtures("current_request_with_host", "setup_credentials")
async def test_full_flow(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    aioclient_mock: AiohttpClientMocker,
    mock_api: MockApi,
) -> None:
    """Signing in creates an entry keyed by the ev.energy user id, using PKCE and our scopes."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    query = await _authorize(hass, hass_client_no_auth, result)
    assert query["client_id"] == [CLIENT_ID]
    assert query["response_type"] == ["code"]
    assert query["scope"] == [" ".join(SCOPES)]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43

    _mock_token(aioclient_mock)
    result = await hass.config_entries.flow.async_configure(result["flow_id"])

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Frodo Baggins"
    assert result["result"].unique_id == USER_ID
    assert result["data"]["token"]["access_token"] == "new-access"
    token_request = next(call for call in aioclient_mock.mock_calls if str(call[1]) == TOKEN_URL)
    assert token_request[2]["grant_type"] == "authorization_code"
    assert len(token_request[2]["code_verifier"]) >= 43
    users_request = next(call for call in mock_api.calls(f"{API}/users"))
    assert users_request[3]["Authorization"] == "Bearer new-access"


@pytest.mark.usefixtures("current_request_with_host", "setup_credentials")
async def test_duplicate_account_aborts(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    aioclient_mock: AiohttpClientMocker,
    mock_api: MockApi,
    config_entry: MockConfigEntry,
) -> None:
    """Adding the same account twice aborts and keeps the existing entry."""
    config_entry.add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    await _authorize(hass, hass_client_no_auth, result)
    _mock_token(aioclient_mock)
    result = await hass.config_entries.flow.async_configure(result["flow_id"])

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1


async def test_missing_credentials(hass: HomeAssistant) -> None:
    """Without application credentials the flow explains what is missing."""
    assert await async_setup_component(hass, "application_credentials", {})
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "missing_credentials"


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (HTTPStatus.BAD_REQUEST, "oauth_unauthorized"),
        (HTTPStatus.INTERNAL_SERVER_ERROR, "oauth_failed"),
    ],
)
@pytest.mark.usefixtures("current_request_with_host", "setup_credentials")
async def test_token_exchange_failure(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    aioclient_mock: AiohttpClientMocker,
    status: HTTPStatus,
    reason: str,
) -> None:
    """A refused or failed code exchange aborts without creating an entry."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    await _authorize(hass, hass_client_no_auth, result)
    aioclient_mock.post(TOKEN_URL, status=status, json={"error": "invalid_grant"})
    result = await hass.config_entries.flow.async_configure(result["flow_id"])

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == reason
    assert not hass.config_entries.async_entries(DOMAIN)


@pytest.mark.usefixtures("current_request_with_host", "setup_credentials")
async def test_account_lookup_failure(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    aioclient_mock: AiohttpClientMocker,
    mock_api: MockApi,
) -> None:
    """If ev.energy cannot say who signed in, the flow aborts with cannot_connect."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    await _authorize(hass, hass_client_no_auth, result)
    _mock_token(aioclient_mock)
    mock_api.fail(f"{API}/users", Fault(status=HTTPStatus.SERVICE_UNAVAILABLE))
    result = await hass.config_entries.flow.async_configure(result["flow_id"])

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "cannot_connect"


@pytest.mark.usefixtures("current_request_with_host", "setup_credentials")
async def test_reauth_same_account(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    aioclient_mock: AiohttpClientMocker,
    mock_api: MockApi,
    config_entry: MockConfigEntry,
) -> None:
    """Reauth with the same account stores the new token and reloads the entry.

    The webhook id stays: the push URL registered with ev.energy keeps working.
    """
    await setup_integration(hass, config_entry)
    webhook_id = config_entry.data["webhook_id"]
    live = config_entry.runtime_data.live
    result = await config_entry.start_reauth_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reauth_confirm"

    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    await _authorize(hass, hass_client_no_auth, result)
    _mock_token(aioclient_mock, "reauth-access")
    result = await hass.config_entries.flow.async_configure(result["flow_id"])
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert config_entry.data["token"]["access_token"] == "reauth-access"
    assert config_entry.data["webhook_id"] == webhook_id
    assert config_entry.state is ConfigEntryState.LOADED
    assert config_entry.runtime_data.live is not live


@pytest.mark.usefixtures("current_request_with_host", "setup_credentials")
async def test_reauth_different_account(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    aioclient_mock: AiohttpClientMocker,
    mock_api: MockApi,
    config_entry: MockConfigEntry,
) -> None:
    """Reauth with another account aborts and leaves the entry's token alone."""
    await setup_integration(hass, config_entry)
    result = await config_entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    await _authorize(hass, hass_client_no_auth, result)

    _mock_token(aioclient_mock, "other-access")
    mock_api.users = [OTHER_USER]
    result = await hass.config_entries.flow.async_configure(result["flow_id"])

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_account"
    assert config_entry.data["token"]["access_token"] == "access-1"


@pytest.mark.usefixtures("current_request_with_host", "setup_credentials")
async def test_reconfigure(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    aioclient_mock: AiohttpClientMocker,
    mock_api: MockApi,
    config_entry: MockConfigEntry,
) -> None:
    """Reconfigure signs in again and keeps the entry (and so its entities and webhook)."""
    await setup_integration(hass, config_entry)
    webhook_id = config_entry.data["webhook_id"]
    entity_count = len(hass.states.async_entity_ids())
    live = config_entry.runtime_data.live
    result = await config_entry.start_reconfigure_flow(hass)
    await _authorize(hass, hass_client_no_auth, result)
    _mock_token(aioclient_mock, "reconfigured-access")
    result = await hass.config_entries.flow.async_configure(result["flow_id"])
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert config_entry.data["token"]["access_token"] == "reconfigured-access"
    assert config_entry.data["webhook_id"] == webhook_id
    assert hass.config_entries.async_entries(DOMAIN) == [config_entry]
    assert len(hass.states.async_entity_ids()) == entity_count
    # Restarted with the new sign-in.
    assert config_entry.runtime_data.live is not live


@pytest.mark.usefixtures("current_request_with_host", "setup_credentials")
async def test_reconfigure_different_account(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    aioclient_mock: AiohttpClientMocker,
    mock_api: MockApi,
    config_entry: MockConfigEntry,
) -> None:
    """Reconfigure refuses to swap the entry to another account."""
    await setup_integration(hass, config_entry)
    result = await config_entry.start_reconfigure_flow(hass)
    await _authorize(hass, hass_client_no_auth, result)
    _mock_token(aioclient_mock, "other-access")
    mock_api.users = [OTHER_USER]
    result = await hass.config_entries.flow.async_configure(result["flow_id"])

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_account"
    assert config_entry.data["token"]["access_token"] == "access-1"


@pytest.mark.usefixtures("setup_credentials")
async def test_options_flow_sets_up_cheapest_window(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    """The options flow stores the window: the binary sensor appears, without a reload."""
    await setup_integration(hass, config_entry)
    watch = InPlace(hass, config_entry)
    window = "binary_sensor.ev_energy_account_cheapest_window"
    assert hass.states.get(window) is None

    result = await hass.config_entries.options.async_init(config_entry.entry_id)
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "init"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "settings"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "settings"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"cheapest_window_hours": 2, "cheapest_window_end": "07:00:00"}
    )
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert config_entry.options == {
        "cheapest_window_hours": 2,
        "cheapest_window_end": "07:00:00",
        "history_days": 90,
        "clear_history_on_remove": False,
        # Notifications are only events unless the user asks for more.
        "persistent_notifications": False,
        "mark_notifications_read": False,
    }
    assert hass.states.get(window) is not None
    watch.check()
