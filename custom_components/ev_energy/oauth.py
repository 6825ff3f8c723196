"""Adapts Home Assistant's OAuth2Session to the API client's token source."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Final, cast

from aiohttp import ClientError
from homeassistant.exceptions import OAuth2TokenRequestBaseError, OAuth2TokenRequestReauthError
from homeassistant.helpers.config_entry_oauth2_flow import OAuth2Session
from homeassistant.util.hass_dict import HassKey

from .api import AbstractAuth, EvEnergyAuthError, EvEnergyConnectionError
from .const import DOMAIN

_LOGGER = logging.getLogger(__name__)

# ev.energy rotates the refresh token when it handles a refresh, whether or not we still wait
# for the answer: a refresh once sent is seen through, so the new token is stored. Generous, as
# only the refresh waits this long; callers give up after their own request timeout.
REFRESH_TIMEOUT: Final = 120
# The refresh running for each config entry, shared by the entry's setups (a reload included).
DATA_TOKEN_RENEWALS: HassKey[dict[str, asyncio.Task[None]]] = HassKey(f"{DOMAIN}_token_renewals")


def _sign_in(token: dict[str, Any]) -> tuple[object, object]:
    """Return what identifies one sign-in: a new sign-in (reauth) replaces both tokens."""
    return token.get("access_token"), token.get("refresh_token")


class OAuth2SessionAuth(AbstractAuth):
    """Tokens from a config entry, refreshed and persisted by HA's OAuth2Session."""

    def __init__(self, oauth_session: OAuth2Session) -> None:
        """Wrap the entry's OAuth2 session."""
        self._oauth_session = oauth_session
        self._refused: tuple[object, object] | None = None
        self._failing = False

    async def async_get_access_token(self) -> str:
        """Return a valid access token, refreshing an expired one.

        A caller may stop waiting for a refresh (its timeout, its cancellation); the refresh
        itself is not cut off, and whoever asks meanwhile waits for the same one.
        """
        session = self._oauth_session
        hass, entry_id = session.hass, session.config_entry.entry_id
        renewals = hass.data.setdefault(DATA_TOKEN_RENEWALS, {})
        if (renewal := renewals.get(entry_id)) is None:
            if self._refused == _sign_in(session.token):
                # Asking again with a refused refresh token cannot work: wait for a sign-in.
                raise EvEnergyAuthError("the refresh token was refused; sign in again")
            if session.valid_token:
                return cast("str", session.token["access_token"])
            # Kept by Home Assistant rather than the entry: unloading the entry must not cut
            # the refresh off either, as its answer holds the only valid refresh token.
            renewal = hass.async_create_background_task(
                self._async_renew(), f"{DOMAIN} token refresh {entry_id}"
            )
            renewals[entry_id] = renewal

            def forget(done: asyncio.Task[None]) -> None:
                # Until now a caller joining the finished refresh got its outcome at once.
                del renewals[entry_id]
                # Its callers may all have stopped waiting; _async_renew handled its failure.
                if not done.cancelled():
                    done.exception()

            renewal.add_done_callback(forget)
        await asyncio.shield(renewal)
        return cast("str", session.token["access_token"])

    async def _async_renew(self) -> None:
        """Refresh the token and store the answer, bounded only by REFRESH_TIMEOUT."""
        session = self._oauth_session
        try:
            async with asyncio.timeout(REFRESH_TIMEOUT):
                await session.async_ensure_token_valid()
        except OAuth2TokenRequestReauthError as err:
            self._refused = _sign_in(session.token)
            raise EvEnergyAuthError("the refresh token was refused") from err
        except (OAuth2TokenRequestBaseError, ClientError, TimeoutError) as err:
            if not self._failing:
                self._failing = True
                _LOGGER.warning(
                    "Could not renew the ev.energy access token, retrying at each update: %s",
                    str(err) or f"no answer in {REFRESH_TIMEOUT} s",
                )
            raise EvEnergyConnectionError("the token endpoint could not be reached") from err
        if self._failing:
            self._failing = False
            _LOGGER.info("Renewing the ev.energy access token works again")

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
