"""Fault behaviour of the real integration against the simulator, over loopback HTTP.

Every scenario ends with the same checks (`Harness.assert_invariants`): no traceback logged, no
ERROR record but the single "Error fetching ev_energy data" per outage (or the single
"Authentication failed" of a refused sign-in), the config entry still there (and loaded), the
entity registry unchanged (no duplicates, nothing new), and the data back (`assert_recovered`)
one poll after the fault clears.
"""

from __future__ import annotations

from collections.abc import Iterator
import json
from typing import Any
from unittest.mock import patch
from uuid import uuid4

import aiohttp
from homeassistant.config_entries import SOURCE_REAUTH
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from yarl import URL

from custom_components.ev_energy.const import LIVE_RETRY_SOON, UPDATE_INTERVAL
from simulator.faults import Fault
from simulator.model import DEFAULT_SCENARIO

from .conftest import CALLBACK_URI, EVSE, FAMILY_CAR, LEAF, Harness, sim_token

VEHICLES = "/v2/vehicles"
EVSES = "/v2/evses"
SCENARIO: dict[str, Any] = json.loads(DEFAULT_SCENARIO.read_text())


def _soc(h: Harness) -> str:
    return h.entity_id(FAMILY_CAR, "state_of_charge")


def _price(h: Harness) -> str:
    return h.entity_id(h.sim.world.user.id, "current_price")


def _paths(h: Harness, start: int, path: str) -> list[tuple[str, str, int]]:
    return [request for request in h.requests(start) if request[1] == path]


# --- happy path --------------------------------------------------------------------------------


async def test_happy_path_values_and_charge_limit(ev_energy: Harness) -> None:
    """HA shows the simulator's world, and a new charge limit is PATCHed to the simulator."""
    h = ev_energy
    world = h.sim.world
    car = world.vehicles[FAMILY_CAR]
    # Spelled out once; `assert_shows_world` (run by the fixture) compares every vehicle.
    assert h.state(_soc(h)) == str(car.soc) == "45"
    assert h.state(h.entity_id(FAMILY_CAR, "integration_status")) == car.integrated.lower()
    assert float(h.state(h.entity_id(FAMILY_CAR, "charge_limit"))) == 80
    assert h.state(h.entity_id(LEAF, "state_of_charge")) == "62"
    price = h.hass.states.get(_price(h))
    assert price is not None
    assert price.attributes["unit_of_measurement"] == "GBP/kWh"
    assert float(price.state) == world.tariff.price_at(h.sim.clock.now()) / 100

    start = len(h.sim.requests)
    limit = h.entity_id(FAMILY_CAR, "charge_limit")
    await h.hass.services.async_call(
        "number", "set_value", {"entity_id": limit, "value": 65}, blocking=True
    )
    patches = [r for r in h.sim.requests[start:] if r["method"] == "PATCH"]
    assert [(r["path"], r["body"], r["status"]) for r in patches] == [
        (f"{VEHICLES}/{FAMILY_CAR}", {"maximum_charge_limit_percentage": 65}, 200)
    ]
    assert car.maximum_charge_limit_percentage == 65
    assert float(h.state(limit)) == 65

    await h.poll()
    h.assert_recovered()
    h.assert_invariants()


# --- authentication ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "path"),
    # A live poll reads vehicles and chargers; the tariff only hourly (its prices cover now).
    [(1, "^/v2/vehicles$"), (1, "^/v2/evses$"), (2, "^/v2/")],
    ids=["vehicles", "chargers", "every-request-of-a-poll"],
)
async def test_unauthorized_refreshes_token(ev_energy: Harness, count: int, path: str) -> None:
    """401s make the client refresh the token at /o/token/ and retry; nothing is lost."""
    h = ev_energy
    old = h.entry.data["token"]
    start = len(h.sim.requests)
    h.sim.faults.add("unauthorized", count=count, path=path)

    await h.poll()

    assert not h.sim.faults.faults, "every injected 401 was served"
    assert sum(status == 401 for *_, status in h.requests(start)) == count
    refreshes = [r for r in h.sim.requests[start:] if r["path"] == "/o/token/"]
    assert [(r["status"], r["body"]["grant_type"]) for r in refreshes] == [(200, "refresh_token")]
    assert refreshes[0]["body"]["refresh_token"] == old["refresh_token"]
    new = h.entry.data["token"]
    assert new["access_token"] != old["access_token"]
    assert h.sim.oauth.authenticate(new["access_token"]) is not None, "stored token is live"
    assert h.reauth_flows() == []
    assert h.state(_soc(h)) != STATE_UNAVAILABLE
    h.assert_recovered()

    await h.poll()  # the next poll uses the new token without another refresh
    assert [r for r in h.requests(start) if r[1] == "/o/token/"] == [("POST", "/o/token/", 200)]
    h.assert_recovered()
    h.assert_invariants()


@pytest.mark.parametrize(
    ("count", "path"),
    [(2, "^/v2/vehicles$"), (4, "^/v2/")],
    ids=["twice-on-one-request", "more-than-one-per-request"],
)
async def test_more_401s_with_working_refresh_do_not_ask_to_sign_in(
    ev_energy: Harness, count: int, path: str
) -> None:
    """401s beyond the one the refresh answers: at worst one failed poll, never a reauth."""
    h = ev_energy
    start = len(h.sim.requests)
    h.sim.faults.add("unauthorized", count=count, path=path)

    await h.poll()

    assert not h.sim.faults.faults, "every injected 401 was served"
    assert ("POST", "/o/token/", 200) in h.requests(start)
    outages = 0 if h.live.last_update_success else 1
    assert h.reauth_flows() == []
    await h.poll()
    h.assert_recovered()
    h.assert_invariants(outages=outages)


@pytest.mark.parametrize("recovery", ["new-token-and-reload", "reauth-flow"])
@pytest.mark.usefixtures("current_request_with_host")
async def test_refused_refresh_starts_reauth(
    ev_energy: Harness, hass_client_no_auth: ClientSessionGenerator, recovery: str
) -> None:
    """401 + refused refresh: a reauth flow, entry kept, entities unavailable; sign-in fixes it."""
    h = ev_energy
    hass = h.hass
    h.sim.faults.add("unauthorized", count=None)
    h.sim.faults.add("refresh_refused", count=None)
    start = len(h.sim.requests)

    await h.poll()

    assert ("POST", "/o/token/", 400) in h.requests(start)
    assert h.reauth_flows() == [SOURCE_REAUTH]
    flow = hass.config_entries.flow.async_progress_by_handler("ev_energy")[0]
    assert flow["context"]["entry_id"] == h.entry.entry_id
    assert h.hass.config_entries.async_entries("ev_energy") == [h.entry]
    assert h.state(_soc(h)) == STATE_UNAVAILABLE
    assert h.state(h.entity_id(EVSE, "lock_mode")) == STATE_UNAVAILABLE
    # Polling stops until the user signs in again: nothing more is sent with a dead token.
    sent = len(h.sim.requests)
    await h.poll()
    await h.poll()
    assert h.requests(sent) == []
    assert h.reauth_flows() == [SOURCE_REAUTH]

    h.sim.faults.clear()
    if recovery == "new-token-and-reload":
        hass.config_entries.async_update_entry(
            h.entry, data={**h.entry.data, "token": sim_token(h.sim)}
        )
        assert await hass.config_entries.async_reload(h.entry.entry_id)
        await hass.async_block_till_done()
    else:
        # The user confirms, signs in at the simulator's /o/authorize/ and comes back.
        result = await hass.config_entries.flow.async_configure(flow["flow_id"], {})
        assert result["type"] is FlowResultType.EXTERNAL_STEP
        assert result["url"].startswith(f"{h.sim.base_url}/o/authorize/?")
        async with (
            aiohttp.ClientSession() as session,
            session.get(result["url"], allow_redirects=False) as response,
        ):
            assert response.status == 302, await response.text()
            callback = URL(response.headers["Location"])
        assert str(callback.with_query(None)) == CALLBACK_URI
        client = await hass_client_no_auth()
        response = await client.get(f"/auth/external/callback?{callback.query_string}")
        assert response.status == 200
        result = await hass.config_entries.flow.async_configure(flow["flow_id"])
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "reauth_successful"
        await hass.async_block_till_done()
        assert h.reauth_flows() == []
        grants = [r["body"].get("grant_type") for r in h.sim.requests if r["path"] == "/o/token/"]
        assert grants[-1] == "authorization_code"

    assert h.sim.oauth.authenticate(h.entry.data["token"]["access_token"]) is not None
    h.assert_recovered()
    h.assert_invariants(auth_failures=1)


# --- rate limit, outages, timeouts ---------------------------------------------------------------


@pytest.mark.parametrize("retry_after", [30, 300])
async def test_rate_limit_waits_for_retry_after(ev_energy: Harness, retry_after: int) -> None:
    """After a 429 no request reaches the simulator until Retry-After has passed."""
    h = ev_energy
    h.sim.faults.add("rate_limit", count=1, path="^/v2/evses$", retry_after=retry_after)
    start = len(h.sim.requests)

    await h.poll()

    assert ("GET", EVSES, 429) in h.requests(start)
    assert h.state(_soc(h)) == STATE_UNAVAILABLE
    sent = len(h.sim.requests)
    step = min(60.0, retry_after / 2)
    elapsed = 0.0
    while elapsed + step < retry_after:
        await h.poll(step)
        elapsed += step
        assert h.requests(sent) == [], f"sent {elapsed:g} s into a {retry_after} s Retry-After"
        assert h.state(_soc(h)) == STATE_UNAVAILABLE
    # Nor does a refresh the user asks for meanwhile.
    await h.hass.services.async_call(
        "homeassistant", "update_entity", {"entity_id": _soc(h)}, blocking=True
    )
    await h.hass.async_block_till_done(wait_background_tasks=True)
    assert h.requests(sent) == []

    await h.poll(retry_after - elapsed + 1)

    resumed = h.requests(sent)
    assert {("GET", VEHICLES, 200), ("GET", EVSES, 200)} <= set(resumed)
    assert all(status == 200 for *_, status in resumed), resumed
    h.assert_recovered()
    h.assert_invariants(outages=1)


@pytest.mark.parametrize("status", [500, 503])
@pytest.mark.parametrize("path", ["^/v2/", "^/v2/vehicles$"], ids=["all", "vehicles"])
async def test_server_error_burst(ev_energy: Harness, status: int, path: str) -> None:
    """A burst of 5xx: first a blip retried soon, then unavailable (logged once), then back."""
    h = ev_energy
    fault = h.sim.faults.add("server_error", count=None, path=path, status=status)
    start = len(h.sim.requests)
    soc = h.state(_soc(h))

    await h.poll()
    # One failed poll keeps what was shown and is retried within seconds, not a whole interval.
    assert h.state(_soc(h)) == soc
    assert h.live.update_interval == LIVE_RETRY_SOON
    for _ in range(3):
        await h.poll()
        assert h.state(_soc(h)) == STATE_UNAVAILABLE
        assert h.state(h.entity_id(EVSE, "lock_mode")) == STATE_UNAVAILABLE
    assert _paths(h, start, VEHICLES) == [("GET", VEHICLES, status)] * 4

    h.sim.faults.clear(fault.id)
    await h.poll()

    h.assert_recovered()
    h.assert_invariants(outages=1)


async def test_hang_is_bounded_by_request_timeout(ev_energy: Harness) -> None:
    """A hanging API is cut off by the client's timeout: unavailable, then back."""
    h = ev_energy
    with patch(
        "custom_components.ev_energy.api.client.REQUEST_TIMEOUT", aiohttp.ClientTimeout(total=1)
    ):
        # 30 s: far longer than the 1 s timeout, far shorter than the simulator's default.
        fault = h.sim.faults.add("hang", count=1, path="^/v2/vehicles$", seconds=30)
        start = len(h.sim.requests)
        h.freezer.tick(UPDATE_INTERVAL)
        async_fire_time_changed(h.hass)
        await h.spin(lambda: fault not in h.sim.faults.faults, "the request to reach the sim")
        others = {EVSES}
        await h.spin(
            lambda: others <= {path for _, path, _ in h.requests(start)},
            "the poll's other requests to finish",
        )

        # The loop runs timers as they fall due (async_fire_time_changed would run them early).
        h.freezer.tick(0.5)
        await h.run_loop()
        assert h.live.failures == 0, "gave up before the timeout"
        assert h.state(_soc(h)) != STATE_UNAVAILABLE

        h.freezer.tick(0.6)
        await h.spin(lambda: h.live.failures == 1, "the request to time out")
        await h.hass.async_block_till_done(wait_background_tasks=True)
        # One timeout is a blip: the state stays and the poll is retried soon.
        assert h.state(_soc(h)) != STATE_UNAVAILABLE
        assert h.live.update_interval == LIVE_RETRY_SOON
        # The simulator is still holding the request: the client gave up, not the server.
        assert _paths(h, start, VEHICLES) == []

        h.sim.faults.clear()
        await h.poll()

    h.assert_recovered()
    h.assert_invariants()


@pytest.fixture
def short_request_timeout() -> Iterator[None]:
    """Requests (and waiting for a token) give up after 1 s."""
    with patch(
        "custom_components.ev_energy.api.client.REQUEST_TIMEOUT", aiohttp.ClientTimeout(total=1)
    ):
        yield


async def _refresh_outlasting_the_poll(h: Harness) -> Fault:
    """Make a poll refresh the token and give up waiting; return the hang holding the refresh.

    ev.energy rotates the refresh token when it handles the refresh, waited for or not: a
    refresh cut off with the poll would leave the entry with a dead refresh token, and the next
    renewal would end the sign-in.
    """
    h.sim.faults.add("unauthorized", count=1, path="^/v2/vehicles$")
    fault = h.sim.faults.add("hang", count=1, path="^/o/token/")
    h.freezer.tick(UPDATE_INTERVAL)
    async_fire_time_changed(h.hass)
    await h.spin(lambda: fault not in h.sim.faults.faults, "the refresh to reach the sim")
    h.freezer.tick(1.1)
    await h.spin(lambda: h.live.failures == 1, "the poll to time out", 1.0)
    # A blip: the state stays, nobody is asked to sign in, the poll is retried soon.
    assert h.state(_soc(h)) != STATE_UNAVAILABLE
    assert h.reauth_flows() == []
    return fault


async def _answer_refresh(h: Harness, old_refresh_token: str) -> None:
    """Let the simulator answer the held refresh; wait until the rotated token is stored."""
    h.sim.faults.clear()
    await h.spin(
        lambda: h.entry.data["token"]["refresh_token"] != old_refresh_token,
        "the rotated token to be stored",
    )
    await h.hass.async_block_till_done(wait_background_tasks=True)
    new = h.entry.data["token"]
    assert old_refresh_token not in h.sim.oauth.refresh_tokens
    assert new["refresh_token"] in h.sim.oauth.refresh_tokens
    assert h.sim.oauth.authenticate(new["access_token"]) is not None


def _refreshes(h: Harness, start: int) -> list[tuple[str, str, int]]:
    return _paths(h, start, "/o/token/")


@pytest.mark.usefixtures("short_request_timeout")
async def test_refresh_outlasting_the_poll_is_seen_through(ev_energy: Harness) -> None:
    """The poll gives up on a slow refresh, the refresh goes on: the new token is stored, and
    the next poll works with it."""
    h = ev_energy
    old = h.entry.data["token"]["refresh_token"]
    start = len(h.sim.requests)
    await _refresh_outlasting_the_poll(h)

    await _answer_refresh(h, old)

    await h.poll()
    assert _refreshes(h, start) == [("POST", "/o/token/", 200)]
    assert h.reauth_flows() == []
    h.assert_recovered()
    h.assert_invariants()


@pytest.mark.usefixtures("short_request_timeout")
async def test_poll_during_a_refresh_joins_it(ev_energy: Harness) -> None:
    """The retry while the refresh still runs waits for that refresh, sends none of its own."""
    h = ev_energy
    old = h.entry.data["token"]["refresh_token"]
    start = len(h.sim.requests)
    fault = await _refresh_outlasting_the_poll(h)
    # Any second refresh would be held too, and rotate the token under the first.
    h.sim.faults.add("hang", count=None, path=fault.path)

    h.freezer.tick(LIVE_RETRY_SOON)
    async_fire_time_changed(h.hass)
    await h.run_loop()
    await _answer_refresh(h, old)

    assert _refreshes(h, start) == [("POST", "/o/token/", 200)]
    assert h.live.failures == 0, "the retry got the refreshed token"
    assert h.reauth_flows() == []
    h.assert_recovered()
    h.assert_invariants()


@pytest.mark.usefixtures("short_request_timeout")
async def test_refresh_outlives_a_reload(ev_energy: Harness) -> None:
    """Unloading the entry leaves the refresh running; the entry set up again waits for it."""
    h = ev_energy
    old = h.entry.data["token"]["refresh_token"]
    start = len(h.sim.requests)
    fault = await _refresh_outlasting_the_poll(h)
    h.sim.faults.add("hang", count=None, path=fault.path)

    assert await h.hass.config_entries.async_unload(h.entry.entry_id)
    setup = h.hass.async_create_task(h.hass.config_entries.async_setup(h.entry.entry_id))
    await h.run_loop()
    await _answer_refresh(h, old)

    assert await setup
    assert _refreshes(h, start) == [("POST", "/o/token/", 200)]
    assert h.reauth_flows() == []
    await h.poll()
    h.assert_recovered()
    h.assert_invariants()


@pytest.mark.parametrize("path", ["^/v2/vehicles$", "^/v2/evses$"], ids=["vehicles", "evses"])
async def test_malformed_json(ev_energy: Harness, path: str) -> None:
    """A truncated JSON body fails that poll cleanly; the next poll brings the data back."""
    h = ev_energy
    h.sim.faults.add("malformed_json", count=1, path=path)

    await h.poll()

    assert not h.sim.faults.faults, "the malformed body was served"
    assert h.state(_soc(h)) == STATE_UNAVAILABLE
    await h.poll()
    h.assert_recovered()
    h.assert_invariants(outages=1)


# --- odd payloads ------------------------------------------------------------------------------

# (resource, key) -> state while the fields are missing.
DEFAULT_MISSING = {
    (FAMILY_CAR, "state_of_charge"): STATE_UNKNOWN,
    (FAMILY_CAR, "vehicle_state"): STATE_UNKNOWN,
    (FAMILY_CAR, "charge_power"): STATE_UNKNOWN,
    (FAMILY_CAR, "plugged_in"): STATE_UNKNOWN,
    (FAMILY_CAR, "integration_status"): "active",  # required: kept
    (FAMILY_CAR, "charge_limit"): "80",  # required: kept
    (LEAF, "state_of_charge"): STATE_UNKNOWN,
    (EVSE, "lock_mode"): STATE_UNKNOWN,
    (EVSE, "energy_meter"): STATE_UNKNOWN,
    (EVSE, "charging"): STATE_UNKNOWN,
}
NAMED_MISSING = {
    (FAMILY_CAR, "state_of_charge"): STATE_UNKNOWN,
    (FAMILY_CAR, "charge_limit"): STATE_UNKNOWN,
    (FAMILY_CAR, "vehicle_state"): "plugged_in_charging",
    (FAMILY_CAR, "integration_status"): "active",
    (LEAF, "state_of_charge"): STATE_UNKNOWN,
    (EVSE, "lock_mode"): STATE_UNKNOWN,
    (EVSE, "charge_power"): "7.2",
}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (None, DEFAULT_MISSING),
        (
            [
                "state_of_charge_percentage",
                "maximum_charge_limit_percentage",
                "lock_mode",
            ],
            NAMED_MISSING,
        ),
    ],
    ids=["all-optional-fields", "named-fields"],
)
async def test_missing_fields_show_unknown(
    ev_energy: Harness, fields: list[str] | None, expected: dict[tuple[str, str], str]
) -> None:
    """Fields missing from every response: those entities are unknown, nothing fails."""
    h = ev_energy
    h.sim.faults.add("missing_fields", count=None, fields=fields)

    await h.poll()
    await h.poll()

    shown = {(resource, key): h.state(h.entity_id(resource, key)) for resource, key in expected}
    assert shown == expected
    assert h.unavailable_live() == []

    h.sim.faults.clear()
    await h.poll()
    h.assert_recovered()
    h.assert_invariants()


async def test_null_charge_limit_is_unknown(ev_energy: Harness) -> None:
    """A null charge limit shows unknown; a real one is shown again at the next poll."""
    h = ev_energy
    limit = h.entity_id(FAMILY_CAR, "charge_limit")
    await h.admin(
        "PATCH", f"/_sim/vehicles/{FAMILY_CAR}", {"maximum_charge_limit_percentage": None}
    )

    await h.poll()
    assert h.state(limit) == STATE_UNKNOWN
    h.assert_shows_world()

    await h.admin("PATCH", f"/_sim/vehicles/{FAMILY_CAR}", {"maximum_charge_limit_percentage": 80})
    await h.poll()
    h.assert_recovered()
    h.assert_invariants()


async def test_unknown_enum_values(ev_energy: Harness) -> None:
    """New enum values show unknown and are logged once per field, however often they come."""
    h = ev_energy
    value = f"LEVITATING_{uuid4().hex[:8].upper()}"  # once-only logging is process-wide
    h.sim.faults.add("unknown_enum", count=None, path="^/v2/(vehicles|evses)$", value=value)

    await h.poll()
    await h.poll()

    for entity_id in (
        h.entity_id(FAMILY_CAR, "integration_status"),
        h.entity_id(FAMILY_CAR, "vehicle_state"),
        h.entity_id(LEAF, "vehicle_state"),
        h.entity_id(EVSE, "lock_mode"),
    ):
        assert h.state(entity_id) == STATE_UNKNOWN, entity_id
    assert h.state(_soc(h)) == "45"
    warnings = [
        r.getMessage()
        for r in h.caplog.records
        if r.levelname == "WARNING" and value in r.getMessage()
    ]
    assert len(warnings) == len(set(warnings)), "logged more than once"
    assert {
        f"Unknown {name} value '{value}' from ev.energy; shown as unknown"
        for name in ("integrated", "state", "lock_mode")
    } <= set(warnings)

    h.sim.faults.clear()
    await h.poll()
    h.assert_recovered()
    h.assert_invariants()


# --- the account changes -----------------------------------------------------------------------


def _resource(resource: str) -> tuple[str, str, dict[str, Any]]:
    """(id, admin collection, scenario entry) of the default scenario's vehicle or charger."""
    if resource == "vehicle":
        return FAMILY_CAR, "vehicles", SCENARIO["vehicles"][0]
    return EVSE, "evses", SCENARIO["evses"][0]


@pytest.mark.parametrize("absent_polls", [1, 5], ids=["one-poll", "five-polls"])
@pytest.mark.parametrize("resource", ["vehicle", "charger"])
async def test_resource_disappears_and_returns(
    ev_energy: Harness, resource: str, absent_polls: int
) -> None:
    """A removed vehicle/charger goes unavailable; back, it has the same entities again."""
    h = ev_energy
    gone, kind, data = _resource(resource)
    assert data["id"] == gone
    live = h.live_entities()
    gone_live = sorted(
        e for u, e in h.baseline_registry.items() if u.startswith(gone) and e in live
    )
    others_live = sorted(e for e in live if e not in gone_live and e in h.baseline_states)
    assert gone_live
    assert others_live

    await h.admin("DELETE", f"/_sim/{kind}/{gone}")
    for _ in range(absent_polls):
        await h.poll()
        assert gone not in getattr(h.live.data, kind)
        # Unavailable (or, once the integration removed the device, gone altogether).
        shown = {e: s.state for e in gone_live if (s := h.hass.states.get(e)) is not None}
        assert set(shown.values()) <= {STATE_UNAVAILABLE}, shown
        assert STATE_UNAVAILABLE not in {h.state(e) for e in others_live}

    await h.admin("POST", f"/_sim/{kind}", data)
    await h.poll()

    assert h.registry() == h.baseline_registry  # the same entity ids, no "_2" duplicates
    h.assert_recovered()
    h.assert_invariants()


@pytest.mark.parametrize("resource", ["vehicle", "charger"])
async def test_every_entity_of_a_removed_resource_is_unavailable(
    ev_energy: Harness, resource: str
) -> None:
    """All of a removed vehicle's/charger's entities go unavailable, not only the live ones."""
    h = ev_energy
    gone, kind, _ = _resource(resource)
    gone_entities = sorted(
        e for u, e in h.baseline_registry.items() if u.startswith(gone) and e in h.baseline_states
    )

    await h.admin("DELETE", f"/_sim/{kind}/{gone}")
    await h.poll()

    shown = {e: h.state(e) for e in gone_entities}
    assert shown == dict.fromkeys(gone_entities, STATE_UNAVAILABLE)
    h.assert_invariants()


async def test_link_loop_stops_pagination(ev_energy: Harness) -> None:
    """A Link header pointing back at the same page: one request per list, data still shown."""
    h = ev_energy
    h.sim.faults.add("link_loop", count=None, path="^/v2/(vehicles|evses)$")
    start = len(h.sim.requests)

    await h.poll()

    assert _paths(h, start, VEHICLES) == [("GET", VEHICLES, 200)]
    assert _paths(h, start, EVSES) == [("GET", EVSES, 200)]
    loops = [r for r in h.caplog.records if "loops back" in r.getMessage()]
    assert len(loops) == 2
    h.assert_recovered()

    h.sim.faults.clear()
    await h.poll()
    h.assert_recovered()
    h.assert_invariants()


async def test_huge_page(ev_energy: Harness) -> None:
    """A page past the page size (100) is read whole; its extra vehicles leave no trace."""
    h = ev_energy
    h.sim.faults.add("huge_page", count=1, path="^/v2/vehicles$", items=101)

    await h.poll()

    assert len(h.live.data.vehicles) == 101
    h.assert_recovered()
    # The 99 copies are new vehicles (new ids) to the integration; nothing else changes.
    registry = h.registry()
    assert {u: registry[u] for u in h.baseline_registry} == h.baseline_registry
    assert all(u.startswith("vhclZZ") for u in registry.keys() - h.baseline_registry.keys())

    await h.poll()
    assert len(h.live.data.vehicles) == 2
    h.assert_recovered()
    # Gone from the account, the copies' devices are removed after a few polls.
    for _ in range(10):
        if h.registry() == h.baseline_registry:
            break
        await h.poll()
    h.assert_recovered()
    h.assert_invariants()
