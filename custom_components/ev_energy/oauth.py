"""Adapts Home Assistant's OAuth2Session to the API client's token source."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

from aiohttp import ClientError
from homeassistant.exceptions import OAuth2TokenRequestBaseError, OAuth2TokenRequestReauthError
from homeassistant.helpers.config_entry_oauth2_flow import OAuth2Session

from .api import AbstractAuth, EvEnergyAuthError, EvEnergyConnectionError

_LOGGER = logging.getLogger(__name__)


def _sign_in(token: dict[str, Any]) -> tuple[object, object]:
    """Return what identifies one sign-in: a new sign-in (reauth) replaces both tokens."""
    return token.get("access_token"), token.get("refresh_token")


class OAuth2SessionAuth(AbstractAuth):
    """Tokens from a config entry, refreshed and persisted by HA's OAuth2Session."""

    def __init__(self, oauth_session: OAuth2Session) -> None:
        """Wrap the entry's OAuth2 session."""
        self._oauth_session = oauth_session
        # Callers waiting for a renewal must see its outcome rather than start another one.
        self._lock = asyncio.Lock()
        self._refused: tuple[object, object] | None = None
        self._failing = False

    async def async_get_access_token(self) -> str:
        """Return a valid access token, refreshing an expired one."""
        session = self._oauth_session
        async with self._lock:
            if self._refused == _sign_in(session.token):
                # Asking again with a refused refresh token cannot work: wait for a sign-in.
                raise EvEnergyAuthError("the refresh token was refused; sign in again")
            try:
                await session.async_ensure_token_valid()
            except OAuth2TokenRequestReauthError as err:
                self._refused = _sign_in(session.token)
                raise EvEnergyAuthError("the refresh token was refused") from err
            except (OAuth2TokenRequestBaseError, ClientError, TimeoutError) as err:
                if not self._failing:
                    self._failing = True
                    _LOGGER.warning(
                        "Could not renew the ev.energy access token, retrying at each update: %s",
                        err,
                    )
                raise EvEnergyConnectionError("the token endpoint could not be reached") from err
            if self._failing:
                self._failing = False
                _LOGGER.info("Renewing the ev.energy access token works again")
            return cast("str", session.token["access_token"])

    async def async_invalidate_access_token(self, refused_token: str) -> bool:
        """Mark the stored token expired, unless it was already replaced since the refusal."""
        session = self._oauth_session
        if session.token["access_token"] == refused_token:
            entry = session.config_entry
            expired = {**session.token, "expires_at": 0}
            session.hass.config_entries.async_update_entry(
                entry, data={**entry.data, "token": expired}
            )
        return True
