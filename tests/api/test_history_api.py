"""Sub-session listing and energy usage: the requests sent, pagination, parsing, the spec."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
import json
from typing import Any

import pytest

from custom_components.ev_energy.api import (
    ChargingMode,
    ChargingSubSession,
    EnergyUsage,
    EvEnergyClient,
    EvEnergyResponseError,
)
from tests.openapi_spec import validate_request, validate_response

from .fake_api import NO_MORE_PAGES, FakeApi, Reply, load_fixture

VEHICLE_ID = "vhcl01HRFF3SEVSCRAV9B3CHVDFN0H"
OPEN_ID = "csub01HSH04KDEWF6Z4DB2J77J7AA1"
OVERNIGHT_ID = "csub01HSH04KDEWF6Z4DB2J77J7BB1"
SUBS_PATH = "/v2/charging_sub_sessions"


async def test_list_sub_sessions_sends_the_filters_and_follows_pages(
    client: EvEnergyClient, api: FakeApi
) -> None:
    """Filters go out as the spec names them; the Link header is followed to the end."""
    first, second = load_fixture("charging_sub_sessions.json")
    api.reply(
        "GET",
        SUBS_PATH,
        Reply(
            payload=[first],
            headers={"Link": f'<{api.link(SUBS_PATH)}?page_after={OPEN_ID}>; rel="next"'},
        ),
        Reply(payload=[second], headers={"Link": NO_MORE_PAGES}),
    )
    since = datetime(2026, 8, 24, 10, 0, tzinfo=UTC)

    subs = await client.async_get_sub_sessions(
        ended_after=since, is_finished=True, vehicle_id=VEHICLE_ID
    )

    assert [s.id for s in subs] == [OPEN_ID, OVERNIGHT_ID]
    assert api.requests[0].query == [
        ("page_size", "100"),
        ("end__gt", "2026-08-24T10:00:00+00:00"),
        ("is_finished", "true"),
        ("vehicle_id", VEHICLE_ID),
    ]
    assert api.requests[1].query == [("page_after", OPEN_ID)]
    for request in api.requests:
        validate_request("GET", f"{request.path}?{_qs(request.query)}", {"EvEnergy-Version": "2"})


def _qs(query: list[tuple[str, str]]) -> str:
    return "&".join(f"{k}={v.replace('+', '%2B')}" for k, v in query)


async def test_list_open_sub_sessions_only(client: EvEnergyClient, api: FakeApi) -> None:
    """`is_finished=False` asks for the open ones; no filter is sent that was not asked for."""
    api.reply("GET", SUBS_PATH, Reply(payload=[], headers={"Link": NO_MORE_PAGES}))
    assert await client.async_get_sub_sessions(is_finished=False) == []
    assert api.requests[0].query == [("page_size", "100"), ("is_finished", "false")]


async def test_sub_sessions_parse(client: EvEnergyClient, api: FakeApi) -> None:
    """The listed fields are read; an item without an id is skipped, not fatal."""
    payload = [*load_fixture("charging_sub_sessions.json"), {"mode": "SMART"}]
    api.reply("GET", SUBS_PATH, Reply(payload=payload))
    open_sub, overnight = await client.async_get_sub_sessions()
    assert open_sub == ChargingSubSession(
        id=OPEN_ID,
        vehicle_id=VEHICLE_ID,
        start=datetime(2026, 11, 22, 8, 0, tzinfo=UTC),
        end=None,
        mode=ChargingMode.SMART,
        energy_watt_hours=12400,
        cost_minor_units=198,
        currency="GBP",
        co2_grams=1860,
        co2_intensity_grams_per_kilowatt_hour=150,
    )
    assert not open_sub.is_finished
    assert overnight.is_finished


async def test_get_energy_usage(client: EvEnergyClient, api: FakeApi) -> None:
    """The intervals come back typed; the price keeps its decimal digits."""
    api.reply(
        "GET",
        f"{SUBS_PATH}/{OVERNIGHT_ID}/energy_usage",
        Reply(payload=load_fixture("energy_usage.json")),
    )
    usage = await client.async_get_energy_usage(OVERNIGHT_ID)
    assert usage.currency == "GBP"
    assert usage.last_updated_at == datetime(2026, 11, 22, 7, 5, tzinfo=UTC)
    assert len(usage.intervals) == 20
    charging = usage.intervals[7]
    assert charging.started_at == datetime(2026, 11, 22, 0, 30, tzinfo=UTC)
    assert charging.interval_seconds == 1800
    assert charging.energy_delivered_watt_hours == 3500
    assert charging.meter_usage_watt_hours == 3850
    assert charging.alt_usage_watt_hours == 0
    assert charging.percentage_import == 100
    assert charging.electricity_cost_sub_unit == Decimal("7.5")
    assert api.requests[0].query == []


async def test_energy_usage_that_is_not_an_object(client: EvEnergyClient, api: FakeApi) -> None:
    """A list where an object belongs is an unreadable response."""
    api.reply("GET", f"{SUBS_PATH}/{OVERNIGHT_ID}/energy_usage", Reply(payload=[]))
    with pytest.raises(EvEnergyResponseError):
        await client.async_get_energy_usage(OVERNIGHT_ID)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("21.3", Decimal("21.3")),
        ("-2.5", Decimal("-2.5")),
        (7, Decimal(7)),
        (7.25, Decimal("7.25")),
        ("NaN", None),
        ("Infinity", None),
        ("cheap", None),
        (True, None),
        (None, None),
        ({"price": "1"}, None),
    ],
)
def test_interval_price_parsing(value: Any, expected: Decimal | None) -> None:
    """Negative prices are real (plunge pricing); anything not a finite number is unknown."""
    usage = EnergyUsage.from_api({"intervals": [{"electricity_cost_sub_unit": value}]})
    assert usage.intervals[0].electricity_cost_sub_unit == expected


def test_interval_with_wrong_types_reads_as_unknowns() -> None:
    """Strings where integers belong, or booleans, become None rather than errors."""
    (interval,) = EnergyUsage.from_api(
        {
            "intervals": [
                {
                    "started_at": 5,
                    "interval_seconds": "1800",
                    "total_energy_delivered_watt_hours": True,
                    "meter_usage_watt_hours": None,
                }
            ]
        }
    ).intervals
    assert interval.started_at is None
    assert interval.interval_seconds is None
    assert interval.energy_delivered_watt_hours is None
    assert interval.meter_usage_watt_hours is None


@pytest.mark.parametrize(
    ("path", "fixture"),
    [
        (SUBS_PATH, "charging_sub_sessions.json"),
        (f"{SUBS_PATH}/{OVERNIGHT_ID}/energy_usage", "energy_usage.json"),
    ],
)
def test_fixtures_follow_the_spec(path: str, fixture: str) -> None:
    """The sample payloads the tests rely on are valid responses per the OpenAPI description."""
    validate_response(
        "GET",
        path,
        200,
        {"Content-Type": "application/json", "EvEnergy-Version": "2"},
        json.dumps(load_fixture(fixture)).encode(),
    )
