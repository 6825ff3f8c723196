"""Authentication seam between the client and whoever owns the OAuth tokens."""

from __future__ import annotations

from abc import ABC, abstractmethod


class AbstractAuth(ABC):
    """Supplies access tokens; Home Assistant adapts its OAuth2Session to this."""

    @abstractmethod
    async def async_get_access_token(self) -> str:
        """Return a valid access token, refreshing it first when it has expired.

        Raise EvEnergyAuthError when the refresh is refused, EvEnergyConnectionError when the
        token endpoint cannot be reached.
        """

    async def async_invalidate_access_token(self, refused_token: str) -> bool:
        """Forget `refused_token`, the access token a request was refused with (HTTP 401).

        Renew only if it is still the current token: concurrent requests refused with the
        same token must lead to one renewal, and a late refusal of a token already replaced
        must not cancel its successor. Return True when the next async_get_access_token call
        gives a different token (renewed now or before), so the request is worth retrying.
        A static token cannot be renewed: the default returns False and the refusal is an
        EvEnergyAuthError.
        """
        return False


class StaticTokenAuth(AbstractAuth):
    """A fixed access token, e.g. straight after the OAuth code exchange."""

    def __init__(self, access_token: str) -> None:
        """Hold the token."""
        self._access_token = access_token

    async def async_get_access_token(self) -> str:
        """Return the fixed token."""
        return self._access_token
