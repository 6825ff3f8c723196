"""Admin API, request log, routing errors and the command line."""

import asyncio
import os
from pathlib import Path
import signal
import socket
import sys
import threading
import time
from typing import Any

import aiohttp
import pytest

from simulator import SimulatorConfig, SimulatorServer
from simulator.__main__ import main, parse_args, serve

from .conftest import EVSE, LEAF, START, TESLA, Client


async def admin_status(client: Client, method: str, path: str, body: Any = None) -> int:
    async with client.session.request(method, client.base_url + path, json=body) as response:
        return response.status


async def test_add_vehicle_and_charger(contract_client: Client) -> None:
    vehicle = await contract_client.admin(
        "POST",
        "/_sim/vehicles",
        {
            "integrated": "UNINTEGRATED",
            "description": "Van",
            "maximum_charge_limit_percentage": 90,
            "make": "Ford",
        },
    )
    assert vehicle["latest_status_log"] is None
    assert vehicle["id"].startswith("vhcl")
    listed = await contract_client.get(f"/v2/vehicles/{vehicle['id']}?expand=trim.model.make")
    assert listed.json()["trim"]["model"]["make"]["name"] == "Ford"
    assert listed.json()["trim"]["model"]["name"] == "Sim EV"
    patched = await contract_client.call(
        "PATCH", f"/v2/vehicles/{vehicle['id']}", body={"battery_size_watt_hours": 70000}
    )
    assert patched.json()["battery_size_watt_hours"] == 70000
    evse = await contract_client.admin(
        "POST", "/_sim/evses", {"cpid": "NEW1", "lock_mode": "LOCKED"}
    )
    assert evse["model"]["make"]["name"] == "Simulated Chargers"
    assert evse["latest_status_log"]["is_enabled"] is False
    assert evse["location"] is None
    found = await contract_client.get("/v2/evses?cpid=NEW1&expand=latest_status_log")
    assert [e["id"] for e in found.json()] == [evse["id"]]
    plugged = await contract_client.admin(
        "POST", "/_sim/vehicles", {"plugged_in": True, "evse": evse["id"]}
    )
    assert plugged["latest_status_log"]["is_plugged_in"] is True


async def test_patch_world_vehicle(client: Client) -> None:
    patched = await client.admin(
        "PATCH", f"/_sim/vehicles/{LEAF}", {"state_of_charge_percentage": 20, "odometer_meters": 5}
    )
    assert patched["latest_status_log"]["state_of_charge_percentage"] == 20
    assert patched["latest_status_log"]["odometer_meters"] == 5
    assert await admin_status(client, "PATCH", f"/_sim/vehicles/{LEAF}", {"soc": 1}) == 400
    assert await admin_status(client, "PATCH", "/_sim/vehicles/nope", {}) == 404
    assert (
        await admin_status(client, "POST", f"/_sim/vehicles/{LEAF}/plug", {"plugged_in": 1}) == 400
    )
    assert await admin_status(client, "POST", f"/_sim/vehicles/{LEAF}/plug", [1]) == 400
    assert await admin_status(client, "DELETE", "/_sim/evses/nope") == 404
    assert await admin_status(client, "DELETE", "/_sim/faults/nope") == 404
    assert await admin_status(client, "POST", "/_sim/vehicles", {"colour": "red"}) == 400
    assert (
        await admin_status(client, "POST", "/_sim/vehicles", {"battery_size_watt_hours": "x"})
        == 400
    )
    assert await admin_status(client, "POST", "/_sim/evses", {"colour": "red"}) == 400
    async with client.session.post(f"{client.base_url}/_sim/clock", data=b"{") as response:
        assert response.status == 400


async def test_clock(client: Client) -> None:
    assert await client.admin("GET", "/_sim/clock") == {
        "now": "2026-03-10T10:00:00Z",
        "time_scale": 0,
    }
    moved = await client.admin("POST", "/_sim/clock", {"advance_seconds": 90})
    assert moved["now"] == "2026-03-10T10:01:30Z"
    moved = await client.admin("POST", "/_sim/clock", {"set": "2026-06-01T12:00:00+01:00"})
    assert moved["now"] == "2026-06-01T11:00:00Z"
    scaled = await client.admin("POST", "/_sim/clock", {"time_scale": 2})
    assert scaled["time_scale"] == 2
    assert await admin_status(client, "POST", "/_sim/clock", {"set": "2026-06-01T12:00:00"}) == 400
    assert await admin_status(client, "POST", "/_sim/clock", {"advance_seconds": "x"}) == 400


async def test_request_log(client: Client) -> None:
    await client.get("/v2/vehicles?expand=latest_status_log&expand=trim&page_size=5")
    await client.call("PATCH", f"/v2/vehicles/{TESLA}", body={"smart_charging_enabled": True})
    async with client.session.post(
        f"{client.base_url}/o/token/",
        data={"grant_type": "refresh_token", "client_id": "x", "client_secret": "s3cret"},
    ):
        pass
    async with client.session.patch(
        f"{client.base_url}/v2/vehicles/{TESLA}",
        data=b"not json",
        headers={"Authorization": f"Bearer {client.token}"},
    ):
        pass
    async with client.session.get(f"{client.base_url}/nowhere"):
        pass
    await client.admin("GET", "/_sim/state")
    log = await client.admin("GET", "/_sim/requests")
    assert [(e["method"], e["path"], e["status"]) for e in log] == [
        ("GET", "/v2/vehicles", 200),
        ("PATCH", f"/v2/vehicles/{TESLA}", 200),
        ("POST", "/o/token/", 401),
        ("PATCH", f"/v2/vehicles/{TESLA}", 400),
        ("GET", "/nowhere", 404),
    ]
    assert log[0]["query"] == {"expand": ["latest_status_log", "trim"], "page_size": ["5"]}
    assert log[0]["user"] == "user01HRY314M071HFE865V215DE1C"
    assert log[0]["time"] == "2026-03-10T10:00:00Z"
    assert log[1]["body"] == {"smart_charging_enabled": True}
    assert log[2]["body"] == {
        "grant_type": "refresh_token",
        "client_id": "x",
        "client_secret": "***",
    }
    assert log[2]["user"] is None
    assert log[3]["body"] == "not json"
    assert await client.admin("DELETE", "/_sim/requests") == {"cleared": True}
    assert await client.admin("GET", "/_sim/requests") == []


async def test_state_snapshot(client: Client) -> None:
    await client.admin("POST", "/_sim/faults", {"kind": "link_loop"})
    state = await client.admin("GET", "/_sim/state")
    assert state["now"] == "2026-03-10T10:00:00Z"
    tesla = next(v for v in state["vehicles"] if v["id"] == TESLA)
    assert (tesla["state"], tesla["state_of_charge_percentage"]) == ("PLUGGED_IN_CHARGING", 45)
    assert [e["id"] for e in state["evses"]] == [EVSE]
    assert state["tariff"]["current_price"] > 0
    assert len(state["sessions"]) == 4
    assert state["faults"][0]["kind"] == "link_loop"
    assert state["tokens"] == {"access": 1, "refresh": 1}


async def test_unknown_path_and_method(client: Client) -> None:
    missing = await client.get("/v2/nothing_here")
    assert missing.status == 404
    assert missing.headers["Content-Type"].startswith("application/problem+json")
    assert missing.headers["EvEnergy-Version"] == "2"
    wrong = await client.call("DELETE", "/v2/users")
    assert wrong.status == 405
    assert wrong.json()["detail"] == 'Method "DELETE" not allowed.'


def test_parse_args() -> None:
    config, host, port = parse_args(
        [
            *("--port", "0", "--rate-limit", "5", "--time-scale", "60"),
            *("--access-token-ttl", "60", "--consent-page", "--client-id", "id"),
            *("--client-secret", "secret", "--redirect-uri", "https://example.com/cb"),
            *("--scenario", "simulator/scenarios/dual_rate.json"),
        ]
    )
    assert (host, port) == ("127.0.0.1", 0)
    assert config == SimulatorConfig(
        scenario=Path("simulator/scenarios/dual_rate.json"),
        rate_limit=5,
        access_token_ttl=60,
        time_scale=60,
        client_id="id",
        client_secret="secret",
        consent_page=True,
        redirect_uris=("https://example.com/cb",),
    )
    with pytest.raises(ValueError, match="rate_limit"):
        SimulatorServer(SimulatorConfig(rate_limit=0))


async def test_serve_until_stopped(
    socket_enabled: None, capsys: pytest.CaptureFixture[str]
) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(serve(SimulatorConfig(start=START), "127.0.0.1", 0, stop))
    for _ in range(100):
        if out := capsys.readouterr().out:
            break
        await asyncio.sleep(0.02)
    assert out.startswith("ev.energy simulator listening on http://127.0.0.1:")
    url = out.split()[-1]
    async with aiohttp.ClientSession() as session, session.get(f"{url}/_sim/clock") as response:
        assert response.status == 200
    stop.set()
    await asyncio.wait_for(task, 5)


async def test_cli_process(socket_enabled: None) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "simulator", "--port", "0", "--time-scale", "0"),
        cwd=Path(__file__).parents[2],
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
        assert line.startswith("ev.energy simulator listening on http://127.0.0.1:")
        url = line.split()[-1]
        async with aiohttp.ClientSession() as session, session.get(f"{url}/v2/users") as response:
            assert response.status == 401
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 10) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def test_main_stops_on_sigint(socket_enabled: None) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    def interrupt_when_listening() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            except OSError:
                time.sleep(0.05)
                continue
            # The handler is installed before the server listens, so this only sets "stop".
            os.kill(os.getpid(), signal.SIGINT)
            return

    thread = threading.Thread(target=interrupt_when_listening)
    thread.start()
    try:
        main(["--port", str(port), "--time-scale", "0"])
    finally:
        thread.join()
