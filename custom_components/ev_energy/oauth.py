"""Adapts Home Assistant's OAuth2Session to the API client's token source."""

from __future__ import annotations

from typing import cast

from aiohttp import ClientError
from homeassistant.exceptions import OAuth2TokenRequestBaseError, OAuth2TokenRequestReauthError
from homeassistant.helpers.config_entry_oauth2_flow import OAuth2Session

from .api import AbstractAuth, EvEnergyAuthError, EvEnergyConnectionError


class OAuth2SessionAuth(AbstractAuth):
    """Tokens from a config entry, refreshed and persisted by HA's OAuth2Session."""

    def __init__(self, oauth_session: OAuth2Session) -> None:
        """Wrap the entry's OAuth2 session."""
        self._oauth_session = oauth_session

    async def async_get_access_token(self) -> str:
        """Return a valid access token, refreshing an expired one."""
        try:
            await self._oauth_session.async_ensure_token_valid()
        except OAuth2TokenRequestReauthError as err:
            raise EvEnergyAuthError("the refresh token was refused") from err
        except (OAuth2TokenRequestBaseError, ClientError, TimeoutError) as err:
            raise EvEnergyConnectionError("the token endpoint could not be reached") from err
        return cast("str", self._oauth_session.token["access_token"])

    async def async_invalidate_access_token(self) -> None:
        """Mark the stored token expired so the next call refreshes it."""
        entry = self._oauth_session.config_entry
        expired = {**self._oauth_session.token, "expires_at": 0}
        self._oauth_session.hass.config_entries.async_update_entry(
            entry, data={**entry.data, "token": expired}
        )
