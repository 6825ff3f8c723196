"""The simulator's sub-sessions and energy usage: spec-valid, filtered, consistent with sessions."""

from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest

from simulator import SimulatorServer

from .conftest import EVSE, LEAF, START, TESLA, Client

SUBS = "/v2/charging_sub_sessions"


async def _all_subs(client: Client, query: str = "") -> list[dict[str, Any]]:
    return (await client.get(f"{SUBS}?page_size=100{query}")).json()  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?is_finished=false",
        "?is_finished=true&page_size=2",
        f"?end__gt=2026-03-07T00:00:00Z&vehicle_id={TESLA}",
        "?expand=energy_usage&expand=vehicle&expand=evse",
        f"?mode=SMART&evse_id={EVSE}&user_id=me&energy_delivered_watt_hours__gte=1",
        "?energy_delivered_watt_hours__lte=20000&start__gt=2026-03-01T00:00:00Z"
        "&start__lt=2026-03-10T00:00:00Z&end__lt=2026-03-10T00:00:00Z",
    ],
)
async def test_list_is_spec_valid(contract_client: Client, query: str) -> None:
    reply = await contract_client.get(SUBS + query)
    assert reply.status == 200
    assert reply.json()


async def test_energy_usage_is_spec_valid_for_every_sub_session(contract_client: Client) -> None:
    for sub in await _all_subs(contract_client):
        url = f"{SUBS}/{sub['id']}/energy_usage"
        for query in ("", "?merge_consecutive_intervals=true&energy_delivered_watt_hours__gt=0"):
            reply = await contract_client.get(url + query)
            assert reply.status == 200


async def test_get_one_is_spec_valid_and_as_listed(contract_client: Client) -> None:
    for sub in await _all_subs(contract_client):
        reply = await contract_client.get(f"{SUBS}/{sub['id']}")
        assert reply.json() == sub
    (open_sub,) = await _all_subs(contract_client, "&is_finished=false")
    expanded = await contract_client.get(f"{SUBS}/{open_sub['id']}?expand=energy_usage&expand=evse")
    assert expanded.json()["energy_usage"]["charging_sub_session"] == open_sub["url"]
    assert expanded.json()["evse"]["id"] == EVSE


async def test_sub_sessions_match_the_sessions(client: Client) -> None:
    """Every sub-session of every session is listed, newest first, with the same numbers."""
    sessions = (await client.get("/v2/charging_sessions?expand=sub_sessions")).json()
    embedded = {sub["id"]: sub for session in sessions for sub in session["sub_sessions"]}
    listed = await _all_subs(client)
    assert [sub["id"] for sub in listed] == sorted(embedded, reverse=True)
    for sub in listed:
        assert {k: v for k, v in sub.items() if k != "energy_usage"} == embedded[sub["id"]]
        assert sub["energy_usage"].endswith(f"/charging_sub_sessions/{sub['id']}/energy_usage")


async def test_intervals_add_up_and_tile_the_sub_session(client: Client) -> None:
    """Half-hour intervals from the sub-session's start, contiguous, summing to its energy."""
    for sub in await _all_subs(client):
        usage = (await client.get(f"{SUBS}/{sub['id']}/energy_usage")).json()
        intervals = usage["intervals"]
        if not intervals:  # the open sub-session starts at the frozen "now"
            assert (sub["end"], sub["energy_delivered_watt_hours"]) == (None, 0)
            continue
        starts = [datetime.fromisoformat(i["started_at"]) for i in intervals]
        assert starts[0] <= datetime.fromisoformat(sub["start"]) < starts[0] + timedelta(hours=0.5)
        assert all(b - a == timedelta(minutes=30) for a, b in pairwise(starts))
        total = sum(i["total_energy_delivered_watt_hours"] for i in intervals)
        # Each interval is rounded to the Wh on its own.
        assert abs(total - sub["energy_delivered_watt_hours"]) <= len(intervals)
        assert usage["currency"] == sub["currency"] == "GBP"
        expected_cost = sum(
            i["total_energy_delivered_watt_hours"] * float(i["electricity_cost_sub_unit"]) / 1000
            for i in intervals
        )
        assert abs(expected_cost - sub["cost"]) <= 1 + len(intervals) * 0.05


async def test_filters(client: Client) -> None:
    open_subs = await _all_subs(client, "&is_finished=false")
    assert [(s["vehicle"].rsplit("/", 1)[-1], s["end"]) for s in open_subs] == [(TESLA, None)]
    # An open sub-session has not ended after anything.
    ended = await _all_subs(client, "&end__gt=2000-01-01T00:00:00Z")
    assert ended
    assert all(s["end"] is not None for s in ended)
    assert len(ended) + len(open_subs) == len(await _all_subs(client))
    leaf = await _all_subs(client, f"&vehicle_id={LEAF}")
    assert [s["mode"] for s in leaf] == ["UNMANAGED_HOME"]
    assert [s["mode"] for s in await _all_subs(client, "&mode=BOOST")] == ["BOOST"]
    assert await _all_subs(client, "&user_id=user00000000000000000000000000") == []
    since = "2026-03-08T00:00:00Z"
    recent = await _all_subs(client, f"&end__gt={since}")
    assert recent
    assert all(s["end"] > since for s in recent)
    big = await _all_subs(client, "&energy_delivered_watt_hours__gte=21000")
    assert {s["energy_delivered_watt_hours"] for s in big} == {28000, 21000}


async def test_pagination_follows_link(client: Client) -> None:
    everything = await _all_subs(client)
    seen: list[str] = []
    url: str | None = f"{SUBS}?page_size=2"
    while url:
        reply = await client.get(url)
        seen += [s["id"] for s in reply.json()]
        link = reply.headers["Link"].split(",")[1].strip()
        target = link[1 : link.index(">")]
        url = None if target == "about:blank" else target
    assert seen == [s["id"] for s in everything]


async def test_open_sub_session_grows_interval_by_interval(
    sim: SimulatorServer, client: Client
) -> None:
    (open_sub,) = await _all_subs(client, "&is_finished=false")
    url = f"{SUBS}/{open_sub['id']}/energy_usage"
    before = (await client.get(url)).json()["intervals"]
    sim.clock.set(START + timedelta(hours=1))
    after = (await client.get(url)).json()["intervals"]
    assert len(after) == len(before) + 2
    assert [i["total_energy_delivered_watt_hours"] for i in after[-2:]] == [3600, 3600]


async def test_merged_and_filtered_intervals(client: Client) -> None:
    """Merging joins runs of charging; `__gt=0` leaves only the charging windows."""
    (boost,) = await _all_subs(client, "&mode=BOOST")
    url = f"{SUBS}/{boost['id']}/energy_usage"
    query = "merge_consecutive_intervals=true&energy_delivered_watt_hours__gt=0"
    (window,) = (await client.get(f"{url}?{query}")).json()["intervals"]
    assert window["total_energy_delivered_watt_hours"] == 3500
    plain = (await client.get(url)).json()["intervals"]
    assert window["interval_seconds"] == 1800 * sum(
        1 for i in plain if i["total_energy_delivered_watt_hours"] > 0
    )


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (f"{SUBS}/csub00000000000000000000000000/energy_usage", 404),
        (f"{SUBS}/csub00000000000000000000000000", 404),
        (f"{SUBS}/csub00000000000000000000000000?expand=schedules", 400),
        (f"{SUBS}?is_finished=maybe", 400),
        (f"{SUBS}?mode=TURBO", 400),
        (f"{SUBS}?end__gt=yesterday", 400),
        (f"{SUBS}?energy_delivered_watt_hours__gte=lots", 400),
        (f"{SUBS}?expand=tariff", 400),
        (f"{SUBS}?page_after=nope", 400),
    ],
)
async def test_errors(contract_client: Client, path: str, status: int) -> None:
    reply = await contract_client.get(path)
    assert reply.status == status
    assert reply.json()["status"] == status


async def test_needs_the_charging_session_scope(sim: SimulatorServer, client: Client) -> None:
    token = sim.issue_token(["vehicle:read"])["access_token"]
    assert (await client.get(SUBS, token=token)).status == 403
