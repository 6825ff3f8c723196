"""The client's notification and reconnection calls against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

from datetime import UTC, datetime
import json

import pytest

from custom_components.ev_energy.api import (
    EvEnergyApiError,
    EvEnergyClient,
    EvEnergyResponseError,
    NotificationCategory,
)
from tests.openapi_spec import validate_request, validate_response

from .fake_api import NO_MORE_PAGES, FakeApi, Reply, load_fixture

SPEC_API = "https://api.ev.energy/v2"
VEHICLE_ID = "vhcl01HRFF3SEVSCRAV9B3CHVDFN1J"
NOTIFICATION_ID = "notf01HTHKTXVB77901324BCQPF1RB"


async def test_get_notifications_in_the_users_language(
    client: EvEnergyClient, api: FakeApi
) -> None:
    """One page of 100, texts asked for in Home Assistant's language; every field parsed."""
    api.reply(
        "GET",
        "/v2/notifications",
        Reply(payload=load_fixture("notifications.json"), headers={"Link": NO_MORE_PAGES}),
    )

    notifications = await client.async_get_notifications("de")

    request = api.requests[0]
    assert request.query == [("page_size", "100")]
    assert request.headers["Accept-Language"] == "de"
    first, second, third = notifications
    assert first.id == NOTIFICATION_ID
    assert first.category is NotificationCategory.ACTIONABLE
    assert first.title == "Your car is disconnected"
    assert first.body == "We need to reconnect to keep smart charging"
    assert first.external_link == "https://example.com/reconnect"
    assert first.event_time == datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
    assert first.read_at is None
    assert second.external_link is None
    assert third.read_at == datetime(2026, 11, 20, 12, 30, tzinfo=UTC)


async def test_get_notifications_without_a_language(client: EvEnergyClient, api: FakeApi) -> None:
    api.reply("GET", "/v2/notifications", Reply(payload=[]))
    assert await client.async_get_notifications() == []
    assert "Accept-Language" not in api.requests[0].headers


async def test_mark_notification_read(client: EvEnergyClient, api: FakeApi) -> None:
    """PATCH carries only read_at, in UTC."""
    api.reply("PATCH", f"/v2/notifications/{NOTIFICATION_ID}", Reply(payload={}))
    await client.async_mark_notification_read(
        NOTIFICATION_ID, datetime(2026, 11, 22, 10, 10, tzinfo=UTC)
    )
    assert api.requests[0].json() == {"read_at": "2026-11-22T10:10:00+00:00"}


async def test_reconnect_vehicle(client: EvEnergyClient, api: FakeApi) -> None:
    api.reply(
        "POST",
        f"/v2/vehicles/{VEHICLE_ID}/reconnect",
        Reply(
            status=201,
            payload={
                "url": "https://app.ev.energy/vehicle-onboarding/start/56091b3b",
                "expires_at": "2026-11-22T11:10:00Z",
            },
        ),
    )
    link = await client.async_reconnect_vehicle(VEHICLE_ID)
    assert link.url == "https://app.ev.energy/vehicle-onboarding/start/56091b3b"
    assert link.expires_at == datetime(2026, 11, 22, 11, 10, tzinfo=UTC)
    assert api.requests[0].method == "POST"


@pytest.mark.parametrize(
    "payload",
    [{}, {"url": "javascript:alert(1)"}, {"url": "https://a b"}, {"url": 5}, []],
)
async def test_reconnect_vehicle_without_a_usable_link(
    client: EvEnergyClient, api: FakeApi, payload: object
) -> None:
    """Only an http(s) link is ever handed on to be shown."""
    api.reply("POST", f"/v2/vehicles/{VEHICLE_ID}/reconnect", Reply(status=201, payload=payload))
    with pytest.raises(EvEnergyResponseError):
        await client.async_reconnect_vehicle(VEHICLE_ID)


async def test_reconnect_vehicle_forbidden(client: EvEnergyClient, api: FakeApi) -> None:
    api.reply(
        "POST",
        f"/v2/vehicles/{VEHICLE_ID}/reconnect",
        Reply(status=403, payload={"title": "Forbidden", "detail": "No.", "status": 403}),
    )
    with pytest.raises(EvEnergyApiError) as raised:
        await client.async_reconnect_vehicle(VEHICLE_ID)
    assert raised.value.status == 403


def test_requests_and_fixture_follow_the_spec() -> None:
    """The notifications fixture is a valid answer; the requests sent are valid requests."""
    headers = {
        "Content-Type": "application/json",
        "EvEnergy-Version": "2",
        "X-RateLimit-Limit": "1000",
        "X-RateLimit-Remaining": "999",
        "Link": NO_MORE_PAGES,
    }
    body = json.dumps(load_fixture("notifications.json")).encode()
    validate_response("GET", f"{SPEC_API}/notifications", 200, headers, body)
    validate_request("GET", f"{SPEC_API}/notifications?page_size=100", {"Accept-Language": "de"})
    patch = json.dumps({"read_at": "2026-11-22T10:10:00+00:00"}).encode()
    validate_request("PATCH", f"{SPEC_API}/notifications/{NOTIFICATION_ID}", {}, patch)
    validate_request("POST", f"{SPEC_API}/vehicles/{VEHICLE_ID}/reconnect")
