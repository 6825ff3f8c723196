"""Fixtures for the API client tests: a real local server, a real session, no Home Assistant."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from custom_components.ev_energy.api import EvEnergyClient, client as client_module, models

from .fake_api import FakeApi, FakeAuth, FakeClock


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Override the package-wide autouse fixture: the API package needs no `hass` instance."""


@pytest.fixture(autouse=True)
def forget_reported_enum_values() -> Iterator[None]:
    """Unknown enum values are reported once per process; give each test a clean slate."""
    models._REPORTED_UNKNOWN.clear()
    yield
    models._REPORTED_UNKNOWN.clear()


@pytest.fixture
def loopback(socket_enabled: None) -> None:
    """Let the test open sockets; pytest-socket still only allows connecting to 127.0.0.1."""


async def _started_api() -> FakeApi:
    api = FakeApi()
    await api.server.start_server()
    return api


@pytest.fixture
async def api(loopback: None) -> AsyncIterator[FakeApi]:
    """The fake ev.energy API, listening on 127.0.0.1."""
    fake = await _started_api()
    yield fake
    fake.release.set()
    await fake.server.close()


@pytest.fixture
async def other_host(loopback: None) -> AsyncIterator[FakeApi]:
    """A second server (another origin) that must never receive anything."""
    fake = await _started_api()
    yield fake
    fake.release.set()
    await fake.server.close()


@pytest.fixture
async def session(loopback: None) -> AsyncIterator[aiohttp.ClientSession]:
    """A real aiohttp session."""
    async with aiohttp.ClientSession() as http:
        yield http


@pytest.fixture
def auth() -> FakeAuth:
    """A token source that counts invalidations."""
    return FakeAuth()


@pytest.fixture
def client(session: aiohttp.ClientSession, auth: FakeAuth, api: FakeApi) -> EvEnergyClient:
    """The client under test, pointed at the fake API."""
    return EvEnergyClient(session, auth, api_url=api.url)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """Freeze the client's monotonic clock (only inside the client module)."""
    fake = FakeClock()
    monkeypatch.setattr(client_module, "time", fake)
    return fake
