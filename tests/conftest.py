"""Shared fixtures: credentials, a config entry, and a mocked ev.energy API."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import logging
import re
import time
from typing import Any, cast
from unittest.mock import PropertyMock, patch

import freezegun.api
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.application_credentials import (
    ClientCredential,
    async_import_client_credential,
)
from homeassistant.config_entries import ConfigEntryState, ConfigFlowResult
from homeassistant.const import EVENT_STATE_CHANGED, STATE_UNAVAILABLE
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, State, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    load_json_array_fixture,
    load_json_object_fixture,
)
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from pytest_homeassistant_custom_component.test_util.aiohttp import (
    AiohttpClientMocker,
    AiohttpClientMockResponse,
)
from syrupy.assertion import SnapshotAssertion
from yarl import URL

from custom_components.ev_energy.const import DOMAIN

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
PRICES_URL = f"{TARIFF_URL}/prices"
SESSIONS_URL = f"{API}/charging_sessions"
OPEN_SESSION_URL = f"{SESSIONS_URL}/cses01HSH04KDEWF6Z4DB2J77J7AAA"
CONNECTIVITY_URL = f"{API}/evses/evse01HSH04KDEWF6Z4DB2J77J74K5/connectivity"
# The open session's current sub-session, and its charging plan.
SUB_SESSION_ID = "csub01HSH04KDEWF6Z4DB2J77J7AA1"
SCHEDULES_URL = f"{API}/charging_sub_sessions/{SUB_SESSION_ID}/schedules"
NOTIFICATIONS_URL = f"{API}/notifications"
RECONNECT_URL = f"{VEHICLES_URL}/{VEHICLE_NO_STATUS_ID}/reconnect"
# Every entry-based test runs at this instant: 10:10 UTC (= London) on a day the price fixture
# covers half-hourly, inside the 10:00-10:30 interval priced 24p.
NOW = datetime(2026, 11, 22, 10, 10, tzinfo=UTC)
USER_URL = f"{API}/users/{USER_ID}"
PAGE2_LINK = (
    f"<{VEHICLES_URL}?expand=latest_status_log&expand=trim.model.make&page_size=100&"
    f'page_after={VEHICLE_NO_STATUS_ID}>; rel="next", <about:blank>; rel="previous"'
)
NO_MORE_PAGES = '<about:blank>; rel="previous", <about:blank>; rel="next"'


def _objects(fixture: str) -> list[dict[str, Any]]:
    return cast("list[dict[str, Any]]", load_json_array_fixture(fixture))


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Load custom_components/ev_energy in every test."""


class _DeprecationReports(logging.Handler):
    """Home Assistant's reports of a custom integration using what it deprecated."""

    def __init__(self) -> None:
        super().__init__()
        self.reports: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Detected that custom integration"):
            self.reports.append(message)


@pytest.fixture(autouse=True)
def fail_on_deprecated_usage() -> Generator[None]:
    """Fail a test in which Home Assistant reports the integration using a deprecated API.

    Such a report is only logged, and the API stops working in a later release. The log
    records are read rather than the reporting function patched: its name and module may
    move between Home Assistant versions, its message has stayed the same.
    """
    handler = _DeprecationReports()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
    if handler.reports:
        pytest.fail("\n".join(handler.reports), pytrace=False)


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
def config_entry(freezer: FrozenDateTimeFactory) -> MockConfigEntry:
    """A signed-in ev.energy entry, at the fixed test instant NOW."""
    freezer.move_to(NOW)
    return MockConfigEntry(
        domain=DOMAIN,
        title="Frodo Baggins",
        unique_id=USER_ID,
        # Valid for a year, so tests may move the clock months ahead (e.g. to a DST day).
        data={"auth_implementation": DOMAIN, "token": make_token(expires_in=365 * 86400)},
    )


@dataclass(frozen=True)
class Fault:
    """One queued failure: an HTTP status (with a problem body) or a raised exception."""

    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    exc: Exception | None = None
    body: dict[str, Any] | None = None


@dataclass
class MockApi:
    """The ev.energy API answering from tests/fixtures, with queued faults per URL.

    Payload attributes are read at request time, so a test changes what the API returns by
    assigning to them; `fail()` makes the next request(s) to a URL fail.
    """

    aioclient_mock: AiohttpClientMocker
    vehicles: list[dict[str, Any]] = field(default_factory=lambda: _objects("vehicles.json"))
    vehicles_page2: list[dict[str, Any]] = field(
        default_factory=lambda: _objects("vehicles_page2.json")
    )
    evses: list[dict[str, Any]] = field(default_factory=lambda: _objects("evses.json"))
    tariff: dict[str, Any] = field(default_factory=lambda: load_json_object_fixture("tariff.json"))
    user: dict[str, Any] = field(default_factory=lambda: load_json_object_fixture("user.json"))
    users: list[dict[str, Any]] = field(default_factory=lambda: _objects("users.json"))
    prices: list[dict[str, Any]] = field(default_factory=lambda: _objects("prices.json"))
    sessions: list[dict[str, Any]] = field(
        default_factory=lambda: _objects("charging_sessions.json")
    )
    connectivity: dict[str, Any] = field(
        default_factory=lambda: load_json_object_fixture("connectivity.json")
    )
    # Every sub-session's plan, whatever its id (boost in tests adds new sub-sessions)...
    schedules: dict[str, Any] = field(
        default_factory=lambda: load_json_object_fixture("schedules.json")
    )
    # ...but these, by sub-session id.
    sub_session_schedules: dict[str, dict[str, Any]] = field(default_factory=dict)
    notifications: list[dict[str, Any]] = field(
        default_factory=lambda: _objects("notifications.json")
    )
    # Bodies of PATCH /notifications/{id}, by notification id.
    notifications_read: dict[str, Any] = field(default_factory=dict)
    reconnect: dict[str, Any] = field(
        default_factory=lambda: {
            "url": "https://app.ev.energy/vehicle-onboarding/start/56091b3b-86e9-4e7c",
            "expires_at": "2026-11-22T11:10:00Z",
        }
    )
    faults: dict[str, list[Fault]] = field(default_factory=dict)
    # Answers to these URLs are computed at once but held back until the event is set, like a
    # request still in flight while something else happens.
    gates: dict[str, asyncio.Event] = field(default_factory=dict)
    held: list[str] = field(default_factory=list)
    # When set, every answer carries X-RateLimit-Limit/Remaining like the real API.
    rate_limit: tuple[int, int] | None = None
    # When set, the first vehicles page carries this Link header instead of the real one.
    vehicles_link: str | None = None
    # When set, only this bearer token is accepted: any other gets a 401, after awaiting
    # `refusal_gate` (if set), so a test can order concurrent refusals.
    access_token: str | None = None
    refusal_gate: Callable[[], Awaitable[None]] | None = None

    def __post_init__(self) -> None:
        """Register every endpoint once; answers are computed per request."""
        self._endpoint("get", f"{API}/users", lambda *_: (self.users, {}))
        self._endpoint("get", USER_URL, lambda *_: (self.user, {}))
        self._endpoint("get", VEHICLES_URL, self._vehicles_page)
        self._endpoint("get", EVSES_URL, lambda *_: (self.evses, {"Link": NO_MORE_PAGES}))
        self._endpoint("get", TARIFF_URL, lambda *_: (self.tariff, {}))
        self._endpoint("get", PRICES_URL, lambda *_: (self.prices, {"Link": NO_MORE_PAGES}))
        self._endpoint("patch", f"{VEHICLES_URL}/{VEHICLE_ID}", self._patch_vehicle)
        self._endpoint("get", SESSIONS_URL, lambda *_: (self.sessions, {"Link": NO_MORE_PAGES}))
        self._endpoint("get", CONNECTIVITY_URL, lambda *_: (self.connectivity, {}))
        self._endpoint(
            "get",
            SCHEDULES_URL,
            lambda url, _: (self.sub_session_schedules.get(url.parts[-2], self.schedules), {}),
            match=re.compile(rf"^{re.escape(API)}/charging_sub_sessions/[^/]+/schedules"),
        )
        self._endpoint(
            "get", NOTIFICATIONS_URL, lambda *_: (self.notifications, {"Link": NO_MORE_PAGES})
        )
        self._endpoint(
            "patch",
            f"{NOTIFICATIONS_URL}/",
            self._patch_notification,
            match=re.compile(rf"^{re.escape(NOTIFICATIONS_URL)}/[^/?]+"),
        )
        self._endpoint("post", RECONNECT_URL, lambda *_: (self.reconnect, {}))
        for action in ("boost_start", "boost_end"):
            self._endpoint("post", f"{OPEN_SESSION_URL}/{action}", self._boost(action))

    def _boost(self, action: str) -> Callable[[URL, Any], tuple[Any, dict[str, str]]]:
        def answer(url: URL, body: object) -> tuple[Any, dict[str, str]]:
            session = self.sessions[0]
            current = session["sub_sessions"][-1]
            current["end"] = "2026-11-22T10:10:00Z"
            mode = "BOOST" if action == "boost_start" else "SMART"
            session["sub_sessions"].append(
                {**current, "id": f"csub-{mode}", "mode": mode, "end": None}
            )
            return {k: v for k, v in session.items() if k != "sub_sessions"}, {}

        return answer

    def _patch_notification(self, url: URL, body: dict[str, Any]) -> tuple[Any, dict[str, str]]:
        notification_id = url.path.rsplit("/", 1)[-1]
        self.notifications_read[notification_id] = body
        notification = next(n for n in self.notifications if n["id"] == notification_id)
        notification.update(body)
        return {"Notification": notification}, {}

    def _patch_vehicle(self, url: URL, body: dict[str, Any]) -> tuple[Any, dict[str, str]]:
        vehicle = next(v for v in self.vehicles if v["id"] == VEHICLE_ID)
        vehicle.update(body)
        return vehicle, {}

    def _vehicles_page(self, url: URL, body: object) -> tuple[Any, dict[str, str]]:
        if url.query.get("page_after") == VEHICLE_NO_STATUS_ID:
            return self.vehicles_page2, {"Link": NO_MORE_PAGES}
        link = PAGE2_LINK if self.vehicles_page2 else NO_MORE_PAGES
        if self.vehicles_link is not None:
            link = self.vehicles_link
        return self.vehicles, {"Link": link}

    def _endpoint(
        self,
        method: str,
        url: str,
        answer: Callable[[URL, Any], tuple[Any, dict[str, str]]],
        match: re.Pattern[str] | None = None,
    ) -> None:
        """Answer requests to `url` (or matching `match`); faults queue under `url`."""

        async def respond(method: str, request_url: URL, data: Any) -> AiohttpClientMockResponse:
            # The mocker records the request (with its headers) just before calling us.
            sent_headers = self.aioclient_mock.mock_calls[-1][3] or {}
            if (
                self.access_token is not None
                and sent_headers.get("Authorization") != f"Bearer {self.access_token}"
            ):
                if self.refusal_gate is not None:
                    await self.refusal_gate()
                return AiohttpClientMockResponse(method, request_url, status=401)
            # Faults queue under the URL asked for, else under the endpoint's (one answering
            # many URLs, like every sub-session's schedules, fails for all of them).
            queue = self.faults.get(str(request_url.with_query(None))) or self.faults.get(url)
            if queue:
                fault = queue.pop(0)
                return AiohttpClientMockResponse(
                    method,
                    request_url,
                    status=fault.status,
                    json=fault.body
                    or {"title": "Error", "detail": f"HTTP {fault.status}", "status": fault.status},
                    headers={"Content-Type": "application/problem+json", **fault.headers},
                    exc=fault.exc,
                )
            body, headers = answer(request_url, data)
            if self.rate_limit is not None:
                limit, remaining = self.rate_limit
                headers = {
                    **headers,
                    "X-RateLimit-Limit": str(limit),
                    "X-RateLimit-Remaining": str(remaining),
                }
            # The body is serialised here, so a held answer keeps what was true when it was read.
            response = AiohttpClientMockResponse(method, request_url, json=body, headers=headers)
            if (gate := self.gates.get(url)) is not None:
                self.held.append(url)
                await gate.wait()
            return response

        self.aioclient_mock.request(method, match or url, side_effect=respond)

    def hold(self, url: str) -> asyncio.Event:
        """Hold answers to `url` until the returned event is set."""
        return self.gates.setdefault(url, asyncio.Event())

    async def wait_held(self, url: str, count: int = 1) -> None:
        """Run the loop until `count` requests to `url` are being held."""
        # The loop's clock is frozen in these tests, so the deadline is read off the real one.
        deadline = freezegun.api.real_monotonic() + 5
        while self.held.count(url) < count:
            assert freezegun.api.real_monotonic() < deadline, f"no request to {url} held"
            await asyncio.sleep(0)

    def add_charger(self, evse_id: str) -> str:
        """Add a second charger like the first; return its connectivity URL."""
        self.evses.append({**self.evses[0], "id": evse_id})
        url = f"{API}/evses/{evse_id}/connectivity"
        self._endpoint("get", url, lambda *_: (self.connectivity, {}))
        return url

    def fail(self, url: str, fault: Fault | None = None, times: int = 1) -> None:
        """Make the next `times` requests to `url` fail with `fault` (default HTTP 500).

        `url` is an endpoint's, or one of the URLs an endpoint answers (one sub-session's
        schedules).
        """
        self.faults.setdefault(url, []).extend([fault or Fault()] * times)

    def calls(self, url: str | None = None) -> list[tuple[Any, ...]]:
        """Requests sent so far (optionally only to `url`, ignoring the query)."""
        return [
            call
            for call in self.aioclient_mock.mock_calls
            if url is None or str(call[1].with_query(None)) == url
        ]


@pytest.fixture
def mock_api(aioclient_mock: AiohttpClientMocker) -> MockApi:
    """The mocked API with the default fixtures registered."""
    return MockApi(aioclient_mock)


def state_of(hass: HomeAssistant, entity_id: str) -> State:
    """Return an entity's state, failing the test if the entity does not exist."""
    state = hass.states.get(entity_id)
    assert state is not None, f"{entity_id} does not exist"
    return state


def entry_state(entry: MockConfigEntry) -> ConfigEntryState:
    """Read the entry's state afresh (it changes behind the type checker's back)."""
    return entry.state


async def setup_integration(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Set the entry up the way Home Assistant does at start-up.

    The slower data sets' first reads run in the background; this waits for them too.
    """
    if hass.config_entries.async_get_entry(entry.entry_id) is None:
        entry.add_to_hass(hass)
    assert await async_setup_component(hass, DOMAIN, {})
    await hass.async_block_till_done(wait_background_tasks=True)


async def submit_settings(
    hass: HomeAssistant, entry: MockConfigEntry, **settings: object
) -> ConfigFlowResult:
    """Change options through the options flow's settings form, as the user does."""
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "settings"}
    )
    result = await hass.config_entries.options.async_configure(result["flow_id"], settings)
    await hass.async_block_till_done(wait_background_tasks=True)
    return result


class InPlace:
    """Watches a loaded entry whose options change: it must never reload.

    A reload unloads it (its state changes) and takes every entity through unavailable, and
    the next setup builds new coordinators.
    """

    def __init__(self, hass: HomeAssistant, entry: MockConfigEntry) -> None:
        self.entry = entry
        self.live = entry.runtime_data.live
        self.entry_states: list[ConfigEntryState] = []
        self.unavailable: list[str] = []
        registry = er.async_get(hass)
        entry.async_on_state_change(lambda: self.entry_states.append(entry.state))

        @callback
        def record(event: Event[EventStateChangedData]) -> None:
            entity = registry.async_get(event.data["entity_id"])
            state = event.data["new_state"]
            if (
                entity is not None
                and entity.config_entry_id == entry.entry_id
                and state is not None
                and state.state == STATE_UNAVAILABLE
            ):
                self.unavailable.append(entity.entity_id)

        hass.bus.async_listen(EVENT_STATE_CHANGED, record)

    def check(self) -> None:
        """Fail unless the entry stayed loaded, with the same coordinators and entities."""
        assert self.entry_states == []
        assert self.unavailable == []
        assert self.entry.runtime_data.live is self.live


@pytest.fixture
def entity_registry_enabled_by_default() -> Generator[None]:
    """Create entities that are disabled by default as enabled (for snapshots)."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        new_callable=PropertyMock,
        return_value=True,
    ):
        yield


@pytest.fixture
def only_platform(request: pytest.FixtureRequest) -> Generator[None]:
    """Load only the platform named by the test's `platform` parameter."""
    with patch("custom_components.ev_energy.PLATFORMS", [request.param]):
        yield


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Snapshots with Home Assistant's serializer (stable ids and timestamps)."""
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


async def tick(hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float) -> None:
    """Let `seconds` pass: timers due fire, and whatever they start runs to its end."""
    freezer.tick(timedelta(seconds=seconds))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


async def move_to(hass: HomeAssistant, freezer: FrozenDateTimeFactory, when: datetime) -> None:
    """Jump the clock to `when`: timers due fire, and whatever they start runs to its end."""
    freezer.move_to(when)
    async_fire_time_changed(hass, when)
    await hass.async_block_till_done(wait_background_tasks=True)
