"""Push updates: ev.energy's signed webhook deliveries, through a real config entry."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from http import HTTPStatus
import json
import logging
import time
from typing import Any, cast
from unittest.mock import patch

from aiohttp import ClientResponse
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components import webhook
from homeassistant.components.repairs import DOMAIN as REPAIRS_DOMAIN, repairs_flow_manager
from homeassistant.config_entries import ConfigEntryState, ConfigFlowResult
from homeassistant.const import STATE_OFF, STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.core_config import async_process_ha_core_config
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from homeassistant.util.aiohttp import MockRequest
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
)
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.test_util.aiohttp import (
    AiohttpClientMocker,
    AiohttpClientMockResponse,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.ev_energy.api.webhooks import parse_secret, sign
from custom_components.ev_energy.const import (
    DOMAIN,
    IDLE_UPDATE_INTERVAL,
    PUSH_IDLE_UPDATE_INTERVAL,
)
from custom_components.ev_energy.push import MAX_BODY_BYTES, secret_rejected_issue_id

from .conftest import (
    API,
    EVSES_URL,
    SCHEDULES_URL,
    SESSIONS_URL,
    TOKEN_URL,
    USER_ID,
    VEHICLE_ID,
    VEHICLES_URL,
    Fault,
    InPlace,
    MockApi,
    make_token,
    setup_integration,
    state_of,
    tick,
)

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
KEY = parse_secret(SECRET)
OTHER_SECRET = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
WEBHOOK_ID = "0123456789abcdef" * 4
WEBHOOK_PATH = f"/api/webhook/{WEBHOOK_ID}"
PORTAL = "https://app.svix.com/login#key=one-time"
BOOST_SUB = "csub01HSH04KDEWF6Z4DB2J77JBST1"
BOOST = "switch.family_car_boost"
MODE = "sensor.family_car_last_session_mode"
LAST_EVENT = "sensor.ev_energy_account_last_push_update"
PUSH_ACTIVE = "binary_sensor.ev_energy_account_push_updates"
CREATED = "charging_sub_session.created"
ENDED = "charging_sub_session.ended"
FOREIGN_VEHICLE = "vhcl01HRFF3SEVSCRAV9B3CHVZZZZZ"


def sub_session(**changes: Any) -> dict[str, Any]:
    """A boost sub-session of the family car's open session, as the API returns it."""
    return {
        "id": BOOST_SUB,
        "url": f"{API}/charging_sub_sessions/{BOOST_SUB}",
        "start": "2026-11-22T10:09:00Z",
        "end": None,
        "mode": "BOOST",
        "energy_delivered_watt_hours": 0,
        "vehicle": f"{API}/vehicles/{VEHICLE_ID}",
        "evse": f"{EVSES_URL}/evse01HSH04KDEWF6Z4DB2J77J74K5",
        "cost": 0,
        "currency": "GBP",
        **changes,
    }


def envelope(event_type: str = CREATED, **changes: Any) -> bytes:
    body = {"type": event_type, "timestamp": "2026-11-22T10:09:01Z", "data": sub_session(**changes)}
    return json.dumps(body).encode()


def signed(
    body: bytes, message_id: str = "msg_1", *, key: bytes = KEY, sent: float | None = None
) -> dict[str, str]:
    """The headers Svix sends with `body`, signed with `key` at `sent` (default now)."""
    timestamp = int(time.time() if sent is None else sent)
    return {
        "svix-id": message_id,
        "svix-timestamp": str(timestamp),
        "svix-signature": sign(key, message_id, timestamp, body),
        "content-type": "application/json",
    }


@pytest.fixture
def push_entry(config_entry: MockConfigEntry) -> MockConfigEntry:
    """The signed-in entry with push updates set up."""
    return MockConfigEntry(
        domain=DOMAIN,
        title=config_entry.title,
        unique_id=USER_ID,
        data={**config_entry.data, "webhook_id": WEBHOOK_ID},
        options={"webhook_secret": SECRET},
    )


class Poster:
    """Posts deliveries to the entry's webhook."""

    def __init__(self, hass: HomeAssistant, client_factory: ClientSessionGenerator) -> None:
        self.hass = hass
        self.client_factory = client_factory

    async def __call__(
        self,
        body: bytes,
        headers: dict[str, str] | None = None,
        method: str = "POST",
        *,
        settle: bool = True,
    ) -> ClientResponse:
        """Post and, unless `settle` is False, wait for what the delivery started."""
        client = await self.client_factory()
        response = await client.request(method, WEBHOOK_PATH, data=body, headers=headers or {})
        if settle:
            await self.hass.async_block_till_done()
        return response


@pytest.fixture
async def post(hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator) -> Poster:
    return Poster(hass, hass_client_no_auth)


def _unplug_everything(mock_api: MockApi) -> None:
    """Only the family car and its charger, both unplugged."""
    mock_api.vehicles_page2 = []
    for status in (
        mock_api.vehicles[0]["latest_status_log"],
        mock_api.evses[0]["latest_status_log"],
    ):
        status.update(is_plugged_in=False, is_charging=False)


def _boost_in_api(mock_api: MockApi, *, ended: bool = False) -> None:
    """The API's own sessions list the boost sub-session too (as they would)."""
    mock_api.sessions[0]["sub_sessions"].append(
        sub_session(end="2026-11-22T10:20:00Z" if ended else None)
    )


# --- Rejections --------------------------------------------------------------------------


def _bad_signature(body: bytes) -> dict[str, str]:
    return signed(body, key=parse_secret(OTHER_SECRET))


def _no_signature(body: bytes) -> dict[str, str]:
    return {k: v for k, v in signed(body).items() if k != "svix-signature"}


def _no_id(body: bytes) -> dict[str, str]:
    return {k: v for k, v in signed(body).items() if k != "svix-id"}


def _no_timestamp(body: bytes) -> dict[str, str]:
    return {k: v for k, v in signed(body).items() if k != "svix-timestamp"}


def _too_old(body: bytes) -> dict[str, str]:
    return signed(body, sent=time.time() - 301)


def _too_new(body: bytes) -> dict[str, str]:
    return signed(body, sent=time.time() + 301)


@pytest.mark.parametrize(
    ("body", "headers", "method", "status"),
    [
        (envelope(), signed, "GET", HTTPStatus.METHOD_NOT_ALLOWED),
        (envelope(), signed, "PUT", HTTPStatus.METHOD_NOT_ALLOWED),
        (envelope(), _bad_signature, "POST", HTTPStatus.UNAUTHORIZED),
        (envelope(), _no_signature, "POST", HTTPStatus.UNAUTHORIZED),
        (envelope(), _no_id, "POST", HTTPStatus.BAD_REQUEST),
        (envelope(), _no_timestamp, "POST", HTTPStatus.BAD_REQUEST),
        (envelope(), _too_old, "POST", HTTPStatus.UNAUTHORIZED),
        (envelope(), _too_new, "POST", HTTPStatus.UNAUTHORIZED),
        (b" " * (MAX_BODY_BYTES + 1), signed, "POST", HTTPStatus.REQUEST_ENTITY_TOO_LARGE),
        (b'{"type": "charging_sub', signed, "POST", HTTPStatus.BAD_REQUEST),
        (b'{"type": "vehicle.updated", "data": {}}', signed, "POST", HTTPStatus.OK),
        (envelope(vehicle=f"{API}/vehicles/{FOREIGN_VEHICLE}"), signed, "POST", HTTPStatus.OK),
    ],
    ids=[
        "get",
        "put",
        "bad_signature",
        "no_signature",
        "no_id",
        "no_timestamp",
        "too_old",
        "too_new",
        "over_1_mib",
        "bad_json",
        "unknown_type",
        "foreign_vehicle",
    ],
)
@pytest.mark.usefixtures("setup_credentials")
async def test_rejected_deliveries_change_nothing_and_send_nothing(
    hass: HomeAssistant,
    push_entry: MockConfigEntry,
    mock_api: MockApi,
    post: Poster,
    freezer: FrozenDateTimeFactory,
    body: bytes,
    headers: Any,
    method: str,
    status: HTTPStatus,
) -> None:
    """Each is answered as documented; no entity changes and ev.energy hears nothing."""
    await setup_integration(hass, push_entry)
    requests = len(mock_api.calls())

    response = await post(body, headers(body), method)
    await tick(hass, freezer, 1)

    assert response.status == status
    assert len(mock_api.calls()) == requests
    assert state_of(hass, BOOST).state == STATE_OFF
    assert state_of(hass, MODE).state == "smart"


@pytest.mark.usefixtures("setup_credentials")
async def test_without_a_secret_nothing_is_accepted(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi, post: Poster
) -> None:
    """Push off: the webhook exists (its URL is shown) but even a signed delivery is refused."""
    await setup_integration(hass, config_entry)
    webhook_id = config_entry.data["webhook_id"]
    assert config_entry.runtime_data.push.webhook_id == webhook_id
    requests = len(mock_api.calls())
    client = await post.client_factory()
    body = envelope()
    response = await client.post(f"/api/webhook/{webhook_id}", data=body, headers=signed(body))
    await hass.async_block_till_done()

    assert response.status == HTTPStatus.UNAUTHORIZED
    assert len(mock_api.calls()) == requests
    assert state_of(hass, BOOST).state == STATE_OFF
    assert state_of(hass, PUSH_ACTIVE).state == STATE_OFF


@pytest.mark.usefixtures("setup_credentials")
async def test_the_webhook_id_is_created_once(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    """The id (and so the URL the user registered) survives reloads."""
    await setup_integration(hass, config_entry)
    webhook_id = config_entry.data["webhook_id"]
    assert len(webhook_id) == 64
    assert await hass.config_entries.async_reload(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.data["webhook_id"] == webhook_id


# --- Verified events -----------------------------------------------------------------------


@pytest.mark.usefixtures("setup_credentials")
async def test_an_event_shows_at_once_then_reads_what_it_changed(
    hass: HomeAssistant, push_entry: MockConfigEntry, mock_api: MockApi, post: Poster
) -> None:
    """Boost starts: shown before any read lands; the live poll and sessions read once each."""
    mock_api.vehicles_page2 = []  # one request per poll
    await setup_integration(hass, push_entry)
    _boost_in_api(mock_api)
    vehicles, sessions = len(mock_api.calls(VEHICLES_URL)), len(mock_api.calls(SESSIONS_URL))
    gate = mock_api.hold(SESSIONS_URL)

    body = envelope()
    response = await post(body, signed(body))

    assert response.status == HTTPStatus.OK
    await mock_api.wait_held(SESSIONS_URL)
    # The sessions read is still in flight: the event alone turned boost on.
    assert state_of(hass, BOOST).state == STATE_ON
    assert state_of(hass, MODE).state == "boost"
    assert state_of(hass, LAST_EVENT).state == "2026-11-22T10:10:00+00:00"
    assert state_of(hass, PUSH_ACTIVE).state == STATE_ON
    gate.set()
    await hass.async_block_till_done(wait_background_tasks=True)
    assert len(mock_api.calls(VEHICLES_URL)) == vehicles + 1
    assert len(mock_api.calls(SESSIONS_URL)) == sessions + 1
    # The plan of the new sub-session is read (the mock serves every sub-session's plan).
    assert any(BOOST_SUB in str(call[1]) for call in mock_api.calls())
    assert state_of(hass, BOOST).state == STATE_ON


@pytest.mark.usefixtures("setup_credentials")
async def test_key_rotation_one_valid_signature_is_enough(
    hass: HomeAssistant, push_entry: MockConfigEntry, mock_api: MockApi, post: Poster
) -> None:
    """During a rotation Svix signs with the old and the new secret: ours is one of them."""
    await setup_integration(hass, push_entry)
    _boost_in_api(mock_api)
    body = envelope()
    ours = signed(body)
    theirs = _bad_signature(body)
    headers = {**ours, "svix-signature": f"{theirs['svix-signature']} {ours['svix-signature']}"}

    response = await post(body, headers)

    assert response.status == HTTPStatus.OK
    assert state_of(hass, BOOST).state == STATE_ON


@pytest.mark.usefixtures("setup_credentials")
async def test_a_repeated_delivery_is_acted_upon_once_also_after_a_reload(
    hass: HomeAssistant,
    push_entry: MockConfigEntry,
    mock_api: MockApi,
    post: Poster,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Svix retries with the same svix-id: the second copy is answered 200 and ignored."""
    await setup_integration(hass, push_entry)
    body = envelope()
    assert (await post(body, signed(body, "msg_once"))).status == HTTPStatus.OK
    await tick(hass, freezer, 11)
    requests = len(mock_api.calls())

    assert (await post(body, signed(body, "msg_once"))).status == HTTPStatus.OK
    await tick(hass, freezer, 11)
    assert len(mock_api.calls()) == requests

    assert await hass.config_entries.async_reload(push_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    requests = len(mock_api.calls())
    assert (await post(body, signed(body, "msg_once"))).status == HTTPStatus.OK
    await tick(hass, freezer, 11)
    assert len(mock_api.calls()) == requests
    # Another delivery is still acted upon.
    assert (await post(body, signed(body, "msg_twice"))).status == HTTPStatus.OK
    assert len(mock_api.calls()) > requests


@pytest.mark.usefixtures("setup_credentials")
async def test_delivery_ids_survive_a_restart(
    hass: HomeAssistant,
    push_entry: MockConfigEntry,
    mock_api: MockApi,
    post: Poster,
    hass_storage: dict[str, Any],
) -> None:
    """What was acted upon, and when push last worked, is stored for the next start."""
    await setup_integration(hass, push_entry)
    body = envelope()
    await post(body, signed(body, "msg_stored"))
    assert await hass.config_entries.async_unload(push_entry.entry_id)

    stored = hass_storage[f"{DOMAIN}.{push_entry.entry_id}.push"]["data"]
    assert "msg_stored" in stored["seen"]
    assert stored["last_event"] == "2026-11-22T10:10:00+00:00"


@pytest.mark.usefixtures("setup_credentials")
async def test_last_event_is_restored_from_the_store(
    hass: HomeAssistant,
    push_entry: MockConfigEntry,
    mock_api: MockApi,
    hass_storage: dict[str, Any],
    post: Poster,
) -> None:
    """After a restart the sensors show the stored time, and a stored id stays done."""
    hass_storage[f"{DOMAIN}.{push_entry.entry_id}.push"] = {
        "version": 1,
        "key": f"{DOMAIN}.{push_entry.entry_id}.push",
        "data": {"seen": {"msg_old": time.time() - 60}, "last_event": "2026-11-22T09:00:00+00:00"},
    }
    await setup_integration(hass, push_entry)
    assert state_of(hass, LAST_EVENT).state == "2026-11-22T09:00:00+00:00"
    assert state_of(hass, PUSH_ACTIVE).state == STATE_ON
    body = envelope()
    await post(body, signed(body, "msg_old"))
    assert state_of(hass, BOOST).state == STATE_OFF


@pytest.mark.usefixtures("setup_credentials")
async def test_ended_before_created_leaves_the_sub_session_ended(
    hass: HomeAssistant, push_entry: MockConfigEntry, mock_api: MockApi, post: Poster
) -> None:
    """Deliveries arrive out of order: the later `created` cannot reopen an ended boost."""
    await setup_integration(hass, push_entry)
    _boost_in_api(mock_api, ended=True)
    gate = mock_api.hold(SESSIONS_URL)
    ended = envelope(ENDED, end="2026-11-22T10:20:00Z")
    created = envelope(CREATED)

    assert (await post(ended, signed(ended, "msg_ended"))).status == HTTPStatus.OK
    assert (await post(created, signed(created, "msg_created"))).status == HTTPStatus.OK

    session = push_entry.runtime_data.sessions.data[VEHICLE_ID]
    boost = next(sub for sub in session.sub_sessions if sub.id == BOOST_SUB)
    assert boost.end is not None
    assert state_of(hass, BOOST).state == STATE_OFF
    gate.set()
    await hass.async_block_till_done(wait_background_tasks=True)
    assert state_of(hass, BOOST).state == STATE_OFF


@pytest.mark.usefixtures("setup_credentials")
async def test_a_burst_reads_each_data_set_at_most_once_per_ten_seconds(
    hass: HomeAssistant,
    push_entry: MockConfigEntry,
    mock_api: MockApi,
    post: Poster,
    freezer: FrozenDateTimeFactory,
) -> None:
    """100 events in a second: one read of each now, at most one more once 10 s passed."""
    mock_api.vehicles_page2 = []  # one request per poll
    await setup_integration(hass, push_entry)
    counted = (VEHICLES_URL, EVSES_URL, SESSIONS_URL)

    def reads() -> dict[str, int]:
        schedules = sum("/schedules" in str(call[1]) for call in mock_api.calls())
        return {url: len(mock_api.calls(url)) for url in counted} | {SCHEDULES_URL: schedules}

    before = reads()
    for number in range(100):
        sub_id = f"csub01HSH04KDEWF6Z4DB2J77J{number:04d}"
        kind = ENDED if number % 2 else CREATED
        end = "2026-11-22T10:20:00Z" if kind == ENDED else None
        body = envelope(kind, id=sub_id, end=end)
        assert (await post(body, signed(body, f"msg_{number}"))).status == HTTPStatus.OK
        if number % 10 == 9:
            await tick(hass, freezer, 0.1)
    await tick(hass, freezer, 8)
    first = {url: count - before[url] for url, count in reads().items()}
    assert first[VEHICLES_URL] == 1
    assert first[SESSIONS_URL] == 1
    assert first[SCHEDULES_URL] <= 1
    assert first[EVSES_URL] <= 1

    await tick(hass, freezer, 3)
    second = {url: count - before[url] for url, count in reads().items()}
    assert second[VEHICLES_URL] == 2
    assert second[SESSIONS_URL] <= 2
    assert second[SCHEDULES_URL] <= 2

    await tick(hass, freezer, 10)
    assert reads()[VEHICLES_URL] - before[VEHICLES_URL] == 2


@pytest.mark.usefixtures("setup_credentials")
async def test_a_plug_in_reads_the_sessions_once(
    hass: HomeAssistant,
    push_entry: MockConfigEntry,
    mock_api: MockApi,
    post: Poster,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The live poll the event starts sees the plug-in and reads the sessions: not twice."""
    _unplug_everything(mock_api)
    mock_api.sessions[0]["end"] = "2026-11-22T09:00:00Z"
    await setup_integration(hass, push_entry)
    assert state_of(hass, "binary_sensor.family_car_plugged_in").state == STATE_OFF
    sessions = len(mock_api.calls(SESSIONS_URL))
    for status in (
        mock_api.vehicles[0]["latest_status_log"],
        mock_api.evses[0]["latest_status_log"],
    ):
        status.update(is_plugged_in=True)

    body = envelope(mode="SMART")
    assert (await post(body, signed(body))).status == HTTPStatus.OK
    await tick(hass, freezer, 9)

    assert state_of(hass, "binary_sensor.family_car_plugged_in").state == STATE_ON
    assert len(mock_api.calls(SESSIONS_URL)) == sessions + 1


@pytest.mark.usefixtures("setup_credentials")
async def test_an_event_during_a_token_refresh_waits_for_it(
    hass: HomeAssistant,
    push_entry: MockConfigEntry,
    mock_api: MockApi,
    aioclient_mock: AiohttpClientMocker,
    post: Poster,
) -> None:
    """The token expired and a poll is renewing it: the event's reads wait for that renewal."""
    await setup_integration(hass, push_entry)
    hass.config_entries.async_update_entry(
        push_entry,
        data={**push_entry.data, "token": {**push_entry.data["token"], "expires_at": 0}},
    )
    release = asyncio.Event()
    renewing = asyncio.Event()

    async def renew(method: str, url: Any, data: Any) -> AiohttpClientMockResponse:
        renewing.set()
        await release.wait()
        return AiohttpClientMockResponse(method, url, json=make_token("access-2"))

    aioclient_mock.post(TOKEN_URL, side_effect=renew)
    live = push_entry.runtime_data.live
    poll = hass.async_create_task(live.async_refresh())
    await renewing.wait()

    body = envelope()
    assert (await post(body, signed(body), settle=False)).status == HTTPStatus.OK
    assert state_of(hass, BOOST).state == STATE_ON  # shown before any read
    release.set()
    await poll
    await hass.async_block_till_done(wait_background_tasks=True)

    assert len(mock_api.calls(TOKEN_URL)) == 1
    assert live.last_update_success
    assert push_entry.runtime_data.sessions.last_update_success
    assert push_entry.state is ConfigEntryState.LOADED


# --- Unload --------------------------------------------------------------------------------


@pytest.mark.usefixtures("setup_credentials")
async def test_unload_unregisters_the_webhook_and_late_events_do_nothing(
    hass: HomeAssistant, push_entry: MockConfigEntry, mock_api: MockApi, post: Poster
) -> None:
    """After unload: Home Assistant answers for the gone webhook; a handler mid-way stops."""
    await setup_integration(hass, push_entry)
    push = push_entry.runtime_data.push
    assert WEBHOOK_ID in hass.data[webhook.DOMAIN]
    assert await hass.config_entries.async_unload(push_entry.entry_id)
    assert WEBHOOK_ID not in hass.data[webhook.DOMAIN]
    requests = len(mock_api.calls())

    body = envelope()
    response = await post(body, signed(body, "msg_late"))
    # A delivery whose handler was already running when the entry unloaded.
    request = MockRequest(
        content=body, mock_source="test", method="POST", headers=signed(body, "msg_mid")
    )
    late = await push._async_handle(hass, WEBHOOK_ID, request)
    await hass.async_block_till_done(wait_background_tasks=True)

    assert response.status == HTTPStatus.OK  # webhook's answer for any unknown id
    assert late.status == HTTPStatus.SERVICE_UNAVAILABLE
    assert len(mock_api.calls()) == requests


# --- Pace ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("setup_credentials")
async def test_idle_pace_slows_only_while_push_works(
    hass: HomeAssistant,
    push_entry: MockConfigEntry,
    mock_api: MockApi,
    post: Poster,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Nothing plugged in: every 2 minutes; with recent events every 10; 24 h later, 2 again."""
    _unplug_everything(mock_api)
    # Prices for two more days: past the list's end the live poll would also read the tariff.
    mock_api.prices = [
        {**price, "started_at": price["started_at"].replace("-22T", f"-{day}T")}
        for day in (24, 23, 22)
        for price in mock_api.prices
    ]
    mock_api.sessions[0]["end"] = "2026-11-22T09:00:00Z"
    await setup_integration(hass, push_entry)
    live = push_entry.runtime_data.live

    async def polls_in(hours: float, step: float) -> int:
        before = len(mock_api.calls(VEHICLES_URL))
        for _ in range(int(hours * 3600 / step)):
            await tick(hass, freezer, step)
        return len(mock_api.calls(VEHICLES_URL)) - before

    assert await polls_in(1, 60) == 30
    assert live.update_interval == IDLE_UPDATE_INTERVAL

    # An event of another vehicle's sub-session still proves push works.
    body = envelope(vehicle=f"{API}/vehicles/{FOREIGN_VEHICLE}")
    await post(body, signed(body))
    await tick(hass, freezer, 120)
    assert live.update_interval == PUSH_IDLE_UPDATE_INTERVAL
    assert await polls_in(2, 60) == 12
    assert state_of(hass, PUSH_ACTIVE).state == STATE_ON

    await polls_in(22, 600)
    assert state_of(hass, PUSH_ACTIVE).state == STATE_OFF
    # The next poll (within 10 minutes) returns to the 2-minute pace.
    await polls_in(1 / 6, 60)
    assert live.update_interval == IDLE_UPDATE_INTERVAL
    assert await polls_in(1, 60) == 30


@pytest.mark.usefixtures("setup_credentials")
async def test_settled_pace_slows_with_push_and_a_slot_start_is_read_on_time(
    hass: HomeAssistant,
    push_entry: MockConfigEntry,
    mock_api: MockApi,
    post: Poster,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Plugged in, waiting for the 13:00 slot: every 10 minutes with push, and read at 13:00.

    Then every minute for a while: the car may take a minute to follow its plan.
    """
    mock_api.vehicles_page2 = []
    for status in (
        mock_api.vehicles[0]["latest_status_log"],
        mock_api.evses[0]["latest_status_log"],
    ):
        status.update(is_plugged_in=True, is_charging=False)
    await setup_integration(hass, push_entry)
    live = push_entry.runtime_data.live
    body = envelope(vehicle=f"{API}/vehicles/{FOREIGN_VEHICLE}")
    await post(body, signed(body))

    async def polls_until(hour: int, minute: int, second: int = 0) -> int:
        before = len(mock_api.calls(VEHICLES_URL))
        until = datetime(2026, 11, 22, hour, minute, second, tzinfo=UTC)
        while dt_util.utcnow() < until:
            await tick(hass, freezer, min(30.0, (until - dt_util.utcnow()).total_seconds()))
        return len(mock_api.calls(VEHICLES_URL)) - before

    await polls_until(10, 44, 30)
    # From here the polls fall at 4:30 past each 10 minutes: none near 13:00 but the slot's.
    await live.async_refresh()
    assert live.update_interval == PUSH_IDLE_UPDATE_INTERVAL
    # 10:44:30 to 12:59:59: every 10 minutes, not every 3.
    assert await polls_until(12, 59, 59) == 13
    assert await polls_until(13, 0, 1) == 1
    # The ten minutes after the slot's start are read every minute, then it slows again.
    assert 9 <= await polls_until(13, 10, 30) <= 11
    await polls_until(13, 20)
    assert live.update_interval == PUSH_IDLE_UPDATE_INTERVAL


@pytest.mark.usefixtures("setup_credentials")
async def test_while_push_works_a_charging_poll_reads_the_chargers_every_other_minute(
    hass: HomeAssistant,
    push_entry: MockConfigEntry,
    mock_api: MockApi,
    post: Poster,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The car charges (1-minute pace): its status every minute, the charger every other."""
    mock_api.vehicles_page2 = []
    await setup_integration(hass, push_entry)
    body = envelope(vehicle=f"{API}/vehicles/{FOREIGN_VEHICLE}")
    await post(body, signed(body))
    await tick(hass, freezer, 60)
    vehicles, chargers = len(mock_api.calls(VEHICLES_URL)), len(mock_api.calls(EVSES_URL))
    for _ in range(20):
        await tick(hass, freezer, 60)
    assert len(mock_api.calls(VEHICLES_URL)) - vehicles == 20
    assert len(mock_api.calls(EVSES_URL)) - chargers == 10


@pytest.mark.usefixtures("setup_credentials")
async def test_pace_without_push_is_unchanged(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    post: Poster,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    """Push off (no secret): even a recent stored event does not slow the idle poll."""
    _unplug_everything(mock_api)
    config_entry.add_to_hass(hass)
    hass_storage[f"{DOMAIN}.{config_entry.entry_id}.push"] = {
        "version": 1,
        "key": f"{DOMAIN}.{config_entry.entry_id}.push",
        "data": {"seen": {}, "last_event": "2026-11-22T10:00:00+00:00"},
    }
    await setup_integration(hass, config_entry)
    assert not config_entry.runtime_data.push.active
    before = len(mock_api.calls(VEHICLES_URL))
    for _ in range(60):
        await tick(hass, freezer, 60)
    assert len(mock_api.calls(VEHICLES_URL)) - before == 30
    assert config_entry.runtime_data.live.update_interval == IDLE_UPDATE_INTERVAL


# --- Repair --------------------------------------------------------------------------------


@pytest.mark.usefixtures("setup_credentials")
async def test_repeated_bad_signatures_raise_a_repair_that_takes_the_new_secret(
    hass: HomeAssistant,
    push_entry: MockConfigEntry,
    mock_api: MockApi,
    post: Poster,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The secret was rotated in the portal: warned hourly, then a repair asks for the new one."""
    assert await async_setup_component(hass, REPAIRS_DOMAIN, {})
    await setup_integration(hass, push_entry)
    watch = InPlace(hass, push_entry)
    issue_id = secret_rejected_issue_id(push_entry.entry_id)
    registry = ir.async_get(hass)
    new_key = parse_secret(OTHER_SECRET)
    body = envelope()

    with caplog.at_level(logging.WARNING):
        for number in range(3):
            response = await post(body, signed(body, f"msg_bad{number}", key=new_key))
            assert response.status == HTTPStatus.UNAUTHORIZED
            await tick(hass, freezer, 60)
    assert registry.async_get_issue(DOMAIN, issue_id) is None  # not yet over 5 minutes
    with caplog.at_level(logging.WARNING):
        await tick(hass, freezer, 180)
        await post(body, signed(body, "msg_bad3", key=new_key))
    assert registry.async_get_issue(DOMAIN, issue_id) is not None
    assert caplog.text.count("does not match the signing secret") == 1
    assert SECRET not in caplog.text

    # A good delivery (the old secret still valid during a rotation) clears it.
    await post(body, signed(body, "msg_good"))
    assert registry.async_get_issue(DOMAIN, issue_id) is None
    for number in range(4, 8):
        await post(body, signed(body, f"msg_bad{number}", key=new_key))
        await tick(hass, freezer, 120)
    assert registry.async_get_issue(DOMAIN, issue_id) is not None

    manager = repairs_flow_manager(hass)
    assert manager is not None
    flow = await manager.async_init(DOMAIN, context={"issue_id": issue_id})
    assert flow["step_id"] == "init"
    flow = await manager.async_configure(flow["flow_id"], {"webhook_secret": "whsec_x"})
    assert flow["errors"] == {"webhook_secret": "invalid_secret"}
    flow = await manager.async_configure(flow["flow_id"], {"webhook_secret": OTHER_SECRET})
    assert flow["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)

    assert push_entry.options["webhook_secret"] == OTHER_SECRET
    assert registry.async_get_issue(DOMAIN, issue_id) is None
    response = await post(body, signed(body, "msg_new", key=new_key))
    assert response.status == HTTPStatus.OK
    # Taken in place, like the options flow's.
    watch.check()


# --- Diagnostics ---------------------------------------------------------------------------


@pytest.mark.usefixtures("setup_credentials")
async def test_diagnostics_redact_the_secret_and_the_webhook_id(
    hass: HomeAssistant,
    push_entry: MockConfigEntry,
    mock_api: MockApi,
    post: Poster,
    hass_client: ClientSessionGenerator,
) -> None:
    # Before the first request freezes the HTTP routes.
    assert await async_setup_component(hass, "diagnostics", {})
    await setup_integration(hass, push_entry)
    body = envelope()
    await post(body, signed(body))

    diagnostics = cast(
        "dict[str, Any]", await get_diagnostics_for_config_entry(hass, hass_client, push_entry)
    )

    text = json.dumps(diagnostics)
    assert SECRET not in text
    assert SECRET.removeprefix("whsec_") not in text
    assert WEBHOOK_ID not in text
    assert diagnostics["entry"]["options"]["webhook_secret"] == "**REDACTED**"
    assert diagnostics["push"] == {
        "configured": True,
        "active": True,
        "last_event": "2026-11-22T10:10:00+00:00",
    }


# --- Options flow --------------------------------------------------------------------------


async def _open_push_step(hass: HomeAssistant, entry: MockConfigEntry) -> ConfigFlowResult:
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.MENU
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "push"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "push"
    return result


def shown(result: ConfigFlowResult) -> Mapping[str, str]:
    """The URL and the portal link the push step shows."""
    placeholders = result.get("description_placeholders")
    assert placeholders is not None
    return placeholders


@pytest.fixture
def portal(mock_api: MockApi, aioclient_mock: AiohttpClientMocker) -> None:
    """ev.energy hands out a one-time portal link."""
    aioclient_mock.get(f"{API}/webhook_portal", json={"url": PORTAL})


@pytest.mark.usefixtures("setup_credentials", "portal")
async def test_push_step_shows_the_external_url_and_the_portal_link(
    hass: HomeAssistant, push_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    await async_process_ha_core_config(hass, {"external_url": "https://home.example.org"})
    await setup_integration(hass, push_entry)

    result = await _open_push_step(hass, push_entry)

    placeholders = shown(result)
    assert placeholders["webhook_url"] == f"https://home.example.org{WEBHOOK_PATH}"
    assert placeholders["portal_url"] == PORTAL
    assert result["errors"] == {}
    assert len(mock_api.calls(f"{API}/webhook_portal")) == 1


@pytest.mark.usefixtures("setup_credentials", "portal")
async def test_push_step_prefers_a_cloudhook(
    hass: HomeAssistant, push_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    await async_process_ha_core_config(hass, {"external_url": "https://home.example.org"})
    await setup_integration(hass, push_entry)
    hass.config.components.add("cloud")
    cloudhook = "https://hooks.nabu.casa/abc"

    with (
        patch("homeassistant.components.cloud.async_active_subscription", return_value=True),
        patch(
            "homeassistant.components.cloud.async_get_or_create_cloudhook",
            return_value=cloudhook,
        ) as create,
    ):
        result = await _open_push_step(hass, push_entry)

    assert shown(result)["webhook_url"] == cloudhook
    create.assert_awaited_once_with(hass, WEBHOOK_ID)


@pytest.mark.usefixtures("setup_credentials", "portal")
async def test_push_step_falls_back_when_the_cloud_is_not_connected(
    hass: HomeAssistant, push_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    from homeassistant.components.cloud import CloudNotConnected  # noqa: PLC0415

    await async_process_ha_core_config(hass, {"external_url": "https://home.example.org"})
    await setup_integration(hass, push_entry)
    hass.config.components.add("cloud")

    with (
        patch("homeassistant.components.cloud.async_active_subscription", return_value=True),
        patch(
            "homeassistant.components.cloud.async_get_or_create_cloudhook",
            side_effect=CloudNotConnected,
        ),
    ):
        result = await _open_push_step(hass, push_entry)

    assert shown(result)["webhook_url"].startswith("https://home.example")


@pytest.mark.usefixtures("setup_credentials", "portal")
async def test_push_step_without_any_url(
    hass: HomeAssistant, push_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    """Only an internal URL (or none): ev.energy cannot reach it, and the user is told."""
    await async_process_ha_core_config(hass, {"internal_url": "http://192.168.1.2:8123"})
    await setup_integration(hass, push_entry)

    result = await _open_push_step(hass, push_entry)

    assert result["errors"] == {"base": "no_webhook_url"}
    assert shown(result)["webhook_url"] == "-"


@pytest.mark.usefixtures("setup_credentials")
async def test_push_step_when_the_portal_link_fails(
    hass: HomeAssistant, push_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    await async_process_ha_core_config(hass, {"external_url": "https://home.example.org"})
    mock_api._endpoint("get", f"{API}/webhook_portal", lambda *_: ({"url": PORTAL}, {}))
    mock_api.fail(f"{API}/webhook_portal", Fault(status=HTTPStatus.FORBIDDEN))
    await setup_integration(hass, push_entry)

    result = await _open_push_step(hass, push_entry)

    assert result["errors"] == {"base": "portal_unavailable"}
    assert shown(result)["portal_url"] == "-"


@pytest.mark.usefixtures("setup_credentials", "portal")
async def test_push_step_validates_stores_and_clears_the_secret(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    """An invalid secret is refused; a valid one turns push on; an empty field turns it off."""
    await async_process_ha_core_config(hass, {"external_url": "https://home.example.org"})
    await setup_integration(hass, config_entry)
    assert not config_entry.runtime_data.push.configured

    result = await _open_push_step(hass, config_entry)
    for invalid in ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_!!", "whsec_c2hvcnQ="):
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], {"webhook_secret": invalid}
        )
        assert result["errors"] == {"webhook_secret": "invalid_secret"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"webhook_secret": f" {SECRET} "}
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert config_entry.options["webhook_secret"] == SECRET
    assert config_entry.runtime_data.push.configured

    # Other options keep the secret.
    result = await hass.config_entries.options.async_init(config_entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"next_step_id": "settings"}
    )
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"cheapest_window_hours": 2, "cheapest_window_end": "07:00:00"}
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert config_entry.options["webhook_secret"] == SECRET

    result = await _open_push_step(hass, config_entry)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"webhook_secret": ""}
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert "webhook_secret" not in config_entry.options
    assert config_entry.options["cheapest_window_hours"] == 2
    assert not config_entry.runtime_data.push.configured


@pytest.mark.usefixtures("setup_credentials", "portal")
async def test_a_secret_changed_in_the_options_applies_at_once(
    hass: HomeAssistant,
    push_entry: MockConfigEntry,
    mock_api: MockApi,
    post: Poster,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Rotated in the portal: with the new secret in the options, its deliveries are accepted
    and the old one's not, and its repair goes; cleared, push is off. Nothing reloads."""
    await async_process_ha_core_config(hass, {"external_url": "https://home.example.org"})
    await setup_integration(hass, push_entry)
    watch = InPlace(hass, push_entry)
    issue_id = secret_rejected_issue_id(push_entry.entry_id)
    new_key = parse_secret(OTHER_SECRET)
    body = envelope()
    for number, wait in enumerate((0, 60, 300)):
        await tick(hass, freezer, wait)
        response = await post(body, signed(body, f"msg_bad{number}", key=new_key))
        assert response.status == HTTPStatus.UNAUTHORIZED
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None

    result = await _open_push_step(hass, push_entry)
    await hass.config_entries.options.async_configure(
        result["flow_id"], {"webhook_secret": OTHER_SECRET}
    )
    await hass.async_block_till_done()

    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    assert (await post(body, signed(body, "msg_old"))).status == HTTPStatus.UNAUTHORIZED
    assert (await post(body, signed(body, "msg_new", key=new_key))).status == HTTPStatus.OK
    assert state_of(hass, PUSH_ACTIVE).state == STATE_ON

    result = await _open_push_step(hass, push_entry)
    await hass.config_entries.options.async_configure(result["flow_id"], {"webhook_secret": ""})
    await hass.async_block_till_done()

    response = await post(body, signed(body, "msg_off", key=new_key))
    assert response.status == HTTPStatus.UNAUTHORIZED
    assert state_of(hass, PUSH_ACTIVE).state == STATE_OFF
    assert not push_entry.runtime_data.push.configured
    watch.check()


@pytest.mark.usefixtures("setup_credentials")
async def test_removing_the_entry_deletes_its_cloudhook_and_store(
    hass: HomeAssistant,
    push_entry: MockConfigEntry,
    mock_api: MockApi,
    post: Poster,
    hass_storage: dict[str, Any],
) -> None:
    await setup_integration(hass, push_entry)
    body = envelope()
    await post(body, signed(body))
    hass.config.components.add("cloud")

    with patch("homeassistant.components.cloud.async_delete_cloudhook") as delete:
        assert await hass.config_entries.async_remove(push_entry.entry_id)
        await hass.async_block_till_done()

    delete.assert_awaited_once_with(hass, WEBHOOK_ID)
    assert f"{DOMAIN}.{push_entry.entry_id}.push" not in hass_storage


@pytest.mark.usefixtures("setup_credentials")
async def test_remembered_ids_are_bounded_in_number_and_age(
    hass: HomeAssistant,
    push_entry: MockConfigEntry,
    mock_api: MockApi,
    post: Poster,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    """Only the newest ids are kept, none older than Svix's retries can be."""
    await setup_integration(hass, push_entry)
    body = b'{"type": "vehicle.updated", "data": {}}'
    with patch("custom_components.ev_energy.push.MAX_REMEMBERED_DELIVERIES", 3):
        for number in range(5):
            await post(body, signed(body, f"msg_{number}"))
        await tick(hass, freezer, 10)
        stored = hass_storage[f"{DOMAIN}.{push_entry.entry_id}.push"]["data"]
        assert list(stored["seen"]) == ["msg_2", "msg_3", "msg_4"]
        await tick(hass, freezer, 37 * 3600)
        await post(body, signed(body, "msg_late"))
    assert await hass.config_entries.async_unload(push_entry.entry_id)

    assert list(hass_storage[f"{DOMAIN}.{push_entry.entry_id}.push"]["data"]["seen"]) == [
        "msg_late"
    ]


@pytest.mark.usefixtures("setup_credentials")
async def test_removing_an_entry_without_a_cloudhook(
    hass: HomeAssistant, push_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    await setup_integration(hass, push_entry)
    hass.config.components.add("cloud")

    with patch(
        "homeassistant.components.cloud.async_delete_cloudhook",
        side_effect=ValueError("Hook is not registered"),
    ):
        assert await hass.config_entries.async_remove(push_entry.entry_id)


async def test_the_secret_repair_of_a_removed_entry_aborts(hass: HomeAssistant) -> None:
    assert await async_setup_component(hass, REPAIRS_DOMAIN, {})
    assert await async_setup_component(hass, DOMAIN, {})
    issue_id = secret_rejected_issue_id("gone")
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id,
        is_fixable=True,
        severity=ir.IssueSeverity.WARNING,
        translation_key="webhook_secret_rejected",
        data={"entry_id": "gone"},
    )
    manager = repairs_flow_manager(hass)
    assert manager is not None

    result = await manager.async_init(DOMAIN, context={"issue_id": issue_id})

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "entry_removed"


@pytest.mark.usefixtures("setup_credentials")
async def test_push_step_of_an_entry_that_is_not_loaded(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    """Setup is retrying (ev.energy down): the URL is shown, the portal link cannot be."""
    await async_process_ha_core_config(hass, {"external_url": "https://home.example.org"})
    mock_api.fail(VEHICLES_URL, times=10)
    await setup_integration(hass, config_entry)
    assert config_entry.state is ConfigEntryState.SETUP_RETRY
    requests = len(mock_api.calls())

    result = await _open_push_step(hass, config_entry)

    webhook_id = config_entry.data["webhook_id"]
    assert shown(result)["webhook_url"] == f"https://home.example.org/api/webhook/{webhook_id}"
    assert result["errors"] == {"base": "portal_unavailable"}
    assert len(mock_api.calls()) == requests
