"""Webhooks: the signer, delivery of sub-session events, retries, faults, the portal."""

import asyncio
import base64
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
import json
import socket
from typing import Any
from unittest.mock import ANY
import warnings

from aiohttp import web
from openapi_core.datatypes import RequestParameters
import pytest
from werkzeug.datastructures import Headers
from yarl import URL

from simulator import SimulatorConfig, SimulatorServer
from simulator.model import Event
from simulator.webhooks import new_secret, secret_key, sign
from tests.openapi_spec import load_openapi

from .conftest import LEAF, START, TESLA, Client

# The Standard Webhooks / Svix reference vector (also the spec's svix-signature example).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_sign_matches_the_reference_vector() -> None:
    assert sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE
    # Any change to what is signed changes the signature.
    assert sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP + 1, VECTOR_BODY) != VECTOR_SIGNATURE
    assert sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY + b" ") != VECTOR_SIGNATURE


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "starting with whsec_"),
        ("whsec_not base64!", "base64"),
        ("whsec_", "empty"),
        (42, "string"),
    ],
)
def test_bad_secrets(secret: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        secret_key(secret)


def test_new_secrets_are_random_24_byte_keys() -> None:
    first, second = new_secret(), new_secret()
    assert first != second
    assert secret_key(first) == base64.b64decode(first.removeprefix("whsec_"))
    assert len(secret_key(first)) == 24


@dataclass
class Received:
    """A delivery as the receiver got it."""

    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """A webhook endpoint on 127.0.0.1 answering each POST with the next of ``statuses`` (200)."""

    def __init__(self) -> None:
        self.url = ""
        self.statuses: list[int] = []
        self.received: asyncio.Queue[Received] = asyncio.Queue()

    async def handle(self, request: web.Request) -> web.Response:
        self.received.put_nowait(Received(dict(request.headers), await request.read()))
        return web.Response(status=self.statuses.pop(0) if self.statuses else 200)

    async def next(self) -> Received:
        return await asyncio.wait_for(self.received.get(), 5)


@dataclass
class WebhookCall:
    """A received delivery in the shape openapi-core validates webhooks in."""

    name: str
    body: bytes
    parameters: RequestParameters
    method: str = "post"
    content_type: str = "application/json"


@pytest.fixture
async def receiver(socket_enabled: None) -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    receiver.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    yield receiver
    await runner.cleanup()


@pytest.fixture
async def secret(client: Client, receiver: Receiver) -> str:
    """Point the simulator's webhooks at ``receiver``; the generated signing secret."""
    endpoint = await client.admin("POST", "/_sim/webhooks", {"url": receiver.url})
    assert endpoint["url"] == receiver.url
    return str(endpoint["secret"])


def check(received: Received, secret: str, event_type: str) -> dict[str, Any]:
    """Assert a delivery is spec-valid, of ``event_type`` and signed with ``secret``; its data."""
    headers = received.headers
    with warnings.catch_warnings():
        # openapi-core cannot check the spec's oauth2 scheme (not that webhooks use it).
        warnings.filterwarnings("ignore", "Unsupported scheme type", UserWarning)
        parameters = RequestParameters(header=Headers(headers))
        load_openapi().validate_webhook_request(WebhookCall(event_type, received.body, parameters))
    signature = sign(secret, headers["svix-id"], int(headers["svix-timestamp"]), received.body)
    assert signature in headers["svix-signature"].split(" ")
    body = received.json()
    assert body["type"] == headers["svix-event-type"] == event_type
    return body["data"]  # type: ignore[no-any-return]


async def wait_for_log(client: Client, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The admin view of webhooks once ``done`` holds for it (the dispatcher runs on its own)."""
    for _ in range(500):
        log: dict[str, Any] = await client.admin("GET", "/_sim/webhooks")
        if done(log):
            return log
        await asyncio.sleep(0.01)
    raise AssertionError(f"webhook log never got there: {log}")


def attempts_made(count: int, log: dict[str, Any]) -> bool:
    return len(log["deliveries"][0]["attempts"]) == count


async def plug(client: Client, vehicle: str, plugged_in: bool) -> None:
    await client.admin("POST", f"/_sim/vehicles/{vehicle}/plug", {"plugged_in": plugged_in})


async def test_plug_in_sends_created(client: Client, receiver: Receiver, secret: str) -> None:
    await plug(client, LEAF, True)
    received = await receiver.next()
    data = check(received, secret, "charging_sub_session.created")
    assert received.headers["svix-timestamp"] == str(int(START.timestamp()))
    assert received.json()["timestamp"] == "2026-03-10T10:00:00Z"
    assert (data["end"], data["mode"], data["vehicle"]) == (None, "UNMANAGED_HOME", ANY)
    assert data["vehicle"].endswith(LEAF)
    # Exactly what the API shows for it (the clock stands still).
    assert data == (await client.get(f"/v2/charging_sub_sessions/{data['id']}")).json()
    log = await wait_for_log(client, lambda log: log["deliveries"][0]["state"] == "delivered")
    assert log["endpoint"] == {"url": receiver.url, "secret": secret}
    assert log["deliveries"] == [
        {
            "svix_id": received.headers["svix-id"],
            "type": "charging_sub_session.created",
            "sub_session": data["id"],
            "state": "delivered",
            "faults": [],
            "attempts": [
                {
                    "at": "2026-03-10T10:00:00Z",
                    "svix_timestamp": int(START.timestamp()),
                    "status": 200,
                    "error": None,
                }
            ],
        }
    ]


async def test_unplug_sends_ended(
    sim: SimulatorServer, client: Client, receiver: Receiver, secret: str
) -> None:
    session = sim.world.open_session(TESLA)
    assert session is not None
    await client.admin("POST", "/_sim/clock", {"advance_seconds": 3600})
    await plug(client, TESLA, False)
    data = check(await receiver.next(), secret, "charging_sub_session.ended")
    assert data["id"] == session.subs[-1].id
    assert data["end"] == "2026-03-10T11:00:00Z"
    assert data["energy_delivered_watt_hours"] == 7200  # an hour at 7.2 kW
    assert data == (await client.get(f"/v2/charging_sub_sessions/{data['id']}")).json()


async def test_boost_ends_one_sub_session_and_creates_another(
    sim: SimulatorServer, client: Client, receiver: Receiver, secret: str
) -> None:
    session = sim.world.open_session(TESLA)
    assert session is not None
    smart = session.subs[-1].id
    started = await client.call("POST", f"/v2/charging_sessions/{session.id}/boost_start")
    assert started.status == 200
    ended = check(await receiver.next(), secret, "charging_sub_session.ended")
    created = check(await receiver.next(), secret, "charging_sub_session.created")
    assert (ended["id"], ended["mode"]) == (smart, "SMART")
    assert (created["mode"], created["start"]) == ("BOOST", ended["end"])
    await client.call("POST", f"/v2/charging_sessions/{session.id}/boost_end")
    assert check(await receiver.next(), secret, "charging_sub_session.ended")["id"] == created["id"]
    assert check(await receiver.next(), secret, "charging_sub_session.created")["mode"] == "SMART"


async def test_scheduled_unplug_is_pushed_without_a_read(
    sim: SimulatorServer, client: Client, receiver: Receiver, secret: str
) -> None:
    sim.world.schedule(Event(START + timedelta(minutes=30), TESLA, plugged_in=False))
    sim.clock.advance(3600)  # no API call: the dispatcher notices the clock move
    data = check(await receiver.next(), secret, "charging_sub_session.ended")
    assert data["end"] == "2026-03-10T10:30:00Z"


async def test_failed_attempt_is_retried_with_the_same_id(
    client: Client, receiver: Receiver, secret: str
) -> None:
    receiver.statuses = [500]
    await plug(client, LEAF, True)
    first = await receiver.next()
    log = await wait_for_log(client, lambda log: log["deliveries"][0]["attempts"][0]["status"])
    assert log["deliveries"][0]["state"] == "pending"
    # The retry is due 5 s later on the simulator's clock, which stands still until moved.
    await client.admin("POST", "/_sim/clock", {"advance_seconds": 4})
    await client.admin("POST", "/_sim/clock", {"advance_seconds": 1})
    second = await receiver.next()
    assert receiver.received.empty()
    assert second.headers["svix-id"] == first.headers["svix-id"]
    assert second.body == first.body
    assert int(second.headers["svix-timestamp"]) == int(first.headers["svix-timestamp"]) + 5
    check(second, secret, "charging_sub_session.created")  # signed for its own timestamp
    log = await wait_for_log(client, lambda log: log["deliveries"][0]["state"] == "delivered")
    attempts = log["deliveries"][0]["attempts"]
    assert [(a["at"], a["status"]) for a in attempts] == [
        ("2026-03-10T10:00:00Z", 500),
        ("2026-03-10T10:00:05Z", 200),
    ]


async def test_unreachable_endpoint_is_retried_then_given_up(client: Client) -> None:
    with socket.socket() as sock:  # a port nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    await client.admin("POST", "/_sim/webhooks", {"url": url})
    await plug(client, LEAF, True)
    for made, wait in enumerate((5, 300, 1800), start=1):
        await wait_for_log(client, partial(attempts_made, made))
        await client.admin("POST", "/_sim/clock", {"advance_seconds": wait})
    log = await wait_for_log(client, lambda log: log["deliveries"][0]["state"] == "failed")
    attempts = log["deliveries"][0]["attempts"]
    assert [a["at"][11:19] for a in attempts] == ["10:00:00", "10:00:05", "10:05:05", "10:35:05"]
    assert all(a["status"] is None and a["error"] for a in attempts)


@pytest.mark.parametrize("sim_config", [SimulatorConfig(time_scale=600, start=START)])
async def test_retries_follow_an_accelerated_clock(
    client: Client, receiver: Receiver, secret: str
) -> None:
    receiver.statuses = [503]
    await plug(client, LEAF, True)
    first, second = await receiver.next(), await receiver.next()  # no one moves the clock
    assert second.headers["svix-id"] == first.headers["svix-id"]
    # 5 simulated seconds are under 10 ms here: the loop's own latency adds a few more.
    assert 5 <= int(second.headers["svix-timestamp"]) - int(first.headers["svix-timestamp"]) < 300


async def test_configuring_and_deleting(client: Client, receiver: Receiver) -> None:
    assert await client.admin("GET", "/_sim/webhooks") == {"endpoint": None, "deliveries": []}
    await plug(client, LEAF, True)  # no endpoint: nothing to deliver
    assert (await client.admin("GET", "/_sim/webhooks"))["deliveries"] == []
    chosen = "whsec_" + base64.b64encode(b"0123456789abcdef").decode()
    endpoint = await client.admin("POST", "/_sim/webhooks", {"url": receiver.url, "secret": chosen})
    assert endpoint == {"url": receiver.url, "secret": chosen}
    receiver.statuses = [500]
    await plug(client, LEAF, False)
    check(await receiver.next(), chosen, "charging_sub_session.ended")
    await add_fault(client, kind="drop")
    assert await client.admin("DELETE", "/_sim/webhooks") == {"deleted": True}
    assert await client.admin("GET", "/_sim/webhooks") == {"endpoint": None, "deliveries": []}
    assert await client.admin("GET", "/_sim/webhooks/faults") == []
    await client.admin("POST", "/_sim/webhooks", {"url": receiver.url})
    await client.admin("POST", "/_sim/clock", {"advance_seconds": 3600})  # the retry is gone
    await plug(client, LEAF, True)  # neither the retry nor the drop fault is left
    assert (await receiver.next()).json()["type"] == "charging_sub_session.created"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"url": "/relative"}, "absolute http(s) URL"),
        ({"url": "ftp://127.0.0.1/hook"}, "absolute http(s) URL"),
        ({"url": 5}, "absolute http(s) URL"),
        ({"url": "http://127.0.0.1/hook", "secret": "hunter2"}, "whsec_"),
        ({"url": "http://127.0.0.1/hook", "colour": "red"}, "colour"),
        ({}, "url"),
    ],
)
async def test_bad_configuration(client: Client, body: dict[str, Any], error: str) -> None:
    async with client.session.post(f"{client.base_url}/_sim/webhooks", json=body) as response:
        assert response.status == 400
        assert error in (await response.json())["error"]
    assert (await client.admin("GET", "/_sim/webhooks"))["endpoint"] is None


async def add_fault(client: Client, **body: object) -> None:
    reply = await client.admin("POST", "/_sim/webhooks/faults", body)
    assert reply["id"].startswith("webhook_fault")


def all_sent(log: dict[str, Any]) -> bool:
    return all(d["state"] in ("delivered", "dropped") for d in log["deliveries"])


async def test_drop(sim: SimulatorServer, client: Client, receiver: Receiver, secret: str) -> None:
    await add_fault(client, kind="drop", event_type="charging_sub_session.ended")
    session = sim.world.open_session(TESLA)
    assert session is not None
    await client.call("POST", f"/v2/charging_sessions/{session.id}/boost_start")
    assert check(await receiver.next(), secret, "charging_sub_session.created")["mode"] == "BOOST"
    await client.call("POST", f"/v2/charging_sessions/{session.id}/boost_end")  # count used up
    assert check(await receiver.next(), secret, "charging_sub_session.ended")["mode"] == "BOOST"
    assert check(await receiver.next(), secret, "charging_sub_session.created")["mode"] == "SMART"
    log = await wait_for_log(client, all_sent)
    dropped = log["deliveries"][0]
    assert (dropped["type"], dropped["state"]) == ("charging_sub_session.ended", "dropped")
    assert (dropped["faults"], dropped["attempts"]) == (["drop"], [])
    assert await client.admin("GET", "/_sim/webhooks/faults") == []


async def test_duplicate(client: Client, receiver: Receiver, secret: str) -> None:
    await add_fault(client, kind="duplicate")
    await plug(client, LEAF, True)
    first, second = await receiver.next(), await receiver.next()
    assert second.headers["svix-id"] == first.headers["svix-id"]
    assert second.body == first.body
    check(second, secret, "charging_sub_session.created")
    await plug(client, LEAF, False)
    check(await receiver.next(), secret, "charging_sub_session.ended")
    log = await wait_for_log(client, all_sent)
    assert [d["faults"] for d in log["deliveries"]] == [["duplicate"], ["duplicate"], []]
    assert receiver.received.empty()


async def test_delay(client: Client, receiver: Receiver, secret: str) -> None:
    await add_fault(client, kind="delay", seconds=30, event_type="charging_sub_session.created")
    await plug(client, LEAF, True)  # delayed
    await plug(client, LEAF, False)  # sent at once, so first
    ended = check(await receiver.next(), secret, "charging_sub_session.ended")
    await client.admin("POST", "/_sim/clock", {"advance_seconds": 29})
    await plug(client, LEAF, True)  # the fault is used up: sent at once, still ahead of it
    assert check(await receiver.next(), secret, "charging_sub_session.created")["id"] != ended["id"]
    await client.admin("POST", "/_sim/clock", {"advance_seconds": 1})
    delayed = await receiver.next()
    assert check(delayed, secret, "charging_sub_session.created")["id"] == ended["id"]
    assert delayed.headers["svix-timestamp"] == str(int(START.timestamp()) + 30)
    assert delayed.json()["timestamp"] == "2026-03-10T10:00:00Z"  # when it happened


async def test_reorder(client: Client, receiver: Receiver, secret: str) -> None:
    await add_fault(client, kind="reorder")
    await plug(client, LEAF, True)  # held back
    await plug(client, LEAF, False)
    ended = check(await receiver.next(), secret, "charging_sub_session.ended")
    created = check(await receiver.next(), secret, "charging_sub_session.created")
    assert created["id"] == ended["id"]
    log = await wait_for_log(client, all_sent)
    assert [d["faults"] for d in log["deliveries"]] == [["reorder"], []]


async def test_bad_signature(client: Client, receiver: Receiver, secret: str) -> None:
    await add_fault(client, kind="bad_signature")
    await plug(client, LEAF, True)
    received = await receiver.next()
    headers = received.headers
    good = sign(secret, headers["svix-id"], int(headers["svix-timestamp"]), received.body)
    version, _, digest = headers["svix-signature"].partition(",")
    assert (version, len(base64.b64decode(digest, validate=True))) == ("v1", 32)
    assert headers["svix-signature"] != good
    await plug(client, LEAF, False)
    check(await receiver.next(), secret, "charging_sub_session.ended")


async def test_old_timestamp(client: Client, receiver: Receiver, secret: str) -> None:
    await add_fault(client, kind="old_timestamp", count=None)
    faults = await client.admin("GET", "/_sim/webhooks/faults")
    assert faults == [
        {
            "id": "webhook_fault1",
            "kind": "old_timestamp",
            "count": None,
            "event_type": None,
            "seconds": 600,
        }
    ]
    for plugged_in, event_type in ((True, "created"), (False, "ended")):
        await plug(client, LEAF, plugged_in)
        received = await receiver.next()
        check(received, secret, f"charging_sub_session.{event_type}")  # signed for its timestamp
        assert received.headers["svix-timestamp"] == str(int(START.timestamp()) - 600)
    assert await client.admin("DELETE", "/_sim/webhooks/faults") == {"cleared": True}
    await plug(client, LEAF, True)
    assert (await receiver.next()).headers["svix-timestamp"] == str(int(START.timestamp()))


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"kind": "vanish"}, "unknown kind"),
        ({"kind": "drop", "count": 0}, "count"),
        ({"kind": "drop", "count": True}, "count"),
        ({"kind": "drop", "seconds": 5}, "takes no seconds"),
        ({"kind": "delay", "seconds": -5}, "positive number"),
        ({"kind": "old_timestamp", "seconds": "600"}, "positive number"),
        ({"kind": "drop", "event_type": "charging_session.created"}, "event_type"),
        ({"kind": "drop", "path": "^/v2/"}, "path"),
    ],
)
async def test_bad_faults(client: Client, body: dict[str, Any], error: str) -> None:
    url = f"{client.base_url}/_sim/webhooks/faults"
    async with client.session.post(url, json=body) as response:
        assert response.status == 400
        assert error in (await response.json())["error"]
    assert await client.admin("GET", "/_sim/webhooks/faults") == []


async def test_webhook_portal(sim: SimulatorServer, contract_client: Client) -> None:
    reply = await contract_client.get("/v2/webhook_portal")
    assert reply.status == 200
    link = reply.json()["url"]
    assert link.startswith(f"{sim.base_url}/_sim/webhook_portal?key=")
    session = contract_client.session
    async with session.get(link) as page:
        assert page.status == 200
        assert "No endpoint yet." in await page.text()
    async with session.get(link) as again:  # one time only
        assert again.status == 403
    key = URL(link).query["key"]
    form = {"key": key, "url": "http://127.0.0.1:9/hook", "secret": ""}
    async with session.post(f"{sim.base_url}/_sim/webhook_portal", data=form) as saved:
        assert saved.status == 200
        text = await saved.text()
    assert sim.webhooks.endpoint is not None
    assert sim.webhooks.endpoint.url == "http://127.0.0.1:9/hook"
    assert sim.webhooks.endpoint.secret in text  # a new secret, shown to be copied
    bad = {"key": key, "url": "nowhere", "secret": ""}
    async with session.post(f"{sim.base_url}/_sim/webhook_portal", data=bad) as refused:
        assert refused.status == 400
        assert "absolute http(s) URL" in await refused.text()
    forged = {"key": "guess", "url": "http://127.0.0.1:9/other", "secret": ""}
    async with session.post(f"{sim.base_url}/_sim/webhook_portal", data=forged) as forbidden:
        assert forbidden.status == 403
    assert sim.webhooks.endpoint.url == "http://127.0.0.1:9/hook"


async def test_webhook_portal_needs_a_token(contract_client: Client) -> None:
    reply = await contract_client.get("/v2/webhook_portal", token="not-a-token")
    assert reply.status == 401
    async with contract_client.session.get(
        f"{contract_client.base_url}/_sim/webhook_portal"
    ) as page:
        assert page.status == 403
