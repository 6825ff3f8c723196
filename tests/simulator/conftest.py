"""Fixtures for simulator tests: a real simulator on 127.0.0.1 and an HTTP client for it."""

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
import json
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy
import pytest

from simulator import SimulatorConfig, SimulatorServer
from tests.openapi_spec import validate_request, validate_response

# A Tuesday morning in GMT: Agile prices for tomorrow are not published yet (16:00).
START = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
TESLA = "vhcl01HRY314M00GB6KC9QA0MZ17QK"  # plugged in, smart charging, limit 80 %
LEAF = "vhcl01HRY314M0E6RHXQAQPDH4AFAX"  # unplugged, smart charging off, empty description
EVSE = "evse01HRY314M0VPVTX363SN6FCCW8"
TARIFF = "tari01HRY314M0TEWH0AVNH9DN65R6"
USER = "user01HRY314M071HFE865V215DE1C"


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Override the package-wide autouse fixture: the simulator needs no `hass` instance."""


@dataclass
class Reply:
    """A received response."""

    method: str
    url: str
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


class Client:
    """HTTP client for the simulator, optionally checking each /v2 exchange against the spec."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, token: str) -> None:
        self.session = session
        self.base_url = base_url
        self.token = token
        self.contract = False

    async def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        check_request: bool = True,
    ) -> Reply:
        """Send a request to ``path`` (relative to the server root) with the bearer token.

        In contract mode the response is validated against the spec, and so is the request
        when the simulator accepted it (unless ``check_request`` is off, for deliberate
        extensions such as comma-separated ``expand``).
        """
        all_headers = {"Authorization": f"Bearer {token or self.token}", **(headers or {})}
        data = None if body is None else json.dumps(body).encode()
        if data is not None:
            all_headers["Content-Type"] = "application/json"
        url = path if path.startswith("http") else self.base_url + path
        async with self.session.request(
            method, url, data=data, headers=all_headers, allow_redirects=False
        ) as response:
            reply = Reply(
                method, str(response.url), response.status, response.headers, await response.read()
            )
        if self.contract:
            for header in ("EvEnergy-Version", "X-RateLimit-Limit", "X-RateLimit-Remaining"):
                assert header in reply.headers, header
            validate_response(method, reply.url, reply.status, reply.headers, reply.body)
            if check_request and 200 <= reply.status < 300:
                validate_request(method, reply.url, all_headers, data)
        return reply

    async def get(self, path: str, **kwargs: Any) -> Reply:
        """GET ``path``."""
        return await self.call("GET", path, **kwargs)

    async def admin(self, method: str, path: str, body: Any = None) -> Any:
        """Call the admin API and return its JSON."""
        async with self.session.request(method, self.base_url + path, json=body) as response:
            return await response.json()


@pytest.fixture
def sim_config() -> SimulatorConfig:
    """Frozen clock at START so tests move time explicitly."""
    return SimulatorConfig(time_scale=0, start=START)


@pytest.fixture
async def sim(socket_enabled: None, sim_config: SimulatorConfig) -> AsyncIterator[SimulatorServer]:
    """A running simulator."""
    server = SimulatorServer(sim_config)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def client(sim: SimulatorServer) -> AsyncIterator[Client]:
    """A client holding a token with the integration's scopes."""
    async with aiohttp.ClientSession() as session:
        yield Client(session, sim.base_url, sim.issue_token()["access_token"])


@pytest.fixture
def contract_client(client: Client) -> Client:
    """Like ``client``, but each /v2 response (and accepted request) is checked against the spec."""
    client.contract = True
    return client
