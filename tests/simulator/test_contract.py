"""Every operation the simulator serves, success and error answers, checked against the spec.

``contract_client`` validates each response (status, declared headers, body schema) and each
accepted request against ev.energy's OpenAPI description.
"""

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from simulator import SimulatorConfig, SimulatorServer
from tests.openapi_spec import require_spec_path

from .conftest import EVSE, START, TARIFF, TESLA, USER, Client

PRICES = f"/v2/tariffs/{TARIFF}/prices"
NO_SUB_SCHEDULES = "/v2/charging_sub_sessions/csub00000000000000000000000000/schedules"
DUAL_RATE = Path(__file__).parents[2] / "simulator/scenarios/dual_rate.json"


@pytest.mark.parametrize(
    "path",
    [
        "/v2/users",
        "/v2/users?expand=default_location.tariff.supplier&email=DEMO@example.com",
        "/v2/users?email=someone@example.com",
        f"/v2/users/{USER}",
        f"/v2/users/{USER}?expand=default_location.tariff&expand=default_location.evse_site",
        "/v2/vehicles",
        "/v2/vehicles?expand=latest_status_log&expand=trim.model.make&expand=user&page_size=100",
        f"/v2/vehicles/{TESLA}?expand=trim",
        "/v2/evses?expand=latest_status_log&expand=model.make&expand=user&expand=ct_clamp",
        "/v2/evses?cpid=SIM1000001&page_size=1",
        f"/v2/evses/{EVSE}?expand=model",
        f"/v2/evses/{EVSE}/connectivity",
        f"/v2/evses/{EVSE}/connectivity?expand=latest_status_log",
        f"/v2/tariffs/{TARIFF}",
        f"/v2/tariffs/{TARIFF}?expand=supplier&expand=prices&expand=scheduler_tariff",
        PRICES,
        f"{PRICES}?started_at__gte=2026-03-10T10:00:00Z&started_at__lte=2026-03-10T20:00:00Z",
        f"{PRICES}?page=2&page_size=10",
        "/v2/charging_sessions",
        "/v2/charging_sessions?expand=sub_sessions&expand=vehicle&expand=evse&page_size=2",
    ],
)
async def test_get_operations(contract_client: Client, path: str) -> None:
    reply = await contract_client.get(path)
    assert reply.status == 200


async def test_get_session_and_boost(contract_client: Client) -> None:
    sessions = (await contract_client.get("/v2/charging_sessions")).json()
    current = sessions[0]
    assert current["end"] is None
    session_url = f"/v2/charging_sessions/{current['id']}"
    assert (await contract_client.get(f"{session_url}?expand=sub_sessions")).status == 200
    schedules = current["sub_sessions"][-1].removeprefix(contract_client.base_url) + "/schedules"
    assert (await contract_client.get(f"{schedules}?expand=charging_sub_session")).status == 200
    started = await contract_client.call("POST", f"{session_url}/boost_start")
    assert started.status == 200
    boosting = (await contract_client.get(f"{session_url}?expand=sub_sessions")).json()
    boost_schedules = f"/v2/charging_sub_sessions/{boosting['sub_sessions'][-1]['id']}/schedules"
    assert (await contract_client.get(boost_schedules)).status == 200
    ended = await contract_client.call("POST", f"{session_url}/boost_end")
    assert ended.status == 200
    conflict = await contract_client.call("POST", f"{session_url}/boost_end")
    assert conflict.status == 409
    assert conflict.json()["type"].startswith("https://api.ev.energy/v2/problems/")


@pytest.mark.parametrize(
    "body",
    [
        {"maximum_charge_limit_percentage": 90},
        {"smart_charging_enabled": False},
        {"maximum_charge_limit_percentage": 50, "smart_charging_enabled": True},
        {"vehicle_class": "COMMERCIAL"},
    ],
)
async def test_patch_vehicle(contract_client: Client, body: dict[str, Any]) -> None:
    reply = await contract_client.call(
        "PATCH", f"/v2/vehicles/{TESLA}?expand=latest_status_log", body=body
    )
    assert reply.status == 200
    assert reply.json().items() >= body.items()


@pytest.mark.parametrize(
    ("body", "field_errors"),
    [
        (
            {"maximum_charge_limit_percentage": 101},
            {
                "maximum_charge_limit_percentage": [
                    "Ensure this value is less than or equal to 100."
                ]
            },
        ),
        (
            {"maximum_charge_limit_percentage": 49},
            {
                "maximum_charge_limit_percentage": [
                    "Ensure this value is greater than or equal to 50."
                ]
            },
        ),
        (
            {"maximum_charge_limit_percentage": "80", "smart_charging_enabled": "yes"},
            {
                "maximum_charge_limit_percentage": ["A valid integer is required."],
                "smart_charging_enabled": ["Must be a valid boolean."],
            },
        ),
        (
            {"maximum_charge_limit_percentage": None},
            {"maximum_charge_limit_percentage": ["This field may not be null."]},
        ),
        (
            {"battery_size_watt_hours": 80000, "vehicle_class": "BUS"},
            {
                "battery_size_watt_hours": ["Only editable for unintegrated vehicles."],
                "vehicle_class": ['"BUS" is not a valid choice.'],
            },
        ),
        ([1, 2], {"non_field_errors": ["Invalid data. Expected a dictionary."]}),
    ],
)
async def test_patch_vehicle_validation(
    contract_client: Client, body: Any, field_errors: dict[str, list[str]]
) -> None:
    reply = await contract_client.call("PATCH", f"/v2/vehicles/{TESLA}", body=body)
    assert reply.status == 400
    assert reply.headers["Content-Type"].startswith("application/problem+json")
    problem = reply.json()
    assert problem["type"] == (
        "https://api.ev.energy/v2/problems/validation-failed-update-vehicle/"
    )
    assert problem["status"] == 400
    assert problem["field_errors"] == field_errors
    assert problem["detail"] == "Error on fields: " + ", ".join(field_errors)


async def test_patch_vehicle_malformed_json(contract_client: Client) -> None:
    async with contract_client.session.patch(
        f"{contract_client.base_url}/v2/vehicles/{TESLA}",
        data=b"{not json",
        headers={"Authorization": f"Bearer {contract_client.token}"},
    ) as response:
        assert response.status == 400
        assert (await response.json(content_type=None))["title"] == "Malformed request."


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/v2/vehicles/vhcl00000000000000000000000000", 404),
        ("PATCH", "/v2/vehicles/vhcl00000000000000000000000000", 404),
        ("GET", "/v2/evses/evse00000000000000000000000000", 404),
        ("GET", "/v2/evses/evse00000000000000000000000000/connectivity", 404),
        ("GET", "/v2/tariffs/tari00000000000000000000000000", 404),
        ("GET", "/v2/tariffs/tari00000000000000000000000000/prices", 404),
        ("GET", f"{PRICES}?page=99", 404),
        ("GET", "/v2/users/user00000000000000000000000000", 404),
        ("GET", "/v2/charging_sessions/cses00000000000000000000000000", 404),
        ("POST", "/v2/charging_sessions/cses00000000000000000000000000/boost_start", 404),
        ("POST", "/v2/charging_sessions/cses00000000000000000000000000/boost_end", 404),
        ("GET", NO_SUB_SCHEDULES, 404),
        ("GET", "/v2/vehicles?page_size=0", 400),
        ("GET", "/v2/vehicles?page_size=101", 400),
        ("GET", "/v2/evses?page_size=lots", 400),
        ("GET", "/v2/charging_sessions?page_after=not-an-id", 400),
        ("GET", "/v2/vehicles?expand=battery", 400),
        ("GET", f"/v2/users/{USER}?expand=vehicles", 400),
        ("GET", f"{PRICES}?page=0", 400),
        ("GET", f"{PRICES}?started_at__gte=yesterday", 400),
        ("GET", f"{PRICES}?started_at__lte=2026-03-10T10:00:00", 400),
    ],
)
async def test_error_responses(
    contract_client: Client, method: str, path: str, status: int
) -> None:
    reply = await contract_client.call(method, path)
    assert reply.status == status
    problem = reply.json()
    assert problem["status"] == status
    assert problem["title"]
    assert problem["detail"]


async def test_unsupported_version(contract_client: Client) -> None:
    reply = await contract_client.get("/v2/vehicles", headers={"EvEnergy-Version": "3.0"})
    assert reply.status == 400
    assert reply.json()["detail"] == "Unsupported version requested: 3.0"
    ok = await contract_client.get("/v2/vehicles", headers={"EvEnergy-Version": "2"})
    assert ok.status == 200


@pytest.mark.parametrize(
    "path",
    ["/v2/users", f"/v2/users/{USER}", "/v2/vehicles", f"/v2/tariffs/{TARIFF}", PRICES],
)
async def test_unauthorized(contract_client: Client, path: str) -> None:
    missing = await contract_client.session.get(contract_client.base_url + path)
    assert missing.status == 401
    assert (await missing.json(content_type=None))["detail"] == (
        "Authentication credentials were not provided."
    )
    missing.release()
    reply = await contract_client.get(path, token="not-a-token")
    assert reply.status == 401
    assert reply.json() == {"title": "Unauthorized", "detail": "Invalid token.", "status": 401}
    assert reply.headers["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize(
    ("method", "path", "scopes"),
    [
        ("GET", "/v2/vehicles", ["user:read"]),
        ("PATCH", f"/v2/vehicles/{TESLA}", ["vehicle:read"]),
        ("GET", PRICES, ["tariff:read"]),
        ("GET", f"/v2/tariffs/{TARIFF}?expand=prices", ["tariff:read"]),
        ("GET", "/v2/evses", ["vehicle:read"]),
        ("GET", "/v2/charging_sessions", ["vehicle:read"]),
        ("GET", NO_SUB_SCHEDULES, ["vehicle:read"]),
    ],
)
async def test_forbidden(
    sim: SimulatorServer, contract_client: Client, method: str, path: str, scopes: list[str]
) -> None:
    token = sim.issue_token(scopes)["access_token"]
    reply = await contract_client.call(method, path, token=token, body={})
    assert reply.status == 403
    assert reply.json()["title"] == "Forbidden"


@pytest.mark.parametrize("sim_config", [SimulatorConfig(time_scale=0, start=START, rate_limit=3)])
async def test_rate_limited(contract_client: Client) -> None:
    remaining = [(await contract_client.get("/v2/users")).headers["X-RateLimit-Remaining"]]
    remaining += [(await contract_client.get("/v2/vehicles")).headers["X-RateLimit-Remaining"]]
    remaining += [(await contract_client.get("/v2/evses")).headers["X-RateLimit-Remaining"]]
    assert remaining == ["2", "1", "0"]
    reply = await contract_client.get(f"/v2/evses/{EVSE}/connectivity")
    assert reply.status == 429
    assert reply.headers["Retry-After"] == "3600"
    assert reply.headers["X-RateLimit-Limit"] == "3"
    assert reply.json()["type"] == "https://api.ev.energy/v2/problems/rate-limit-exceeded/"


async def test_service_unavailable_on_boost(sim: SimulatorServer, contract_client: Client) -> None:
    session = sim.world.open_session(TESLA)
    assert session is not None
    sim.faults.add("server_error", status=503, path="boost_start$")
    reply = await contract_client.call("POST", f"/v2/charging_sessions/{session.id}/boost_start")
    assert reply.status == 503
    assert reply.json()["title"] == "Service Unavailable"


async def test_dual_rate_tariff(socket_enabled: None) -> None:
    sim = SimulatorServer(SimulatorConfig(scenario=DUAL_RATE, time_scale=0))
    await sim.start()
    try:
        async with aiohttp.ClientSession() as session:
            client = Client(session, sim.base_url, sim.issue_token()["access_token"])
            client.contract = True
            tariff = (await client.get(f"/v2/tariffs/{sim.world.tariff.id}")).json()
            prices = await client.get(f"/v2/tariffs/{sim.world.tariff.id}/prices?page_size=100")
    finally:
        await sim.stop()
    assert tariff["type"] == "DUAL_RATE"
    assert tariff["current_price"] == 28  # 12:00 GMT is peak: "0.2850" -> 28 pence
    assert tariff["daily_prices"]["off_peak"]["price"] == "0.0750"
    assert {p["price_minor_units"] for p in prices.json()} == {8, 28}


def test_missing_spec_skips_locally_and_fails_on_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("EV_ENERGY_OPENAPI", str(tmp_path / "missing.yaml"))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="spec not found"):
        require_spec_path()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="EV_ENERGY_OPENAPI"):
        require_spec_path()
