"""OAuth2 authorization-code flow with PKCE, refresh rotation, revocation and their errors."""

import base64
import hashlib
from typing import Any

import aiohttp
import pytest
from yarl import URL

from simulator import SimulatorConfig, SimulatorServer

from .conftest import START, Client

CLIENT = {"client_id": "demo-client-id", "client_secret": "demo-client-secret"}
REDIRECT = "http://127.0.0.1:8123/auth/external/callback"
VERIFIER = "a-very-long-code-verifier-with-enough-entropy-0123456789"
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=")


def authorize_query(**overrides: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": CLIENT["client_id"],
        "redirect_uri": REDIRECT,
        "state": "state-123",
        "scope": "user:read vehicle:read",
        "code_challenge": CHALLENGE.decode(),
        "code_challenge_method": "S256",
    } | overrides


async def authorize(client: Client, **overrides: str) -> URL:
    """Run the authorize step; return the redirect target."""
    async with client.session.get(
        f"{client.base_url}/o/authorize/",
        params=authorize_query(**overrides),
        allow_redirects=False,
    ) as response:
        assert response.status == 302, await response.text()
        return URL(response.headers["Location"])


async def token(client: Client, basic: tuple[str, str] | None = None, **form: str) -> Any:
    """POST the token endpoint (client auth in the form, or HTTP Basic); return (status, JSON)."""
    data = form if basic else CLIENT | form
    headers = {"Authorization": aiohttp.encode_basic_auth(*basic)} if basic else {}
    async with client.session.post(
        f"{client.base_url}/o/token/", data=data, headers=headers
    ) as resp:
        return resp.status, await resp.json()


async def exchange(client: Client, code: str, verifier: str = VERIFIER) -> Any:
    return await token(
        client,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        code_verifier=verifier,
    )


async def test_code_flow_with_pkce(client: Client) -> None:
    redirect = await authorize(client)
    assert str(redirect.with_query(None)) == REDIRECT
    assert redirect.query["state"] == "state-123"
    status, body = await exchange(client, redirect.query["code"])
    assert status == 200
    assert body.keys() == {"access_token", "token_type", "expires_in", "refresh_token", "scope"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 36000
    assert body["scope"] == "user:read vehicle:read"
    reply = await client.get("/v2/users", token=body["access_token"])
    assert reply.status == 200
    forbidden = await client.get("/v2/evses", token=body["access_token"])
    assert forbidden.status == 403


async def test_code_flow_basic_auth_without_pkce(client: Client) -> None:
    redirect = await authorize(
        client,
        code_challenge="",
        redirect_uri="https://my.home-assistant.io/redirect/oauth",
        scope="",
    )
    assert redirect.host == "my.home-assistant.io"
    # Without PKCE the challenge parameters are simply absent.
    async with client.session.get(
        f"{client.base_url}/o/authorize/",
        params={
            k: v
            for k, v in authorize_query().items()
            if k not in ("code_challenge", "code_challenge_method")
        },
        allow_redirects=False,
    ) as response:
        code = URL(response.headers["Location"]).query["code"]
    status, body = await token(
        client,
        (CLIENT["client_id"], CLIENT["client_secret"]),
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
    )
    assert status == 200
    assert "user:read" in body["scope"]


async def test_wrong_client_secret(client: Client) -> None:
    redirect = await authorize(client)
    async with client.session.post(
        f"{client.base_url}/o/token/",
        data={
            "grant_type": "authorization_code",
            "code": redirect.query["code"],
            "redirect_uri": REDIRECT,
            "client_id": CLIENT["client_id"],
            "client_secret": "wrong",
        },
    ) as response:
        assert response.status == 401
        assert await response.json() == {"error": "invalid_client"}
    status, body = await token(client, ("demo-client-id", "wrong"), grant_type="refresh_token")
    assert (status, body) == (401, {"error": "invalid_client"})
    async with client.session.post(
        f"{client.base_url}/o/token/",
        data={"grant_type": "refresh_token"},
        headers={"Authorization": "Basic !!!not-base64"},
    ) as response:
        assert response.status == 401


async def test_code_is_single_use(client: Client) -> None:
    code = (await authorize(client)).query["code"]
    assert (await exchange(client, code))[0] == 200
    assert await exchange(client, code) == (400, {"error": "invalid_grant"})


async def test_bad_verifier(client: Client) -> None:
    code = (await authorize(client)).query["code"]
    status, body = await exchange(client, code, verifier="something-else")
    assert status == 400
    assert body["error"] == "invalid_grant"


async def test_expired_code(sim: SimulatorServer, client: Client) -> None:
    code = (await authorize(client)).query["code"]
    sim.clock.advance(61)
    assert await exchange(client, code) == (400, {"error": "invalid_grant"})


async def test_redirect_uri_must_match(client: Client) -> None:
    code = (await authorize(client)).query["code"]
    status, body = await token(
        client,
        grant_type="authorization_code",
        code=code,
        redirect_uri="http://127.0.0.1:9999/auth/external/callback",
        code_verifier=VERIFIER,
    )
    assert (status, body["error"]) == (400, "invalid_grant")


async def test_refresh_rotates(client: Client) -> None:
    _, first = await exchange(client, (await authorize(client)).query["code"])
    status, second = await token(
        client, grant_type="refresh_token", refresh_token=first["refresh_token"]
    )
    assert status == 200
    assert second["refresh_token"] != first["refresh_token"]
    assert second["scope"] == first["scope"]
    reused = await token(client, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert reused == (400, {"error": "invalid_grant"})
    assert (await client.get("/v2/users", token=first["access_token"])).status == 401
    assert (await client.get("/v2/users", token=second["access_token"])).status == 200


async def test_refresh_refused_fault(sim: SimulatorServer, client: Client) -> None:
    refresh = sim.issue_token()["refresh_token"]
    sim.faults.add("refresh_refused")
    refused = await token(client, grant_type="refresh_token", refresh_token=refresh)
    assert refused == (400, {"error": "invalid_grant"})
    status, _ = await token(client, grant_type="refresh_token", refresh_token=refresh)
    assert status == 200


async def test_grant_type_errors(client: Client) -> None:
    assert await token(client, grant_type="password") == (400, {"error": "unsupported_grant_type"})
    status, body = await token(client)
    assert (status, body["error"]) == (400, "invalid_request")


async def test_revoke(sim: SimulatorServer, client: Client) -> None:
    issued = sim.issue_token()
    async with client.session.post(
        f"{client.base_url}/o/revoke_token/", data=CLIENT | {"token": issued["refresh_token"]}
    ) as response:
        assert response.status == 200
    assert (await client.get("/v2/users", token=issued["access_token"])).status == 401
    status, _ = await token(
        client, grant_type="refresh_token", refresh_token=issued["refresh_token"]
    )
    assert status == 400

    other = sim.issue_token()
    for revoked in (other["access_token"], "unknown-token"):
        async with client.session.post(
            f"{client.base_url}/o/revoke_token/", data=CLIENT | {"token": revoked}
        ) as response:
            assert response.status == 200
    assert (await client.get("/v2/users", token=other["access_token"])).status == 401
    assert other["refresh_token"] not in sim.oauth.refresh_tokens

    async with client.session.post(
        f"{client.base_url}/o/revoke_token/", data={"token": "x", "client_id": "demo-client-id"}
    ) as response:
        assert response.status == 401
    async with client.session.post(
        f"{client.base_url}/o/revoke_token", data=CLIENT | {"token": "x"}
    ) as response:
        assert response.status == 405


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "user:read everything:write"}, "invalid_scope"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
    ],
)
async def test_authorize_errors_redirect(
    client: Client, overrides: dict[str, str], error: str
) -> None:
    redirect = await authorize(client, **overrides)
    assert redirect.query["error"] == error
    assert redirect.query["state"] == "state-123"
    assert "code" not in redirect.query


@pytest.mark.parametrize(
    "overrides",
    [
        {"client_id": "someone-else"},
        {"redirect_uri": "https://evil.example/auth/external/callback"},
        {"redirect_uri": "http://127.0.0.1:8123/other/path"},
    ],
)
async def test_authorize_never_redirects_to_unvalidated_uri(
    client: Client, overrides: dict[str, str]
) -> None:
    async with client.session.get(
        f"{client.base_url}/o/authorize/",
        params=authorize_query(**overrides),
        allow_redirects=False,
    ) as response:
        assert response.status == 400
        assert "Location" not in response.headers
        assert "Authorization error" in await response.text()


@pytest.mark.parametrize(
    "sim_config", [SimulatorConfig(time_scale=0, start=START, consent_page=True)]
)
async def test_consent_page(client: Client) -> None:
    async with client.session.get(
        f"{client.base_url}/o/authorize/", params=authorize_query(), allow_redirects=False
    ) as response:
        assert response.status == 200
        page = await response.text()
    assert '<button name="approve" value="1">Approve</button>' in page
    assert 'action="/o/authorize/"' in page
    form = authorize_query()
    async with client.session.post(
        f"{client.base_url}/o/authorize/", data=form | {"approve": "1"}, allow_redirects=False
    ) as response:
        approved = URL(response.headers["Location"])
    assert (await exchange(client, approved.query["code"]))[0] == 200
    async with client.session.post(
        f"{client.base_url}/o/authorize/", data=form | {"deny": "1"}, allow_redirects=False
    ) as response:
        denied = URL(response.headers["Location"])
    assert denied.query["error"] == "access_denied"
    assert denied.query["state"] == "state-123"


@pytest.mark.parametrize(
    "sim_config", [SimulatorConfig(time_scale=0, start=START, access_token_ttl=600)]
)
async def test_access_token_expires(sim: SimulatorServer, client: Client) -> None:
    assert sim.issue_token()["expires_in"] == 600
    assert (await client.get("/v2/users")).status == 200
    sim.clock.advance(601)
    reply = await client.get("/v2/users")
    assert reply.status == 401
    assert reply.json()["detail"] == "Invalid token."


async def test_revoke_all(sim: SimulatorServer, client: Client) -> None:
    assert await client.admin("POST", "/_sim/tokens/revoke_all") == {"revoked": True}
    assert (await client.get("/v2/users")).status == 401
    assert not sim.oauth.refresh_tokens
