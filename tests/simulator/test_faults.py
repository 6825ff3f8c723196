"""Fault injection, pagination via Link headers, and the rate limiter."""

import asyncio
import json
import re
import time

import pytest

from simulator import SimulatorConfig, SimulatorServer

from .conftest import START, TARIFF, TESLA, Client

LINK = re.compile(r'<([^>]*)>; rel="previous", <([^>]*)>; rel="next"')


def links(link_header: str) -> tuple[str, str]:
    match = LINK.fullmatch(link_header)
    assert match, link_header
    return match[1], match[2]


async def add_fault(client: Client, **body: object) -> str:
    reply = await client.admin("POST", "/_sim/faults", body)
    return str(reply["id"])


async def test_unauthorized(client: Client) -> None:
    await add_fault(client, kind="unauthorized", count=2)
    first, second, third = [await client.get("/v2/vehicles") for _ in range(3)]
    assert (first.status, second.status, third.status) == (401, 401, 200)
    assert first.json()["detail"] == "Invalid token."
    assert first.headers["EvEnergy-Version"] == "2"


async def test_rate_limit_fault(client: Client) -> None:
    await add_fault(client, kind="rate_limit", retry_after=120)
    reply = await client.get("/v2/evses")
    assert reply.status == 429
    assert reply.headers["Retry-After"] == "120"
    assert reply.headers["X-RateLimit-Remaining"] == "0"
    assert (await client.get("/v2/evses")).status == 200


async def test_server_errors_until_cleared(client: Client) -> None:
    fault_id = await add_fault(client, kind="server_error", count=None, path="^/v2/vehicles")
    listed = await client.admin("GET", "/_sim/faults")
    assert listed == [
        {"id": fault_id, "kind": "server_error", "count": None, "path": "^/v2/vehicles"}
    ]
    for _ in range(3):
        reply = await client.get("/v2/vehicles")
        assert reply.status == 500
        assert reply.headers["Content-Type"].startswith("application/problem+json")
    assert (await client.get("/v2/evses")).status == 200  # path does not match
    assert (await client.admin("GET", "/_sim/clock"))["time_scale"] == 0  # admin never faulted
    assert await client.admin("DELETE", f"/_sim/faults/{fault_id}") == {"cleared": True}
    assert (await client.get("/v2/vehicles")).status == 200
    await add_fault(client, kind="server_error", status=503)
    reply = await client.get("/v2/vehicles")
    assert reply.status == 503
    assert reply.json()["title"] == "Service Unavailable"


async def test_server_error_on_token_endpoint(sim: SimulatorServer, client: Client) -> None:
    await add_fault(client, kind="server_error", path="^/o/token/")
    async with client.session.post(
        f"{client.base_url}/o/token/", data={"grant_type": "refresh_token"}
    ) as response:
        assert response.status == 500


async def test_hang_for_seconds(client: Client) -> None:
    await add_fault(client, kind="hang", seconds=0.3)
    started = time.monotonic()
    reply = await client.get("/v2/users")
    assert reply.status == 200
    assert time.monotonic() - started >= 0.3


async def test_hang_until_cleared(client: Client) -> None:
    await add_fault(client, kind="hang")
    request = asyncio.create_task(client.get("/v2/users"))
    await asyncio.sleep(0.2)
    assert not request.done()
    await client.admin("DELETE", "/_sim/faults")
    assert (await asyncio.wait_for(request, 5)).status == 200


async def test_hung_refresh_rotates_after_its_client_left(
    sim: SimulatorServer, client: Client
) -> None:
    """A refresh the client stopped waiting for is still handled once the hang ends."""
    refresh = sim.issue_token()["refresh_token"]
    before = set(sim.oauth.refresh_tokens)
    await add_fault(client, kind="hang", path="^/o/token/")
    form = {
        "grant_type": "refresh_token",
        "refresh_token": refresh,
        "client_id": sim.oauth.client_id,
        "client_secret": sim.oauth.client_secret,
    }
    request = asyncio.create_task(client.session.post(f"{client.base_url}/o/token/", data=form))
    await asyncio.sleep(0.2)
    request.cancel()
    await client.admin("DELETE", "/_sim/faults")
    for _ in range(100):
        if refresh not in sim.oauth.refresh_tokens:
            break
        await asyncio.sleep(0.01)
    assert refresh not in sim.oauth.refresh_tokens
    assert len(set(sim.oauth.refresh_tokens) - before) == 1, "its successor was issued"


async def test_malformed_json(client: Client) -> None:
    await add_fault(client, kind="malformed_json")
    reply = await client.get("/v2/vehicles")
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        reply.json()
    assert (await client.get("/v2/vehicles")).json()


async def test_missing_named_fields(client: Client) -> None:
    await add_fault(
        client, kind="missing_fields", fields=["state_of_charge_percentage", "description"]
    )
    vehicles = (await client.get("/v2/vehicles?expand=latest_status_log")).json()
    assert all("description" not in v for v in vehicles)
    assert all("state_of_charge_percentage" not in v["latest_status_log"] for v in vehicles)
    assert "is_charging" in vehicles[0]["latest_status_log"]


async def test_missing_non_required_fields(client: Client) -> None:
    await add_fault(client, kind="missing_fields", count=3)
    vehicle = (await client.get(f"/v2/vehicles/{TESLA}?expand=latest_status_log")).json()
    assert "latest_status_log" not in vehicle
    assert "trim" not in vehicle
    assert vehicle["maximum_charge_limit_percentage"] == 80
    tariff = (await client.get(f"/v2/tariffs/{TARIFF}")).json()
    assert set(tariff) == {"id", "url", "supplier", "name", "currency"}
    prices = (await client.get(f"/v2/tariffs/{TARIFF}/prices")).json()
    assert set(prices[0]) == {"started_at", "interval_seconds", "price_minor_units"}


async def test_unknown_enum(client: Client) -> None:
    await add_fault(client, kind="unknown_enum")
    vehicle = (await client.get(f"/v2/vehicles/{TESLA}?expand=latest_status_log")).json()
    assert vehicle["integrated"] == "HOVERING"
    assert vehicle["latest_status_log"]["state"] == "HOVERING"
    await add_fault(client, kind="unknown_enum", value="SOMETHING_NEW", fields=["lock_mode"])
    evse = (await client.get("/v2/evses?expand=latest_status_log")).json()[0]
    assert evse["lock_mode"] == "SOMETHING_NEW"
    assert evse["lifecycle_state"] == "COMMISSIONED"


async def test_link_loop(client: Client) -> None:
    await add_fault(client, kind="link_loop")
    reply = await client.get("/v2/vehicles?page_size=1")
    assert links(reply.headers["Link"]) == ("about:blank", reply.url)


async def test_huge_page(client: Client) -> None:
    await add_fault(client, kind="huge_page", items=250)
    vehicles = (await client.get("/v2/vehicles")).json()
    assert len(vehicles) == 250
    assert len({v["id"] for v in vehicles}) == 250
    assert all(v["url"].endswith(v["id"]) for v in vehicles)
    await add_fault(client, kind="huge_page", items=30)
    prices = (await client.get(f"/v2/tariffs/{TARIFF}/prices?page_size=2")).json()
    assert len(prices) == 30
    await add_fault(client, kind="huge_page", items=30)
    assert (await client.get("/v2/users?email=nobody@example.com")).json() == []


async def test_faults_skip_error_responses(client: Client) -> None:
    await add_fault(client, kind="malformed_json")
    assert (await client.get("/v2/vehicles", token="bad")).status == 401
    assert (await client.admin("GET", "/_sim/faults"))[0]["count"] == 1  # not consumed


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"kind": "gremlins"}, "unknown fault kind"),
        ({"kind": "hang", "count": 0}, "count must be"),
        ({"kind": "hang", "path": "("}, "missing )"),
        ({"count": 1}, "kind"),
    ],
)
async def test_fault_validation(client: Client, body: dict[str, object], error: str) -> None:
    async with client.session.post(f"{client.base_url}/_sim/faults", json=body) as response:
        assert response.status == 400
        assert error in (await response.json())["error"]


async def test_cursor_pagination_follows_link(sim: SimulatorServer, client: Client) -> None:
    for _ in range(3):
        await client.admin("POST", "/_sim/vehicles", {})
    url = f"{client.base_url}/v2/vehicles?expand=latest_status_log&page_size=2"
    seen: list[str] = []
    pages = 0
    while url != "about:blank" and pages < 10:
        reply = await client.get(url)
        seen += [v["id"] for v in reply.json()]
        previous, url = links(reply.headers["Link"])
        assert (previous == "about:blank") == (pages == 0)
        pages += 1
    assert pages == 3
    assert seen == sorted(sim.world.vehicles)
    # Walking back from the last page with page_before returns the preceding items.
    back = await client.get(previous)
    assert [v["id"] for v in back.json()] == seen[2:4]
    assert "expand=latest_status_log" in previous


async def test_sessions_paginate_newest_first(client: Client) -> None:
    first = await client.get("/v2/charging_sessions?page_size=3")
    ids = [s["id"] for s in first.json()]
    _, following = links(first.headers["Link"])
    second = await client.get(following)
    previous, last = links(second.headers["Link"])
    assert last == "about:blank"
    ids += [s["id"] for s in second.json()]
    assert ids == sorted(ids, reverse=True)
    assert len(ids) == 4
    assert [s["id"] for s in (await client.get(previous)).json()] == ids[:3]
    beyond = await client.get(f"/v2/charging_sessions?page_after={ids[-1]}")
    assert beyond.json() == []
    assert links(beyond.headers["Link"])[1] == "about:blank"
    assert links(beyond.headers["Link"])[0] != "about:blank"


async def test_price_pages_follow_link(client: Client) -> None:
    url = f"{client.base_url}/v2/tariffs/{TARIFF}/prices?page_size=25"
    starts: list[str] = []
    for _ in range(10):
        reply = await client.get(url)
        starts += [p["started_at"] for p in reply.json()]
        _, url = links(reply.headers["Link"])
        if url == "about:blank":
            break
    assert len(starts) == 74  # 24 h of history until 23:00 today
    assert starts == sorted(starts, reverse=True)
    assert len(set(starts)) == 74


@pytest.mark.parametrize("sim_config", [SimulatorConfig(time_scale=0, start=START, rate_limit=5)])
async def test_rate_limiter_window(sim: SimulatorServer, client: Client) -> None:
    for expected in range(4, -1, -1):
        assert (await client.get("/v2/users")).headers["X-RateLimit-Remaining"] == str(expected)
        sim.clock.advance(60)
    blocked = await client.get("/v2/users")
    assert blocked.status == 429
    assert blocked.headers["Retry-After"] == str(3600 - 300)
    # The same OAuth app + user shares the bucket, whatever the token.
    other = sim.issue_token()["access_token"]
    assert (await client.get("/v2/users", token=other)).status == 429
    sim.clock.advance(3600 - 300)  # the first request leaves the rolling window
    recovered = await client.get("/v2/users")
    assert recovered.status == 200
    assert recovered.headers["X-RateLimit-Remaining"] == "0"
    assert (await client.get("/v2/users")).headers["Retry-After"] == "60"
