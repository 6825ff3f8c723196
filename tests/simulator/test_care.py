"""The simulator's notifications and vehicle reconnection, checked against the spec."""

import json
from pathlib import Path

import aiohttp
import pytest

from simulator import SimulatorConfig, SimulatorServer
from simulator.model import DEFAULT_SCENARIO

from .conftest import LEAF, START, Client

NOTIFICATION = "notf" + LEAF[4:]


async def test_inactive_vehicle_notification_read_and_reconnected(
    sim: SimulatorServer, contract_client: Client
) -> None:
    """INACTIVE: an ACTIONABLE notification; marked read; reconnecting through the link
    makes the vehicle ACTIVE and the notification goes."""
    assert (await contract_client.get("/v2/notifications")).json() == []
    sim.world.vehicles[LEAF].integrated = "INACTIVE"

    (item,) = (await contract_client.get("/v2/notifications?page_size=10")).json()
    assert item["id"] == NOTIFICATION
    assert item["category"] == "ACTIONABLE"
    assert item["event_time"] == "2026-03-10T10:00:00Z"
    assert "read_at" not in item

    patched = await contract_client.call(
        "PATCH", f"/v2/notifications/{NOTIFICATION}", body={"read_at": "2026-03-10T10:05:00Z"}
    )
    assert patched.status == 200
    assert patched.json()["Notification"]["read_at"] == "2026-03-10T10:05:00Z"
    (item,) = (await contract_client.get("/v2/notifications")).json()
    assert item["read_at"] == "2026-03-10T10:05:00Z"

    reply = await contract_client.call("POST", f"/v2/vehicles/{LEAF}/reconnect")
    assert reply.status == 201
    link = reply.json()
    assert link["url"] == f"{sim.base_url}/_sim/reconnect/{LEAF}"
    assert link["expires_at"] == "2026-03-10T11:00:00Z"
    async with contract_client.session.get(link["url"]) as page:
        assert page.status == 200
    assert sim.world.vehicles[LEAF].integrated == "ACTIVE"
    assert (await contract_client.get("/v2/notifications")).json() == []


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("PATCH", "/v2/notifications/notf00000000000000000000000000", {}, 404),
        ("PATCH", f"/v2/notifications/{NOTIFICATION}", {"read_at": "yesterday"}, 400),
        ("PATCH", f"/v2/notifications/{NOTIFICATION}", {"read_at": "2026-03-10T10:05"}, 400),
        ("PATCH", f"/v2/notifications/{NOTIFICATION}", [1], 400),
        ("POST", "/v2/vehicles/vhcl00000000000000000000000000/reconnect", None, 404),
        ("GET", "/v2/notifications?page_size=0", None, 400),
    ],
)
async def test_errors(
    sim: SimulatorServer,
    contract_client: Client,
    method: str,
    path: str,
    body: object,
    status: int,
) -> None:
    sim.world.vehicles[LEAF].integrated = "INACTIVE"
    reply = await contract_client.call(method, path, body=body)
    assert reply.status == status
    assert reply.json()["status"] == status


async def test_unknown_vehicle_reconnect_page(sim: SimulatorServer, client: Client) -> None:
    async with client.session.get(f"{sim.base_url}/_sim/reconnect/vhcl0") as page:
        assert page.status == 404


async def test_scenario_notifications(socket_enabled: None, tmp_path: Path) -> None:
    """A scenario's own notifications are served as given, read ones with read_at."""
    scenario = json.loads(DEFAULT_SCENARIO.read_text())
    scenario["notifications"] = [
        {
            "id": "notf01HTHKTXVB77901324BCQPF2SC",
            "message_id": "SRV0042",
            "category": "SERVICE",
            "event_time": "2026-03-10T09:00:00Z",
            "short_text_title": "Planned maintenance tonight",
            "short_text_body": "Smart charging may pause at 02:00",
            "detail_page_title": "Planned maintenance",
            "detail_page_body": "We are upgrading our systems tonight.",
            "external_link": "https://example.com",
            "external_button_label": "More info",
            "read_at": "2026-03-10T09:30:00Z",
        }
    ]
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(scenario))
    sim = SimulatorServer(SimulatorConfig(scenario=path, time_scale=0, start=START))
    await sim.start()
    try:
        async with aiohttp.ClientSession() as session:
            client = Client(session, sim.base_url, sim.issue_token()["access_token"])
            client.contract = True
            (item,) = (await client.get("/v2/notifications")).json()
    finally:
        await sim.stop()
    assert item["category"] == "SERVICE"
    assert item["read_at"] == "2026-03-10T09:30:00Z"
    assert item["url"].endswith("/v2/notifications/notf01HTHKTXVB77901324BCQPF2SC")


def test_scenario_notification_with_unknown_fields(tmp_path: Path) -> None:
    scenario = json.loads(DEFAULT_SCENARIO.read_text())
    scenario["notifications"] = [{"id": "notf1", "colour": "red"}]
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(scenario))
    with pytest.raises(ValueError, match="colour"):
        SimulatorServer(SimulatorConfig(scenario=path, time_scale=0, start=START))
