"""EvEnergyClient against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
import json
import logging
import socket
from typing import Any

import aiohttp
from aiohttp import web
import pytest

from custom_components.ev_energy.api import (
    EvEnergyApiError,
    EvEnergyAuthError,
    EvEnergyClient,
    EvEnergyConnectionError,
    EvEnergyError,
    EvEnergyRateLimitError,
    EvEnergyResponseError,
    IntegrationStatus,
    StaticTokenAuth,
    client as client_module,
)

from .fake_api import NO_MORE_PAGES, PROBLEM_JSON, FakeApi, FakeAuth, FakeClock, Reply, load_fixture

USER_ID = "user01HN2NJ9NMRZBXT1H6FT9N7735"
TARIFF_ID = "tari01HN2NJ9NMRZBXT1H6FT9N7735"
VEHICLE_ID = "vhcl01HRFF3SEVSCRAV9B3CHVDFN0H"
EVSE_ID = "evse01HSH04KDEWF6Z4DB2J77J74K5"
SUB_SESSION_ID = "csub01HSH04KDEWF6Z4DB2J77J7AA1"

VEHICLE_QUERY = [
    ("expand", "latest_status_log"),
    ("expand", "trim.model.make"),
    ("page_size", "100"),
]
EVSE_QUERY = [("expand", "latest_status_log"), ("expand", "model.make"), ("page_size", "100")]
VEHICLES_QS = "expand=latest_status_log&expand=trim.model.make&page_size=100"

type Call = Callable[[EvEnergyClient], Awaitable[object]]


def next_link(url: str) -> dict[str, str]:
    """A Link header pointing at `url` as the next page."""
    return {"Link": f'<{url}>; rel="next", <about:blank>; rel="previous"'}


def vehicle(vehicle_id: str) -> dict[str, Any]:
    """A minimal vehicle payload."""
    return {"id": vehicle_id, "integrated": "ACTIVE", "latest_status_log": None}


# --- every public method sends the documented request ------------------------------------


REQUEST_CASES: list[tuple[str, Call, str, str, list[tuple[str, str]], str]] = [
    ("current_user", lambda c: c.async_get_current_user(), "GET", "/v2/users",
     [("page_size", "1")], "users.json"),
    ("user", lambda c: c.async_get_user(USER_ID), "GET", f"/v2/users/{USER_ID}",
     [("expand", "default_location.tariff")], "user.json"),
    ("vehicles", lambda c: c.async_get_vehicles(), "GET", "/v2/vehicles",
     VEHICLE_QUERY, "vehicles.json"),
    ("evses", lambda c: c.async_get_evses(), "GET", "/v2/evses", EVSE_QUERY, "evses.json"),
    ("tariff", lambda c: c.async_get_tariff(TARIFF_ID), "GET", f"/v2/tariffs/{TARIFF_ID}",
     [], "tariff.json"),
    ("charge_limit", lambda c: c.async_set_charge_limit(VEHICLE_ID, 80), "PATCH",
     f"/v2/vehicles/{VEHICLE_ID}", VEHICLE_QUERY[:2], "vehicles.json"),
    ("schedules", lambda c: c.async_get_schedules(SUB_SESSION_ID), "GET",
     f"/v2/charging_sub_sessions/{SUB_SESSION_ID}/schedules",
     [("only_most_recently_created", "true")], "schedules.json"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("call", "method", "path", "query", "fixture"),
    [case[1:] for case in REQUEST_CASES],
    ids=[case[0] for case in REQUEST_CASES],
)
async def test_request_shape(
    client: EvEnergyClient,
    api: FakeApi,
    call: Call,
    method: str,
    path: str,
    query: list[tuple[str, str]],
    fixture: str,
) -> None:
    """Method, path, exploded `expand` query, bearer token and API version on every call."""
    payload = load_fixture(fixture)
    if method == "PATCH":
        payload = payload[0]
    api.reply(method, path, Reply(payload=payload, headers={"Link": NO_MORE_PAGES}))

    await call(client)

    assert len(api.requests) == 1
    request = api.requests[0]
    assert (request.method, request.path, request.query) == (method, path, query)
    assert request.headers["Authorization"] == "Bearer token-1"
    assert request.headers["EvEnergy-Version"] == "2"
    assert request.headers["Accept"] == "application/json"


async def test_set_charge_limit_sends_json_body_and_returns_vehicle(
    client: EvEnergyClient, api: FakeApi
) -> None:
    """PATCH carries exactly the charge limit as JSON and the response is parsed."""
    updated = {**load_fixture("vehicles.json")[0], "maximum_charge_limit_percentage": 90}
    api.reply("PATCH", f"/v2/vehicles/{VEHICLE_ID}", Reply(payload=updated))

    result = await client.async_set_charge_limit(VEHICLE_ID, 90)

    request = api.requests[0]
    assert request.headers["Content-Type"].startswith("application/json")
    assert request.json() == {"maximum_charge_limit_percentage": 90}
    assert type(request.json()["maximum_charge_limit_percentage"]) is int
    assert result.id == VEHICLE_ID
    assert result.maximum_charge_limit_percentage == 90


@pytest.mark.parametrize("percentage", [50, 100])
async def test_set_charge_limit_accepts_the_bounds(
    client: EvEnergyClient, api: FakeApi, percentage: int
) -> None:
    """50 and 100 are both allowed."""
    api.reply("PATCH", f"/v2/vehicles/{VEHICLE_ID}", Reply(payload=vehicle(VEHICLE_ID)))
    await client.async_set_charge_limit(VEHICLE_ID, percentage)
    assert api.requests[0].json() == {"maximum_charge_limit_percentage": percentage}


@pytest.mark.parametrize("percentage", [49, 101, 0, -80, True, False, 80.5, "80", None])
async def test_set_charge_limit_rejects_invalid_values_before_sending(
    client: EvEnergyClient, api: FakeApi, percentage: Any
) -> None:
    """Out-of-range, boolean and non-integer values raise ValueError and nothing is sent."""
    with pytest.raises(ValueError, match=r"50\.\.100"):
        await client.async_set_charge_limit(VEHICLE_ID, percentage)
    assert api.hits() == 0
    assert client.request_count == 0


async def test_set_charge_limit_never_sends_a_float(client: EvEnergyClient, api: FakeApi) -> None:
    """A float must be rejected (or sent as an int), never put on the wire as 80.0."""
    api.reply("PATCH", f"/v2/vehicles/{VEHICLE_ID}", Reply(payload=vehicle(VEHICLE_ID)))
    try:
        await client.async_set_charge_limit(VEHICLE_ID, 80.0)  # type: ignore[arg-type]
    except ValueError:
        assert api.hits() == 0
        return
    assert type(api.requests[0].json()["maximum_charge_limit_percentage"]) is int


async def test_api_url_with_trailing_slash(
    session: aiohttp.ClientSession, auth: FakeAuth, api: FakeApi
) -> None:
    """A trailing slash on the host root does not double the path separator."""
    api.reply("GET", f"/v2/tariffs/{TARIFF_ID}", Reply(payload=load_fixture("tariff.json")))
    client = EvEnergyClient(session, auth, api_url=api.url.rstrip("/") + "/")
    await client.async_get_tariff(TARIFF_ID)
    assert api.requests[0].path == f"/v2/tariffs/{TARIFF_ID}"


# --- parsed results -----------------------------------------------------------------------


async def test_get_current_user(client: EvEnergyClient, api: FakeApi) -> None:
    """The first listed user is the token's user; its tariff is a URL reference."""
    api.reply("GET", "/v2/users", Reply(payload=load_fixture("users.json")))
    user = await client.async_get_current_user()
    assert user.id == USER_ID
    assert user.email == "frodo@example.com"
    assert user.tariff_id == TARIFF_ID


async def test_get_current_user_reads_only_one_page(client: EvEnergyClient, api: FakeApi) -> None:
    """Only the first user matters, so a next link is not followed."""
    api.reply(
        "GET",
        "/v2/users",
        Reply(payload=load_fixture("users.json"), headers=next_link(api.link("/v2/users?p=2"))),
    )
    await client.async_get_current_user()
    assert api.hits() == 1


async def test_get_current_user_without_users(client: EvEnergyClient, api: FakeApi) -> None:
    """An empty user list is an unreadable answer."""
    api.reply("GET", "/v2/users", Reply(payload=[]))
    with pytest.raises(EvEnergyResponseError, match="any user"):
        await client.async_get_current_user()


async def test_get_user(client: EvEnergyClient, api: FakeApi) -> None:
    """The single-user GET has the expanded LocationDetail."""
    api.reply("GET", f"/v2/users/{USER_ID}", Reply(payload=load_fixture("user.json")))
    user = await client.async_get_user(USER_ID)
    assert user.tariff_id == TARIFF_ID
    assert user.country_code == "GB"
    assert user.carbon_intensity_grams_per_kilowatt_hour == 182


async def test_get_vehicles(client: EvEnergyClient, api: FakeApi) -> None:
    """Vehicles are parsed in order."""
    api.reply("GET", "/v2/vehicles", Reply(payload=load_fixture("vehicles.json")))
    vehicles = await client.async_get_vehicles()
    assert [v.id for v in vehicles] == [VEHICLE_ID, "vhcl01HRFF3SEVSCRAV9B3CHVDFN1J"]
    assert vehicles[0].integrated is IntegrationStatus.ACTIVE
    assert vehicles[1].status is None


async def test_get_evses(client: EvEnergyClient, api: FakeApi) -> None:
    """Chargers are parsed."""
    api.reply("GET", "/v2/evses", Reply(payload=load_fixture("evses.json")))
    evses = await client.async_get_evses()
    assert [e.id for e in evses] == [EVSE_ID]
    assert evses[0].status is not None
    assert evses[0].status.charge_rate_watts == 7180


async def test_get_tariff(client: EvEnergyClient, api: FakeApi) -> None:
    """The tariff carries its current price in minor units."""
    api.reply("GET", f"/v2/tariffs/{TARIFF_ID}", Reply(payload=load_fixture("tariff.json")))
    tariff = await client.async_get_tariff(TARIFF_ID)
    assert (tariff.id, tariff.currency, tariff.current_price_minor_units) == (TARIFF_ID, "GBP", 24)


# --- pagination -----------------------------------------------------------------------------


async def test_pagination_across_three_pages(client: EvEnergyClient, api: FakeApi) -> None:
    """Absolute and relative next links are followed until `about:blank`."""
    page1 = load_fixture("vehicles.json")
    page2 = load_fixture("vehicles_page2.json")
    page3 = [vehicle("vhcl01HRFF3SEVSCRAV9B3CHVDFN3M")]
    api.reply(
        "GET",
        "/v2/vehicles",
        Reply(payload=page1, headers=next_link(api.link(f"/v2/vehicles?{VEHICLES_QS}&page=2"))),
        Reply(payload=page2, headers=next_link(f"/v2/vehicles?{VEHICLES_QS}&page=3")),
        Reply(payload=page3, headers={"Link": NO_MORE_PAGES}),
    )

    vehicles = await client.async_get_vehicles()

    assert [v.id for v in vehicles] == [
        VEHICLE_ID,
        "vhcl01HRFF3SEVSCRAV9B3CHVDFN1J",
        "vhcl01HRFF3SEVSCRAV9B3CHVDFN2K",
        "vhcl01HRFF3SEVSCRAV9B3CHVDFN3M",
    ]
    assert [r.query for r in api.requests] == [
        VEHICLE_QUERY,
        [*VEHICLE_QUERY, ("page", "2")],
        [*VEHICLE_QUERY, ("page", "3")],
    ]
    assert all(r.authorization == "Bearer token-1" for r in api.requests)
    assert client.request_count == 3


@pytest.mark.parametrize(
    "headers",
    [
        {"Link": NO_MORE_PAGES},
        {"Link": '<about:blank>; rel="next"'},
        {"Link": '</v2/evses?page=0>; rel="previous"'},
        {},
    ],
    ids=["about-blank-both", "about-blank-next", "previous-only", "no-link-header"],
)
async def test_no_next_page(client: EvEnergyClient, api: FakeApi, headers: dict[str, str]) -> None:
    """Without a usable next link only one page is read."""
    api.reply("GET", "/v2/evses", Reply(payload=load_fixture("evses.json"), headers=headers))
    assert len(await client.async_get_evses()) == 1
    assert api.hits() == 1


async def test_pagination_loop_stops_without_rerequesting(
    client: EvEnergyClient, api: FakeApi, caplog: pytest.LogCaptureFixture
) -> None:
    """Page 2 linking back to page 1 ends the listing: no error, no page read twice."""
    first = api.link(f"/v2/vehicles?{VEHICLES_QS}")
    api.reply(
        "GET",
        "/v2/vehicles",
        Reply(
            payload=[vehicle("vhcl1")],
            headers=next_link(api.link(f"/v2/vehicles?{VEHICLES_QS}&page=2")),
        ),
        Reply(payload=[vehicle("vhcl2")], headers=next_link(first)),
        Reply(payload=[vehicle("vhcl-again")], headers={"Link": NO_MORE_PAGES}),
    )

    vehicles = await client.async_get_vehicles()

    assert [v.id for v in vehicles] == ["vhcl1", "vhcl2"]
    assert api.hits() == 2
    assert "loops back" in caplog.text


async def test_pagination_self_link(client: EvEnergyClient, api: FakeApi) -> None:
    """A page naming itself as next is read once."""
    api.reply(
        "GET",
        "/v2/vehicles",
        Reply(payload=[vehicle("vhcl1")], headers=next_link(f"/v2/vehicles?{VEHICLES_QS}")),
    )
    assert [v.id for v in await client.async_get_vehicles()] == ["vhcl1"]
    assert api.hits() == 1


async def test_pagination_is_bounded(
    client: EvEnergyClient, api: FakeApi, caplog: pytest.LogCaptureFixture
) -> None:
    """An endless chain of new pages stops at MAX_PAGES requests with a warning."""

    async def endless(request: web.Request) -> web.StreamResponse:
        page = int(request.query.get("page", "1"))
        return web.json_response(
            [vehicle(f"vhcl{page}")],
            headers=next_link(f"/v2/vehicles?{VEHICLES_QS}&page={page + 1}"),
        )

    api.reply("GET", "/v2/vehicles", endless)

    vehicles = await client.async_get_vehicles()

    assert client_module.MAX_PAGES == 50
    assert api.hits() == 50
    assert len(vehicles) == 50
    assert "Stopped reading /v2/vehicles after 50 pages" in caplog.text


async def test_link_to_another_origin_is_not_followed(
    client: EvEnergyClient, api: FakeApi, other_host: FakeApi, caplog: pytest.LogCaptureFixture
) -> None:
    """A next link to another host:port is ignored, so the token never goes there."""
    api.reply(
        "GET",
        "/v2/vehicles",
        Reply(
            payload=[vehicle("vhcl1")],
            headers=next_link(other_host.link(f"/v2/vehicles?{VEHICLES_QS}&page=2")),
        ),
    )
    other_host.reply("GET", "/v2/vehicles", Reply(payload=[vehicle("stolen")]))

    vehicles = await client.async_get_vehicles()

    assert [v.id for v in vehicles] == ["vhcl1"]
    assert api.hits() == 1
    assert other_host.requests == []
    assert "not on the API's origin" in caplog.text


@pytest.mark.parametrize(
    "target",
    [
        "https://{hostport}/v2/vehicles?page=2",
        "http://evil.example/v2/vehicles?page=2",
        "//evil.example/v2/vehicles?page=2",
    ],
    ids=["other-scheme", "other-host", "scheme-relative"],
)
async def test_other_origin_forms_are_not_followed(
    client: EvEnergyClient, api: FakeApi, target: str
) -> None:
    """Scheme changes and scheme-relative links to another host are refused too."""
    hostport = api.link("").split("://", 1)[1]
    api.reply(
        "GET",
        "/v2/vehicles",
        Reply(payload=[vehicle("vhcl1")], headers=next_link(target.format(hostport=hostport))),
    )
    assert [v.id for v in await client.async_get_vehicles()] == ["vhcl1"]
    assert client.request_count == 1


@pytest.mark.parametrize(
    "target",
    [
        "file:///etc/passwd",
        "mailto:x",
        "http://[::1",
        "//[::1",
        "http://{hostport}:x/v2/vehicles",
        "ftp://{hostport}/v2/vehicles?page=2",
        "javascript:alert(1)",
    ],
    ids=["file", "mailto", "broken-ipv6", "relative-garbage", "bad-port", "ftp", "javascript"],
)
async def test_unusable_next_link_is_ignored_with_one_warning(
    client: EvEnergyClient, api: FakeApi, caplog: pytest.LogCaptureFixture, target: str
) -> None:
    """A next link that is not http(s) on the API's origin ends paging, whatever its form.

    The items read so far are kept, nothing is raised, and repeated polls warn only once.
    """
    hostport = api.link("").split("://", 1)[1].rstrip("/")
    api.reply(
        "GET",
        "/v2/vehicles",
        Reply(payload=[vehicle("vhcl1")], headers=next_link(target.format(hostport=hostport))),
    )

    for _ in range(3):
        assert [v.id for v in await client.async_get_vehicles()] == ["vhcl1"]

    assert api.hits() == 3
    warnings = [
        r
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.name == client_module.__name__
    ]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert warnings[0].exc_info is None
    assert "pagination link" in warnings[0].getMessage()


async def test_each_distinct_unusable_link_warns_once(
    client: EvEnergyClient, api: FakeApi, caplog: pytest.LogCaptureFixture
) -> None:
    """Two different bad targets are two warnings; repeating either adds none."""
    api.reply(
        "GET",
        "/v2/vehicles",
        *[
            Reply(payload=[vehicle("vhcl1")], headers=next_link(target))
            for target in ("mailto:a", "mailto:b", "mailto:a", "mailto:b")
        ],
    )
    for _ in range(4):
        await client.async_get_vehicles()
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.name == client_module.__name__
    ]
    assert len(warnings) == 2
    assert "'mailto:a'" in warnings[0]
    assert "'mailto:b'" in warnings[1]


async def test_bad_link_warnings_are_bounded(
    client: EvEnergyClient, api: FakeApi, caplog: pytest.LogCaptureFixture
) -> None:
    """A server inventing a new bad target on every poll cannot flood the log."""
    polls = client_module.MAX_REPORTED_LINKS + 5
    api.reply(
        "GET",
        "/v2/vehicles",
        *[
            Reply(payload=[vehicle("vhcl1")], headers=next_link(f"mailto:{poll}"))
            for poll in range(polls)
        ],
    )
    for _ in range(polls):
        assert [v.id for v in await client.async_get_vehicles()] == ["vhcl1"]
    warnings = [r for r in caplog.records if r.name == client_module.__name__]
    assert len(warnings) == client_module.MAX_REPORTED_LINKS == 20


async def test_redirects_are_not_followed(
    client: EvEnergyClient, api: FakeApi, other_host: FakeApi
) -> None:
    """A redirect is not followed (it would carry the token elsewhere)."""
    api.reply(
        "GET",
        f"/v2/tariffs/{TARIFF_ID}",
        Reply(status=302, body=b"", headers={"Location": other_host.link("/steal")}),
    )
    with pytest.raises(EvEnergyError):
        await client.async_get_tariff(TARIFF_ID)
    assert other_host.requests == []


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(
            [("Link", '<about:blank>; rel="previous"'), ("Link", '<{next}>; rel="next"')],
            id="separate-link-field-lines",
        ),
        pytest.param(
            [("Link", "<about:blank>; rel=previous, <{next}>; rel=next")],
            id="unquoted-rel",
        ),
        pytest.param([("Link", '<{next}>; title="page 2"; rel="next"')], id="param-before-rel"),
    ],
)
async def test_link_header_variants(
    client: EvEnergyClient, api: FakeApi, headers: list[tuple[str, str]]
) -> None:
    """Every valid spelling of a next link leads to page 2."""
    page2 = api.link(f"/v2/vehicles?{VEHICLES_QS}&page=2")
    api.reply(
        "GET",
        "/v2/vehicles",
        Reply(
            payload=[vehicle("vhcl1")],
            headers=[(name, value.replace("{next}", page2)) for name, value in headers],
        ),
        Reply(payload=[vehicle("vhcl2")], headers={"Link": NO_MORE_PAGES}),
    )
    assert [v.id for v in await client.async_get_vehicles()] == ["vhcl1", "vhcl2"]


async def test_list_endpoint_returning_an_object(client: EvEnergyClient, api: FakeApi) -> None:
    """A list resource that answers with an object is unreadable."""
    api.reply("GET", "/v2/vehicles", Reply(payload={"results": []}))
    with pytest.raises(EvEnergyResponseError, match="expected a list from /v2/vehicles"):
        await client.async_get_vehicles()


async def test_later_page_returning_an_object(client: EvEnergyClient, api: FakeApi) -> None:
    """The list check applies to every page, not only the first."""
    api.reply(
        "GET",
        "/v2/evses",
        Reply(payload=[], headers=next_link("/v2/evses?page=2")),
        Reply(payload={"detail": "oops"}),
    )
    with pytest.raises(EvEnergyResponseError):
        await client.async_get_evses()


async def test_error_on_a_later_page(client: EvEnergyClient, api: FakeApi) -> None:
    """An error status on page 2 fails the whole listing."""
    api.reply(
        "GET",
        "/v2/evses",
        Reply(payload=load_fixture("evses.json"), headers=next_link("/v2/evses?page=2")),
        Reply(status=503, body=b"down", content_type="text/plain"),
    )
    with pytest.raises(EvEnergyApiError) as err:
        await client.async_get_evses()
    assert err.value.status == 503


async def test_items_without_an_id_are_skipped(
    client: EvEnergyClient, api: FakeApi, caplog: pytest.LogCaptureFixture
) -> None:
    """Unreadable list items are skipped with a warning; the rest survive."""
    api.reply(
        "GET",
        "/v2/vehicles",
        Reply(
            payload=[
                {"description": "no id"},
                vehicle("vhcl1"),
                {"id": ""},
                {"id": 5},
                "just a string",
                None,
                vehicle("vhcl2"),
            ]
        ),
    )
    vehicles = await client.async_get_vehicles()
    assert [v.id for v in vehicles] == ["vhcl1", "vhcl2"]
    assert caplog.text.count("Skipping an unreadable item") == 5


async def test_evse_items_without_an_id_are_skipped(client: EvEnergyClient, api: FakeApi) -> None:
    """The same tolerance applies to chargers."""
    api.reply("GET", "/v2/evses", Reply(payload=[{"cpid": "X"}, *load_fixture("evses.json")]))
    assert [e.id for e in await client.async_get_evses()] == [EVSE_ID]


# --- authentication -----------------------------------------------------------------------


async def test_401_invalidates_the_token_and_retries_once(
    client: EvEnergyClient, api: FakeApi, auth: FakeAuth
) -> None:
    """A refused token is invalidated and the request retried with the fresh token."""
    api.reply(
        "GET",
        f"/v2/tariffs/{TARIFF_ID}",
        Reply(
            status=401, payload={"title": "Unauthorized", "status": 401}, content_type=PROBLEM_JSON
        ),
        Reply(payload=load_fixture("tariff.json")),
    )

    tariff = await client.async_get_tariff(TARIFF_ID)

    assert tariff.id == TARIFF_ID
    assert auth.invalidations == 1
    assert [r.authorization for r in api.requests] == ["Bearer token-1", "Bearer token-2"]
    assert client.request_count == 2


async def test_concurrent_401s_report_the_token_they_were_refused_with(
    client: EvEnergyClient, api: FakeApi, auth: FakeAuth
) -> None:
    """Requests refused together name the token they sent, so the source renews it once."""
    refused_together = 5
    arrived = 0
    all_arrived = asyncio.Event()

    async def tariff(request: web.Request) -> web.StreamResponse:
        nonlocal arrived
        if request.headers["Authorization"] == "Bearer token-2":
            return web.json_response(load_fixture("tariff.json"))
        arrived += 1
        if arrived == refused_together:
            all_arrived.set()
        await all_arrived.wait()
        return web.Response(status=401)

    api.reply("GET", f"/v2/tariffs/{TARIFF_ID}", tariff)

    tariffs = await asyncio.gather(
        *(client.async_get_tariff(TARIFF_ID) for _ in range(refused_together))
    )

    assert [t.id for t in tariffs] == [TARIFF_ID] * refused_together
    assert auth.refused == ["token-1"] * refused_together
    assert auth.invalidations == 1
    assert [r.authorization for r in api.requests].count("Bearer token-2") == refused_together


async def test_401_retry_resends_the_patch_body(
    client: EvEnergyClient, api: FakeApi, auth: FakeAuth
) -> None:
    """The retried PATCH carries the same body and the new token."""
    api.reply(
        "PATCH",
        f"/v2/vehicles/{VEHICLE_ID}",
        Reply(status=401, body=b""),
        Reply(payload=vehicle(VEHICLE_ID)),
    )
    await client.async_set_charge_limit(VEHICLE_ID, 75)
    assert [(r.authorization, r.json()) for r in api.requests] == [
        ("Bearer token-1", {"maximum_charge_limit_percentage": 75}),
        ("Bearer token-2", {"maximum_charge_limit_percentage": 75}),
    ]


async def test_401_after_a_fresh_token_is_an_api_error(
    client: EvEnergyClient, api: FakeApi, auth: FakeAuth
) -> None:
    """A freshly renewed token refused again is an API fault, not a reason to sign in again.

    Only the token source's refusal (a refused refresh) is an auth error; no third attempt.
    """
    api.reply("GET", "/v2/evses", Reply(status=401, body=b""))
    with pytest.raises(EvEnergyApiError) as err:
        await client.async_get_evses()
    assert not isinstance(err.value, EvEnergyAuthError)
    assert err.value.status == 401
    assert auth.invalidations == 1
    assert api.hits() == 2


async def test_static_token_cannot_refresh(session: aiohttp.ClientSession, api: FakeApi) -> None:
    """A static token cannot be renewed: its refusal is an auth error, with no retry."""
    client = EvEnergyClient(session, StaticTokenAuth("fixed"), api_url=api.url)
    api.reply("GET", "/v2/users", Reply(status=401, body=b""))
    with pytest.raises(EvEnergyAuthError):
        await client.async_get_current_user()
    assert [r.authorization for r in api.requests] == ["Bearer fixed"]


async def test_token_error_propagates_without_a_request(
    session: aiohttp.ClientSession, api: FakeApi
) -> None:
    """When no token can be had, nothing is sent or counted."""

    class RefusingAuth(FakeAuth):
        async def async_get_access_token(self) -> str:
            raise EvEnergyAuthError("refresh refused")

    client = EvEnergyClient(session, RefusingAuth(), api_url=api.url)
    with pytest.raises(EvEnergyAuthError, match="refresh refused"):
        await client.async_get_tariff(TARIFF_ID)
    assert api.hits() == 0
    assert client.request_count == 0


# --- rate limiting ------------------------------------------------------------------------


def rate_limited(retry_after: str | None) -> Reply:
    """A 429 problem with an optional Retry-After header."""
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return Reply(
        status=429,
        payload={"title": "Too many requests", "status": 429},
        content_type=PROBLEM_JSON,
        headers={**headers, "X-RateLimit-Limit": "1000", "X-RateLimit-Remaining": "0"},
    )


async def test_429_blocks_until_retry_after_passes(
    client: EvEnergyClient, api: FakeApi, clock: FakeClock
) -> None:
    """After a 429 nothing is sent until Retry-After has passed, then requests flow again."""
    path = f"/v2/tariffs/{TARIFF_ID}"
    api.reply("GET", path, rate_limited("30"), Reply(payload=load_fixture("tariff.json")))

    with pytest.raises(EvEnergyRateLimitError) as first:
        await client.async_get_tariff(TARIFF_ID)
    assert first.value.retry_after == 30
    assert str(first.value) == "Rate limited, retry after 30 s"
    assert api.hits() == 1

    clock.advance(10)
    with pytest.raises(EvEnergyRateLimitError) as blocked:
        await client.async_get_tariff(TARIFF_ID)
    assert blocked.value.retry_after == pytest.approx(20)
    # Every endpoint is blocked, writes included, and blocked calls are not requests.
    with pytest.raises(EvEnergyRateLimitError):
        await client.async_set_charge_limit(VEHICLE_ID, 80)
    clock.advance(19.9)
    with pytest.raises(EvEnergyRateLimitError) as still_blocked:
        await client.async_get_vehicles()
    assert still_blocked.value.retry_after == pytest.approx(0.1)
    assert api.hits() == 1
    assert client.request_count == 1

    clock.advance(0.1)
    assert (await client.async_get_tariff(TARIFF_ID)).id == TARIFF_ID
    assert api.hits() == 2
    assert client.rate_limit_remaining == 0


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, 60.0),
        ("garbage", 60.0),
        ("", 60.0),
        ("-5", 60.0),
        ("nan", 60.0),
        ("Wed, 21 Oct 2026 07:28:00 GMT", 60.0),
        ("86400", 3600.0),
        ("1e400", 3600.0),
        ("12.5", 12.5),
        (" 7 ", 7.0),
        ("0", 0.0),
    ],
    ids=[
        "missing", "garbage", "empty", "negative", "nan", "http-date", "huge", "infinite",
        "fraction", "whitespace", "zero",
    ],
)  # fmt: skip
async def test_retry_after_values(
    client: EvEnergyClient,
    api: FakeApi,
    clock: FakeClock,
    header: str | None,
    expected: float,
) -> None:
    """Unusable Retry-After values fall back to 60 s; honest ones are capped at an hour."""
    path = f"/v2/tariffs/{TARIFF_ID}"
    api.reply("GET", path, rate_limited(header), Reply(payload=load_fixture("tariff.json")))

    with pytest.raises(EvEnergyRateLimitError) as err:
        await client.async_get_tariff(TARIFF_ID)
    assert err.value.retry_after == expected

    if expected > 0:
        clock.advance(expected - 0.001)
        with pytest.raises(EvEnergyRateLimitError):
            await client.async_get_tariff(TARIFF_ID)
        clock.advance(0.001)
    await client.async_get_tariff(TARIFF_ID)
    assert api.hits() == 2


async def test_429_after_a_401_retry(client: EvEnergyClient, api: FakeApi, auth: FakeAuth) -> None:
    """A 429 answering the retried request is still a rate-limit error."""
    api.reply("GET", "/v2/evses", Reply(status=401, body=b""), rate_limited("5"))
    with pytest.raises(EvEnergyRateLimitError) as err:
        await client.async_get_evses()
    assert err.value.retry_after == 5
    assert auth.invalidations == 1


# --- error bodies -------------------------------------------------------------------------


async def test_problem_with_field_errors(client: EvEnergyClient, api: FakeApi) -> None:
    """A 400 validation problem surfaces its field errors as the message."""
    problem = {
        "type": "https://api.ev.energy/v2/problems/validation-failed/",
        "title": "Request failed validation.",
        "status": 400,
        "detail": "Error on fields: maximum_charge_limit_percentage",
        "field_errors": {
            "maximum_charge_limit_percentage": ["Ensure this value is less than or equal to 100."]
        },
    }
    api.reply(
        "PATCH",
        f"/v2/vehicles/{VEHICLE_ID}",
        Reply(status=400, payload=problem, content_type=PROBLEM_JSON),
    )

    with pytest.raises(EvEnergyApiError) as err:
        await client.async_set_charge_limit(VEHICLE_ID, 100)

    message = "maximum_charge_limit_percentage: Ensure this value is less than or equal to 100."
    assert err.value.status == 400
    assert err.value.problem.message == message
    assert err.value.problem.title == "Request failed validation."
    assert err.value.problem.type == problem["type"]
    assert str(err.value) == f"HTTP 400: {message}"


@pytest.mark.parametrize(
    ("status", "reply", "message"),
    [
        (404, Reply(status=404, payload={"title": "Not found.", "detail": "No such tariff."},
                    content_type=PROBLEM_JSON), "No such tariff."),
        (403, Reply(status=403, payload={"title": "Forbidden"}, content_type=PROBLEM_JSON),
         "Forbidden"),
        (500, Reply(status=500, body=b"<html>Internal Server Error</html>",
                    content_type="text/html"), "HTTP 500"),
        (502, Reply(status=502, body=b"", content_type="text/plain"), "HTTP 502"),
        (503, Reply(status=503, payload=["not", "a", "problem"]), "HTTP 503"),
    ],
    ids=["detail", "title-only", "html-500", "empty-502", "list-503"],
)  # fmt: skip
async def test_error_statuses(
    client: EvEnergyClient, api: FakeApi, status: int, reply: Reply, message: str
) -> None:
    """Error statuses raise EvEnergyApiError whatever the body looks like."""
    api.reply("GET", f"/v2/tariffs/{TARIFF_ID}", reply)
    with pytest.raises(EvEnergyApiError) as err:
        await client.async_get_tariff(TARIFF_ID)
    assert err.value.status == status
    assert err.value.problem.status == status
    assert err.value.problem.message == message


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[1, 2", b"\xff\xfe", b"NaNa"],
    ids=["broken-object", "truncated-list", "not-utf8", "bare-word"],
)
async def test_malformed_json_on_success(client: EvEnergyClient, api: FakeApi, body: bytes) -> None:
    """A 200 with an unreadable body is a response error, not a crash."""
    api.reply("GET", "/v2/vehicles", Reply(body=body))
    with pytest.raises(EvEnergyResponseError, match="unreadable JSON from /v2/vehicles"):
        await client.async_get_vehicles()


@pytest.mark.parametrize(
    ("reply", "call"),
    [
        (Reply(body=b""), lambda c: c.async_get_tariff(TARIFF_ID)),
        (Reply(payload=[load_fixture("tariff.json")]), lambda c: c.async_get_tariff(TARIFF_ID)),
        (Reply(payload={"name": "no id"}), lambda c: c.async_get_tariff(TARIFF_ID)),
        (Reply(status=204, body=b""), lambda c: c.async_get_vehicles()),
    ],
    ids=["empty-object", "list-for-object", "object-without-id", "no-content-for-list"],
)
async def test_wrong_shape_on_success(
    client: EvEnergyClient, api: FakeApi, reply: Reply, call: Call
) -> None:
    """Well-formed JSON of the wrong shape is a response error too."""
    api.reply("GET", f"/v2/tariffs/{TARIFF_ID}", reply)
    api.reply("GET", "/v2/vehicles", reply)
    with pytest.raises(EvEnergyResponseError):
        await call(client)


# --- transport failures -------------------------------------------------------------------


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_connection_refused(session: aiohttp.ClientSession, auth: FakeAuth) -> None:
    """A closed port is a connection error."""
    client = EvEnergyClient(session, auth, api_url=f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(EvEnergyConnectionError, match="GET /v2/evses failed"):
        await client.async_get_evses()


async def test_timeout(
    client: EvEnergyClient, api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that never answers is a connection error once the timeout passes."""
    monkeypatch.setattr(client_module, "REQUEST_TIMEOUT", aiohttp.ClientTimeout(total=0.2))
    api.reply("GET", f"/v2/tariffs/{TARIFF_ID}", api.hang)
    with pytest.raises(EvEnergyConnectionError):
        await client.async_get_tariff(TARIFF_ID)


async def test_connection_dropped_mid_body(client: EvEnergyClient, api: FakeApi) -> None:
    """A body cut short by the server is a connection error."""

    async def truncated(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = 1000
        await response.prepare(request)
        await response.write(b'[{"id": "vhcl')
        assert request.transport is not None
        request.transport.close()
        return response

    api.reply("GET", "/v2/vehicles", truncated)
    with pytest.raises(EvEnergyConnectionError):
        await client.async_get_vehicles()


# --- response size ----------------------------------------------------------------------


def padded(payload: object, size: int) -> bytes:
    """`payload` as JSON, padded with whitespace to `size` bytes (still valid JSON)."""
    body = json.dumps(payload).encode()
    return body + b" " * (size - len(body))


async def test_body_over_the_bound_is_a_response_error(
    client: EvEnergyClient, api: FakeApi
) -> None:
    """A valid answer one byte over MAX_BODY_BYTES is refused, not read into memory whole."""
    assert client_module.MAX_BODY_BYTES == 16 * 1024 * 1024
    tariff = load_fixture("tariff.json")
    api.reply(
        "GET",
        f"/v2/tariffs/{TARIFF_ID}",
        Reply(body=padded(tariff, client_module.MAX_BODY_BYTES + 1)),
        Reply(body=padded(tariff, client_module.MAX_BODY_BYTES)),
    )
    with pytest.raises(EvEnergyResponseError, match=r"/v2/tariffs/\S+ exceeds"):
        await client.async_get_tariff(TARIFF_ID)
    # Exactly at the bound is still read.
    assert (await client.async_get_tariff(TARIFF_ID)).id == TARIFF_ID


async def test_pages_of_one_listing_share_the_bound(client: EvEnergyClient, api: FakeApi) -> None:
    """Pages each under the bound but over it together end the listing with an error."""
    third = client_module.MAX_BODY_BYTES // 3 + 1
    api.reply(
        "GET",
        "/v2/vehicles",
        *[
            Reply(
                body=padded([vehicle(f"vhcl{page}")], third),
                headers=next_link(f"/v2/vehicles?{VEHICLES_QS}&page={page + 1}"),
            )
            for page in range(1, 4)
        ],
    )
    with pytest.raises(EvEnergyResponseError, match="/v2/vehicles exceeds"):
        await client.async_get_vehicles()
    assert api.hits() == 3


async def test_endless_body_is_cut_off(
    client: EvEnergyClient, api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A body that never ends is abandoned at the bound, long before the request timeout."""
    monkeypatch.setattr(client_module, "REQUEST_TIMEOUT", aiohttp.ClientTimeout(total=3))
    sent = 0
    disconnected = asyncio.Event()

    async def endless(request: web.Request) -> web.StreamResponse:
        nonlocal sent
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        try:
            await response.write(b"[")
            while True:
                await response.write(b" " * 1024 * 1024)
                sent += 1024 * 1024
                # About 50 MiB/s: the bound is reached well inside the timeout.
                await asyncio.sleep(0.02)
        finally:
            # Reached when writing fails (or the handler is cancelled) after the client left.
            disconnected.set()

    api.reply("GET", "/v2/vehicles", endless)
    async with asyncio.timeout(10):
        with pytest.raises(EvEnergyResponseError, match="exceeds"):
            await client.async_get_vehicles()
        await disconnected.wait()
    assert sent < 2 * client_module.MAX_BODY_BYTES


# --- request accounting -------------------------------------------------------------------


async def test_rate_limit_headers(client: EvEnergyClient, api: FakeApi) -> None:
    """X-RateLimit-* are read from each answer; missing or garbled values keep the last ones."""
    path = f"/v2/tariffs/{TARIFF_ID}"
    tariff = load_fixture("tariff.json")
    api.reply(
        "GET",
        path,
        Reply(
            payload=tariff, headers={"X-RateLimit-Limit": "1000", "X-RateLimit-Remaining": "998"}
        ),
        Reply(payload=tariff),
        Reply(payload=tariff, headers={"X-RateLimit-Limit": "lots", "X-RateLimit-Remaining": ""}),
        Reply(
            status=404,
            payload={"title": "Not found."},
            content_type=PROBLEM_JSON,
            headers={"x-ratelimit-limit": "500", "x-ratelimit-remaining": "3"},
        ),
    )
    assert (client.rate_limit_limit, client.rate_limit_remaining) == (None, None)

    await client.async_get_tariff(TARIFF_ID)
    assert (client.rate_limit_limit, client.rate_limit_remaining) == (1000, 998)
    await client.async_get_tariff(TARIFF_ID)
    assert (client.rate_limit_limit, client.rate_limit_remaining) == (1000, 998)
    await client.async_get_tariff(TARIFF_ID)
    assert (client.rate_limit_limit, client.rate_limit_remaining) == (1000, 998)
    with pytest.raises(EvEnergyApiError):
        await client.async_get_tariff(TARIFF_ID)
    assert (client.rate_limit_limit, client.rate_limit_remaining) == (500, 3)


async def test_requests_last_hour_forgets_old_requests(
    client: EvEnergyClient, api: FakeApi, clock: FakeClock
) -> None:
    """The rolling hour drops requests older than 3600 s; the total keeps counting."""
    api.reply("GET", f"/v2/tariffs/{TARIFF_ID}", Reply(payload=load_fixture("tariff.json")))
    assert (client.request_count, client.requests_last_hour) == (0, 0)

    await client.async_get_tariff(TARIFF_ID)
    clock.advance(1800)
    await client.async_get_tariff(TARIFF_ID)
    await client.async_get_tariff(TARIFF_ID)
    assert (client.request_count, client.requests_last_hour) == (3, 3)

    clock.advance(1800.5)
    assert (client.request_count, client.requests_last_hour) == (3, 2)
    await client.async_get_tariff(TARIFF_ID)
    assert (client.request_count, client.requests_last_hour) == (4, 3)

    clock.advance(3600)
    assert (client.request_count, client.requests_last_hour) == (4, 0)


async def test_failed_requests_are_counted(client: EvEnergyClient, api: FakeApi) -> None:
    """Requests answered with an error count too: the API counts them against the budget."""
    api.reply("GET", "/v2/evses", Reply(status=500, body=b""))
    with pytest.raises(EvEnergyApiError):
        await client.async_get_evses()
    api.reply("GET", "/v2/vehicles", Reply(payload=[]))
    await client.async_get_vehicles()
    assert client.request_count == 2
    assert client.requests_last_hour == 2


# --- charging plan ------------------------------------------------------------------------

SCHEDULES_PATH = f"/v2/charging_sub_sessions/{SUB_SESSION_ID}/schedules"


async def test_schedules_skip_unreadable_intervals(client: EvEnergyClient, api: FakeApi) -> None:
    """One bad interval must not hide the rest of the plan."""
    payload = load_fixture("schedules_boost.json")
    payload["schedules"].insert(0, {"started_at": "soon", "current_milliamps": 1})
    api.reply("GET", SCHEDULES_PATH, Reply(payload=payload))
    (boost,) = await client.async_get_schedules(SUB_SESSION_ID)
    assert boost.end is None
    assert boost.current_milliamps == 32000


@pytest.mark.parametrize("payload", [[], {"schedules": None}, {}])
async def test_schedules_of_the_wrong_shape(
    client: EvEnergyClient, api: FakeApi, payload: Any
) -> None:
    api.reply("GET", SCHEDULES_PATH, Reply(payload=payload))
    with pytest.raises(EvEnergyResponseError):
        await client.async_get_schedules(SUB_SESSION_ID)
