"""OAuth2 authorization server: authorization code (+PKCE S256), refresh rotation, revocation.

Errors follow RFC 6749 (JSON ``{"error": ...}``), as django-oauth-toolkit answers them.
"""

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
import hashlib
import html
import re
import secrets
from typing import Any
from urllib.parse import unquote_plus

from aiohttp import web
from yarl import URL

from .clock import SimClock
from .faults import FaultRegistry

INTEGRATION_SCOPES = (
    *("user:read", "vehicle:read", "vehicle:write", "evse:read", "tariff:read"),
    *("tariff:prices:read", "charging_session:read", "charging_session:write", "carbon:read"),
)
KNOWN_SCOPES = frozenset((*INTEGRATION_SCOPES, "user:write", "evse:write", "grid:read"))
DEFAULT_REDIRECT_URIS = (
    r"http://(127\.0\.0\.1|localhost)(:\d+)?/auth/external/callback",
    r"https://my\.home-assistant\.io/redirect/oauth",
)
CODE_LIFETIME = timedelta(seconds=60)


@dataclass
class AuthorizationCode:
    """A pending authorization code (single use)."""

    client_id: str
    user_id: str
    redirect_uri: str
    scopes: frozenset[str]
    challenge: str | None
    expires_at: datetime


@dataclass
class AccessToken:
    """An issued access token and the refresh token minted with it."""

    client_id: str
    user_id: str
    scopes: frozenset[str]
    expires_at: datetime
    refresh_token: str


@dataclass
class RefreshToken:
    """A refresh token; using it replaces it (rotation) and its access token."""

    client_id: str
    user_id: str
    scopes: frozenset[str]
    access_token: str


def _oauth_error(error: str, status: int = 400, description: str | None = None) -> web.Response:
    body = {"error": error} | ({"error_description": description} if description else {})
    headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
    if error == "invalid_client":
        headers["WWW-Authenticate"] = 'Basic realm="oauth"'
    return web.json_response(body, status=status, headers=headers)


class OAuthServer:
    """Token store plus the ``/o/`` endpoints."""

    def __init__(
        self,
        clock: SimClock,
        faults: FaultRegistry,
        user_id: str,
        client_id: str,
        client_secret: str,
        access_token_ttl: int,
        redirect_uris: Iterable[str] = DEFAULT_REDIRECT_URIS,
        consent_page: bool = False,
    ) -> None:
        """Configure the single OAuth client and the user every grant is issued for."""
        self.clock = clock
        self.faults = faults
        self.user_id = user_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.access_token_ttl = access_token_ttl
        self.redirect_uris = [re.compile(pattern) for pattern in redirect_uris]
        self.consent_page = consent_page
        self.codes: dict[str, AuthorizationCode] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}

    def routes(self) -> list[web.RouteDef]:
        """Return the OAuth routes (trailing slashes required, like ev.energy)."""
        return [
            web.get("/o/authorize/", self.authorize),
            web.post("/o/authorize/", self.authorize),
            web.post("/o/token/", self.token),
            web.post("/o/revoke_token/", self.revoke),
            web.route("*", "/o/revoke_token", self._method_not_allowed),
        ]

    # --- token store -------------------------------------------------------------------

    def issue(
        self, user_id: str, scopes: Iterable[str], client_id: str | None = None
    ) -> dict[str, Any]:
        """Mint an access + refresh token pair; return the token endpoint's JSON."""
        client_id = client_id or self.client_id
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        scope_set = frozenset(scopes)
        expires_at = self.clock.now() + timedelta(seconds=self.access_token_ttl)
        self.access_tokens[access] = AccessToken(client_id, user_id, scope_set, expires_at, refresh)
        self.refresh_tokens[refresh] = RefreshToken(client_id, user_id, scope_set, access)
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.access_token_ttl,
            "refresh_token": refresh,
            "scope": " ".join(sorted(scope_set)),
        }

    def authenticate(self, token: str) -> AccessToken | None:
        """Look up a live access token; None if unknown, expired or revoked."""
        access = self.access_tokens.get(token)
        if access is None or access.expires_at <= self.clock.now():
            return None
        return access

    def revoke_all(self) -> None:
        """Invalidate every access and refresh token."""
        self.access_tokens.clear()
        self.refresh_tokens.clear()

    def _revoke_refresh(self, refresh: str) -> None:
        if grant := self.refresh_tokens.pop(refresh, None):
            self.access_tokens.pop(grant.access_token, None)

    # --- /o/authorize/ -----------------------------------------------------------------

    async def authorize(self, request: web.Request) -> web.Response:
        """Validate the client and redirect URI, then approve (or show a consent page)."""
        source = request.query if request.method == "GET" else await request.post()
        params = {key: str(value) for key, value in source.items()}
        if params.get("client_id") != self.client_id:
            return _error_page("invalid_client", "Unknown client_id.")
        redirect_uri = params.get("redirect_uri", "")
        if not any(pattern.fullmatch(redirect_uri) for pattern in self.redirect_uris):
            return _error_page("invalid_request", "redirect_uri is not registered for this client.")
        extra = {"state": params["state"]} if "state" in params else {}
        if error := _authorize_error(params):
            return _redirect(URL(redirect_uri), error=error, **extra)
        if request.method == "GET" and self.consent_page:
            return _consent_page(params)
        if request.method == "POST" and "approve" not in params:
            return _redirect(URL(redirect_uri), error="access_denied", **extra)
        code = secrets.token_urlsafe(24)
        self.codes[code] = AuthorizationCode(
            self.client_id,
            self.user_id,
            redirect_uri,
            frozenset(params.get("scope", "").split()) or frozenset(INTEGRATION_SCOPES),
            params.get("code_challenge"),
            self.clock.now() + CODE_LIFETIME,
        )
        return _redirect(URL(redirect_uri), code=code, **extra)

    # --- /o/token/ ---------------------------------------------------------------------

    async def token(self, request: web.Request) -> web.Response:
        """authorization_code and refresh_token grants."""
        form = await request.post()
        client_id, client_secret = _client_credentials(request, form)
        if client_id != self.client_id or client_secret != self.client_secret:
            return _oauth_error("invalid_client", 401)
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return self._exchange_code(form)
        if grant_type == "refresh_token":
            return self._refresh(form, request.path)
        if grant_type is None:
            return _oauth_error("invalid_request", description="Missing grant_type.")
        return _oauth_error("unsupported_grant_type")

    def _refresh(self, form: Any, path: str) -> web.Response:
        refresh = str(form.get("refresh_token", ""))
        grant = self.refresh_tokens.get(refresh)
        if grant is None or self.faults.take("refresh_refused", path):
            return _oauth_error("invalid_grant")
        self._revoke_refresh(refresh)  # rotation: the used refresh token and its access token die
        return _token_response(self.issue(grant.user_id, grant.scopes, grant.client_id))

    def _exchange_code(self, form: Any) -> web.Response:
        code = self.codes.pop(str(form.get("code", "")), None)
        if code is None or code.expires_at <= self.clock.now():
            return _oauth_error("invalid_grant")
        if form.get("redirect_uri") != code.redirect_uri:
            return _oauth_error("invalid_grant", description="Mismatching redirect URI.")
        if code.challenge is not None:
            verifier = str(form.get("code_verifier", ""))
            digest = hashlib.sha256(verifier.encode()).digest()
            expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if not secrets.compare_digest(expected, code.challenge):
                return _oauth_error("invalid_grant", description="Code verifier mismatch.")
        return _token_response(self.issue(code.user_id, code.scopes, code.client_id))

    # --- /o/revoke_token/ --------------------------------------------------------------

    async def revoke(self, request: web.Request) -> web.Response:
        """RFC 7009: always 200 for an authenticated client, known token or not."""
        form = await request.post()
        client_id, client_secret = _client_credentials(request, form)
        if client_id != self.client_id or client_secret != self.client_secret:
            return _oauth_error("invalid_client", 401)
        token = str(form.get("token", ""))
        if token in self.refresh_tokens:
            self._revoke_refresh(token)
        elif access := self.access_tokens.pop(token, None):
            self.refresh_tokens.pop(access.refresh_token, None)
        return web.Response(status=200)

    @staticmethod
    async def _method_not_allowed(request: web.Request) -> web.Response:
        return web.Response(status=405, text="Method Not Allowed")


def _authorize_error(params: dict[str, str]) -> str | None:
    """RFC 6749 error code for a bad authorization request (sent to the redirect URI)."""
    if params.get("response_type") != "code":
        return "unsupported_response_type"
    if not set(params.get("scope", "").split()) <= KNOWN_SCOPES:
        return "invalid_scope"
    if "code_challenge" in params and params.get("code_challenge_method") != "S256":
        return "invalid_request"
    return None


def _client_credentials(request: web.Request, form: Any) -> tuple[str | None, str | None]:
    """Client credentials from HTTP Basic, else from the form body."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            client_id, _, secret = base64.b64decode(value).decode().partition(":")
        except ValueError:
            return None, None
        # RFC 6749 2.3.1: both parts are form-urlencoded before base64.
        return unquote_plus(client_id), unquote_plus(secret)
    return form.get("client_id"), form.get("client_secret")


def _token_response(body: dict[str, Any]) -> web.Response:
    return web.json_response(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


def _redirect(redirect_uri: URL, **query: str) -> web.Response:
    return web.Response(status=302, headers={"Location": str(redirect_uri.update_query(query))})


def _error_page(error: str, description: str) -> web.Response:
    """Show the error to the user; never redirect, the redirect URI is not trusted."""
    text = f"<h1>Authorization error</h1><p>{error}: {html.escape(description)}</p>"
    return web.Response(status=400, text=text, content_type="text/html")


def _consent_page(params: dict[str, str]) -> web.Response:
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in params.items()
    )
    text = (
        "<!doctype html><title>ev.energy simulator</title><h1>Authorize access?</h1>"
        f"<p>Scopes: {html.escape(params.get('scope', ''))}</p>"
        f'<form method="post" action="/o/authorize/">{hidden}'
        '<button name="approve" value="1">Approve</button> '
        '<button name="deny" value="1">Deny</button></form>'
    )
    return web.Response(text=text, content_type="text/html")
