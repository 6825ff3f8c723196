"""The simulator's charging plans: cheapest half-hours before the ready-by time, boost, filters.

Every exchange goes through ``contract_client``, so each answer is checked against the spec.
"""

from datetime import UTC, datetime
from typing import Any

import pytest

from simulator import SimulatorServer

from .conftest import TESLA, Client

READY_BY = datetime(2026, 3, 11, 7, 0, tzinfo=UTC)  # 07:00 GMT after START


async def current_sub(client: Client) -> dict[str, Any]:
    sessions = (await client.get("/v2/charging_sessions?expand=sub_sessions")).json()
    session = next(s for s in sessions if s["end"] is None)
    return session["sub_sessions"][-1]  # type: ignore[no-any-return]


async def schedules(client: Client, sub_id: str, query: str = "") -> list[dict[str, Any]]:
    reply = await client.get(f"/v2/charging_sub_sessions/{sub_id}/schedules{query}")
    assert reply.status == 200
    return reply.json()["schedules"]  # type: ignore[no-any-return]


def starts(items: list[dict[str, Any]], powered: bool = True) -> list[datetime]:
    return [
        datetime.fromisoformat(item["started_at"])
        for item in items
        if (item["current_milliamps"] > 0) is powered
    ]


async def test_smart_plan_is_the_cheapest_half_hours_to_the_limit(
    sim: SimulatorServer, contract_client: Client
) -> None:
    sub = await current_sub(contract_client)
    items = await schedules(contract_client, sub["id"])
    # Every half-hour from now to the ready-by time, in order.
    all_starts = [datetime.fromisoformat(item["started_at"]) for item in items]
    assert all_starts == sorted(all_starts)
    assert all_starts[0] == datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
    assert len(all_starts) == 42
    assert {item["interval_seconds"] for item in items} == {1800}
    assert {item["schedule_type"] for item in items} == {"SMART"}
    # 45 % -> 80 % of 75 kWh is 26.25 kWh: eight half-hours at 7.2 kW.
    on = starts(items, True)
    assert len(on) == 8
    assert {item["current_milliamps"] for item in items} == {0, round(7200 / 230 * 1000)}
    price = sim.world.tariff.price_at
    assert max(price(s) for s in on) <= min(price(s) for s in starts(items, False))
    assert max(on) < READY_BY


async def test_replanned_when_the_limit_or_prices_change(
    sim: SimulatorServer, contract_client: Client
) -> None:
    sub = await current_sub(contract_client)
    before = starts(await schedules(contract_client, sub["id"]))
    reply = await contract_client.call(
        "PATCH", f"/v2/vehicles/{TESLA}", body={"maximum_charge_limit_percentage": 50}
    )
    assert reply.status == 200
    # 45 % -> 50 %: 3.75 kWh, two half-hours, still the cheapest ones.
    lower = starts(await schedules(contract_client, sub["id"]))
    assert len(lower) == 2
    assert set(lower) <= set(before)

    prices = sim.world.tariff.half_hourly_prices
    assert prices is not None
    sim.world.tariff.half_hourly_prices = [100] * 48
    sim.world.tariff.half_hourly_prices[40] = 1  # 20:00 local becomes the cheapest
    replanned = starts(await schedules(contract_client, sub["id"]))
    assert datetime(2026, 3, 10, 20, 0, tzinfo=UTC) in replanned
    assert replanned != lower


async def test_boost_is_one_open_ended_interval(contract_client: Client) -> None:
    smart = await current_sub(contract_client)
    sessions = (await contract_client.get("/v2/charging_sessions")).json()
    open_session = next(s for s in sessions if s["end"] is None)
    reply = await contract_client.call(
        "POST", f"/v2/charging_sessions/{open_session['id']}/boost_start"
    )
    assert reply.status == 200
    boost = await current_sub(contract_client)
    assert boost["mode"] == "BOOST"
    assert await schedules(contract_client, boost["id"]) == [
        {
            "started_at": "2026-03-10T10:00:00Z",
            "interval_seconds": None,
            "current_milliamps": 32000,
            "schedule_type": "BOOST",
        }
    ]
    # The smart sub-session ended with the boost: it plans nothing any more.
    assert await schedules(contract_client, smart["id"]) == []


async def test_filters_and_expand(contract_client: Client) -> None:
    sub = await current_sub(contract_client)
    path = f"/v2/charging_sub_sessions/{sub['id']}/schedules"
    window = await schedules(
        contract_client,
        sub["id"],
        "?started_at__gte=2026-03-10T12:00:00Z&started_at__lte=2026-03-10T13:00:00Z"
        "&only_most_recently_created=false",
    )
    assert [item["started_at"] for item in window] == [
        "2026-03-10T12:00:00Z",
        "2026-03-10T12:30:00Z",
        "2026-03-10T13:00:00Z",
    ]
    expanded = (await contract_client.get(f"{path}?expand=charging_sub_session")).json()
    assert expanded["charging_sub_session"]["id"] == sub["id"]
    assert expanded["url"].endswith(path)
    by_plan = f"{path}?schedule_plan_id=scpl01HSH04KDEWF6Z4DB2J77J74K5"
    assert (await contract_client.get(by_plan)).json()["schedules"] == []


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("?only_most_recently_created=maybe", 400),
        ("?schedule_plan_id=plan-1", 400),
        ("?started_at__gte=tonight", 400),
        ("?expand=schedule_plans", 400),
    ],
)
async def test_bad_parameters(contract_client: Client, query: str, status: int) -> None:
    sub = await current_sub(contract_client)
    reply = await contract_client.get(f"/v2/charging_sub_sessions/{sub['id']}/schedules{query}")
    assert reply.status == status


async def test_unknown_sub_session_and_missing_scope(
    sim: SimulatorServer, contract_client: Client
) -> None:
    unknown = "/v2/charging_sub_sessions/csub00000000000000000000000000/schedules"
    assert (await contract_client.get(unknown)).status == 404
    sub = await current_sub(contract_client)
    token = sim.issue_token(["vehicle:read"])["access_token"]
    reply = await contract_client.get(
        f"/v2/charging_sub_sessions/{sub['id']}/schedules", token=token
    )
    assert reply.status == 403
