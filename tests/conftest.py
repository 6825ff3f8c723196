"""Shared fixtures: credentials, a config entry, and a mocked ev.energy API."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
import time
from typing import Any

import pytest

from custom_components.ev_energy.const import DOMAIN
from homeassistant.components.application_credentials import (
    ClientCredential,
    async_import_client_credential,
)
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    load_json_array_fixture,
    load_json_object_fixture,
)
from pytest_homeassistant_custom_component.test_util.aiohttp import AiohttpClientMocker

CLIENT_ID = "test-client-id"
CLIENT_SECRET = "test-client-secret"
API = "https://api.ev.energy/v2"
TOKEN_URL = "https://api.ev.energy/o/token/"
USER_ID = "user01HN2NJ9NMRZBXT1H6FT9N7735"
TARIFF_ID = "tari01HN2NJ9NMRZBXT1H6FT9N7735"
VEHICLE_ID = "vhcl01HRFF3SEVSCRAV9B3CHVDFN0H"
VEHICLE_NO_STATUS_ID = "vhcl01HRFF3SEVSCRAV9B3CHVDFN1J"
VEHICLE_PAGE2_ID = "vhcl01HRFF3SEVSCRAV9B3CHVDFN2K"
EVSE_ID = "evse01HSH04KDEWF6Z4DB2J77J74K5"
VEHICLES_URL = f"{API}/vehicles"
EVSES_URL = f"{API}/evses"
TARIFF_URL = f"{API}/tariffs/{TARIFF_ID}"
USER_URL = f"{API}/users/{USER_ID}"
PAGE2_QUERY = f"page_after={VEHICLE_NO_STATUS_ID}"
PAGE2_LINK = (
    f'<{VEHICLES_URL}?expand=latest_status_log&expand=trim.model.make&page_size=100&'
    f'{PAGE2_QUERY}>; rel="next", <about:blank>; rel="previous"'
)
NO_MORE_PAGES = '<about:blank>; rel="previous", <about:blank>; rel="next"'


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Load custom_components/ev_energy in every test."""


@pytest.fixture
async def setup_credentials(hass: HomeAssistant) -> None:
    """Store the OAuth client credentials, as the user does in the UI."""
    assert await async_setup_component(hass, "application_credentials", {})
    await async_import_client_credential(
        hass, DOMAIN, ClientCredential(CLIENT_ID, CLIENT_SECRET), DOMAIN
    )


def make_token(access_token: str = "access-1", expires_in: float = 36000) -> dict[str, Any]:
    """Return a token as HA stores it after the OAuth code exchange."""
    return {
        "access_token": access_token,
        "refresh_token": "refresh-1",
        "token_type": "Bearer",
        "expires_in": int(expires_in),
        "expires_at": time.time() + expires_in,
        "scope": "user:read vehicle:read",
    }


@pytest.fixture
def config_entry() -> MockConfigEntry:
    """A signed-in ev.energy entry."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Frodo Baggins",
        unique_id=USER_ID,
        data={"auth_implementation": DOMAIN, "token": make_token()},
    )


@dataclass
class MockApi:
    """The ev.energy API answering from tests/fixtures, one registration per URL."""

    aioclient_mock: AiohttpClientMocker
    vehicles: list[dict[str, Any]] = field(
        default_factory=lambda: load_json_array_fixture("vehicles.json")
    )
    vehicles_page2: list[dict[str, Any]] = field(
        default_factory=lambda: load_json_array_fixture("vehicles_page2.json")
    )
    evses: list[dict[str, Any]] = field(default_factory=lambda: load_json_array_fixture("evses.json"))
    tariff: dict[str, Any] = field(default_factory=lambda: load_json_object_fixture("tariff.json"))
    user: dict[str, Any] = field(default_factory=lambda: load_json_object_fixture("user.json"))

    def register(self) -> None:
        """(Re-)register every endpoint with the current payloads."""
        mock = self.aioclient_mock
        mock.clear_requests()
        mock.get(f"{API}/users", json=load_json_array_fixture("users.json"))
        mock.get(USER_URL, json=self.user)
        if self.vehicles_page2:
            mock.get(
                f"{VEHICLES_URL}?{PAGE2_QUERY}",
                json=self.vehicles_page2,
                headers={"Link": NO_MORE_PAGES},
            )
        mock.get(
            VEHICLES_URL,
            json=self.vehicles,
            headers={"Link": PAGE2_LINK if self.vehicles_page2 else NO_MORE_PAGES},
        )
        mock.get(EVSES_URL, json=self.evses, headers={"Link": NO_MORE_PAGES})
        mock.get(TARIFF_URL, json=self.tariff)

    def calls(self, url: str | None = None) -> list[tuple[Any, ...]]:
        """Requests sent so far (optionally only to `url`, ignoring the query)."""
        return [
            call
            for call in self.aioclient_mock.mock_calls
            if url is None or str(call[1].with_query(None)) == url
        ]


@pytest.fixture
def mock_api(aioclient_mock: AiohttpClientMocker) -> Generator[MockApi]:
    """The mocked API with the default fixtures registered."""
    api = MockApi(aioclient_mock)
    api.register()
    yield api


async def setup_integration(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Set the entry up the way Home Assistant does at start-up."""
    entry.add_to_hass(hass)
    assert await async_setup_component(hass, DOMAIN, {})
    await hass.async_block_till_done()
