"""Application credentials (OAuth client id/secret) for ev.energy."""

from __future__ import annotations

from homeassistant.components.application_credentials import ClientCredential
from homeassistant.core import HomeAssistant
from homeassistant.helpers.config_entry_oauth2_flow import (
    AbstractOAuth2Implementation,
    LocalOAuth2ImplementationWithPkce,
)

from .api import DEFAULT_API_URL
from .const import DATA_API_URL, OAUTH_AUTHORIZE_PATH, OAUTH_TOKEN_PATH, REDIRECT_URI


def api_url(hass: HomeAssistant) -> str:
    """Return the configured API root (YAML `ev_energy: api_url:`), default ev.energy's."""
    return hass.data.get(DATA_API_URL, DEFAULT_API_URL)


async def async_get_auth_implementation(
    hass: HomeAssistant, auth_domain: str, credential: ClientCredential
) -> AbstractOAuth2Implementation:
    """Authorization-code flow with PKCE (S256) against the configured API host."""
    root = api_url(hass)
    return LocalOAuth2ImplementationWithPkce(
        hass,
        auth_domain,
        credential.client_id,
        authorize_url=root + OAUTH_AUTHORIZE_PATH,
        token_url=root + OAUTH_TOKEN_PATH,
        client_secret=credential.client_secret,
    )


async def async_get_description_placeholders(hass: HomeAssistant) -> dict[str, str]:
    """Tell the user where credentials come from and which redirect URI to register."""
    return {
        "developer_url": "https://developers.ev.energy/docs/auth",
        "redirect_uri": REDIRECT_URI,
    }
