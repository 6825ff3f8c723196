"""The real integration against the local simulator over loopback HTTP.

Nothing is mocked between Home Assistant and the simulator: the config entry is set up the way
Home Assistant does it, tokens are refreshed at the simulator's `/o/token/`, and every API call
is a real HTTP request to 127.0.0.1. Faults are injected in the simulator.

Time: Home Assistant's clock (and `time.monotonic`, which the event loop, the coordinator's
schedule, aiohttp's timeouts and the client's rate-limit block read) only moves when a test
ticks `freezer`. The simulator's clock stands still (`time_scale=0`), so the world's values do
not drift while Home Assistant's time is moved on.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
import logging
import re
import time
from typing import Any

import aiohttp
import freezegun.api
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.application_credentials import (
    ClientCredential,
    async_import_client_credential,
)
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity_platform import async_get_platforms
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.ev_energy.const import DOMAIN, UPDATE_INTERVAL
from custom_components.ev_energy.coordinator import EvEnergyLiveCoordinator
from simulator import SimulatorConfig, SimulatorServer
from simulator.oauth import DEFAULT_REDIRECT_URIS

# A Tuesday morning in GMT, like the simulator's own tests.
START = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
SIM_CLIENT_ID = "demo-client-id"
SIM_CLIENT_SECRET = "demo-client-secret"
# Where HA's OAuth flow sends the browser back to under `current_request_with_host`.
CALLBACK_URI = "https://example.com/auth/external/callback"

# The default scenario's resources.
FAMILY_CAR = "vhcl01HRY314M00GB6KC9QA0MZ17QK"  # "Family car": plugged in, charging, limit 80 %
LEAF = "vhcl01HRY314M0E6RHXQAQPDH4AFAX"  # Nissan Leaf: unplugged, limit 90 %
EVSE = "evse01HRY314M0VPVTX363SN6FCCW8"

# What DataUpdateCoordinator logs (once) when a refresh fails or auth fails, and when it
# recovers; "ev_energy" is the live poll, "ev_energy <what>" the slower coordinators.
FETCH_FAILED = re.compile(
    rf"^((?:Error|Authentication failed while) fetching {DOMAIN}(?: \w+)?) data"
)
RECOVERED = re.compile(rf"^Fetching {DOMAIN}(?: \w+)? data recovered$")


def harness_noise(record: logging.LogRecord) -> bool:
    """Whether a log record comes from the test set-up rather than the integration.

    The simulator's server logs a request whose client gave up ("Connection lost"), and HA's
    test HTTP client's access log cannot format freezegun's local time ("Error in logging", a
    TypeError about `tm_gmtoff`) when the OAuth callback is served.
    """
    if record.name == "aiohttp.access":
        return record.getMessage() == "Error in logging"
    if record.name == "aiohttp.server" and record.exc_info:
        return isinstance(record.exc_info[1], ConnectionError)
    return False


Spin = Callable[[], bool]


@pytest.fixture
def sim_config() -> SimulatorConfig:
    """A frozen simulator clock; HA's test callback URI is a registered redirect URI."""
    return SimulatorConfig(
        start=START,
        time_scale=0,
        redirect_uris=(*DEFAULT_REDIRECT_URIS, r"https://example\.com/auth/external/callback"),
    )


@pytest.fixture
async def sim(socket_enabled: None, sim_config: SimulatorConfig) -> AsyncIterator[SimulatorServer]:
    """The simulator listening on 127.0.0.1 (a free port), in this test's event loop."""
    server = SimulatorServer(sim_config)
    await server.start("127.0.0.1", 0)
    yield server
    await server.stop()


@pytest.fixture
async def sim_credentials(hass: HomeAssistant) -> None:
    """The simulator's OAuth client, stored as application credentials."""
    assert await async_setup_component(hass, "application_credentials", {})
    await async_import_client_credential(
        hass, DOMAIN, ClientCredential(SIM_CLIENT_ID, SIM_CLIENT_SECRET), DOMAIN
    )


def sim_token(sim: SimulatorServer) -> dict[str, Any]:
    """A token the simulator issued, as HA stores it after the OAuth code exchange."""
    return {**sim.issue_token(), "expires_at": time.time() + 36000}


@pytest.fixture
def sim_entry(sim: SimulatorServer) -> MockConfigEntry:
    """A config entry signed in to the simulator's demo user."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Alex Demo",
        unique_id=sim.world.user.id,
        data={"auth_implementation": DOMAIN, "token": sim_token(sim)},
    )


@dataclass
class Harness:
    """Home Assistant running the integration against the simulator, plus what to check."""

    hass: HomeAssistant
    sim: SimulatorServer
    entry: MockConfigEntry
    freezer: FrozenDateTimeFactory
    caplog: pytest.LogCaptureFixture
    # unique_id -> entity_id of every entity right after setup.
    baseline_registry: dict[str, str] = field(default_factory=dict)
    # entity_id -> state right after setup, for entities that have a state.
    baseline_states: dict[str, str] = field(default_factory=dict)

    # --- reading Home Assistant ----------------------------------------------------------

    def registry(self) -> dict[str, str]:
        """unique_id -> entity_id of the entry's registered entities (fails on duplicates).

        Unique ids are unique per domain: a vehicle's calendar shares `<id>_charging` with its
        binary sensor, so calendars are keyed `<unique id>@calendar`.
        """
        entries = er.async_entries_for_config_entry(er.async_get(self.hass), self.entry.entry_id)
        keys = [
            f"{entry.unique_id}@calendar" if entry.domain == "calendar" else entry.unique_id
            for entry in entries
        ]
        assert len(keys) == len(set(keys)), f"duplicate unique ids: {keys}"
        return {key: entry.entity_id for key, entry in zip(keys, entries, strict=True)}

    def entity_id(self, resource_id: str, key: str) -> str:
        """The entity of `<resource id>_<key>` (looked up, so renames do not break tests)."""
        unique_id = f"{resource_id}_{key}"
        assert unique_id in self.baseline_registry, f"no entity with unique id {unique_id}"
        return self.baseline_registry[unique_id]

    def state(self, entity_id: str) -> str:
        """The entity's current state string."""
        state = self.hass.states.get(entity_id)
        assert state is not None, f"{entity_id} has no state"
        return state.state

    def states(self) -> dict[str, str]:
        """entity_id -> state of every registered entity that has a state."""
        return {
            entity_id: state.state
            for entity_id in self.registry().values()
            if (state := self.hass.states.get(entity_id)) is not None
        }

    def live_entities(self) -> set[str]:
        """Entities fed by the 60-second poll (and the price entities, which also follow it).

        Other coordinators (charging sessions, charger connectivity) refresh every few minutes
        or hourly; their entities are not held to the one-poll recovery promise.
        """
        runtime = self.entry.runtime_data
        live = {self.live, getattr(runtime, "prices", None)}
        return {
            entity_id
            for platform in async_get_platforms(self.hass, DOMAIN)
            for entity_id, entity in platform.entities.items()
            if getattr(entity, "coordinator", None) in live
        }

    @property
    def live(self) -> EvEnergyLiveCoordinator:
        """The entry's polling coordinator."""
        coordinator: EvEnergyLiveCoordinator = self.entry.runtime_data.live
        return coordinator

    def entry_state(self) -> ConfigEntryState:
        """The entry's state, read afresh."""
        return self.entry.state

    def reauth_flows(self) -> list[str]:
        """Sources of the ev_energy flows in progress."""
        return [
            flow["context"]["source"]
            for flow in self.hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        ]

    # --- driving time ----------------------------------------------------------------------

    async def poll(self, seconds: float | None = None) -> None:
        """Move HA's clock on (default: one poll interval) and let due refreshes finish.

        The interval is the live poll's current one: 60 s while a car charges (the default
        scenario's "Family car" does), longer when everything is idle (adaptive polling).
        """
        interval = self.live.update_interval or UPDATE_INTERVAL
        self.freezer.tick(timedelta(seconds=seconds) if seconds else interval)
        async_fire_time_changed(self.hass)
        await self.hass.async_block_till_done(wait_background_tasks=True)

    @staticmethod
    async def spin(condition: Spin, what: str, real_seconds: float = 3.0) -> None:
        """Run the event loop (without moving its clock) until `condition` holds."""
        # freezegun swaps time functions it finds in modules' globals: read it off its module.
        deadline = freezegun.api.real_monotonic() + real_seconds
        while not condition():
            if freezegun.api.real_monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            # A timed sleep would never end: the loop's clock only moves with `freezer`.
            await asyncio.sleep(0)

    @staticmethod
    async def run_loop(spins: int = 200) -> None:
        """Run the event loop for a while without moving its clock."""
        for _ in range(spins):
            await asyncio.sleep(0)

    # --- reading the simulator -------------------------------------------------------------

    def requests(self, start: int = 0) -> list[tuple[str, str, int]]:
        """(method, path, status) of the requests the simulator received since `start`."""
        return [(r["method"], r["path"], r["status"]) for r in self.sim.requests[start:]]

    async def admin(self, method: str, path: str, body: Any = None) -> Any:
        """Call the simulator's admin API (`/_sim/...`) over HTTP."""
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, self.sim.base_url + path, json=body) as response,
        ):
            assert response.status < 300, await response.text()
            return await response.json()

    def world_states(self) -> dict[str, str | float | Decimal]:
        """The states the core entities must show for the simulator's current world."""
        world = self.sim.world
        world.sync()
        expected: dict[str, str | float | Decimal] = {}
        for vehicle in world.vehicles.values():
            if f"{vehicle.id}_state_of_charge" not in self.baseline_registry:
                continue
            expected[self.entity_id(vehicle.id, "state_of_charge")] = str(vehicle.soc)
            expected[self.entity_id(vehicle.id, "integration_status")] = vehicle.integrated.lower()
            limit = vehicle.maximum_charge_limit_percentage
            expected[self.entity_id(vehicle.id, "charge_limit")] = (
                float(limit) if limit is not None else STATE_UNKNOWN
            )
        for evse in world.evses.values():
            if f"{evse.id}_lock_mode" in self.baseline_registry:
                mode = evse.lock_mode.lower() if evse.lock_mode else STATE_UNKNOWN
                expected[self.entity_id(evse.id, "lock_mode")] = mode
        # The world's price at the instant Home Assistant is at (its clock moves on while the
        # simulator's stands still; the price list read at setup covers the rest of the day).
        tariff = world.tariff
        assert tariff.currency == "GBP", "minor units are 1/100 of the currency"
        price = Decimal(tariff.price_at(dt_util.utcnow())) / 100
        expected[self.entity_id(world.user.id, "current_price")] = price
        return expected

    def shown_states(self, expected: dict[str, str | float | Decimal]) -> dict[str, Any]:
        """The states of `expected`'s entities, parsed the way `expected` holds them."""
        shown: dict[str, Any] = {}
        for entity_id, value in expected.items():
            state = self.state(entity_id)
            try:
                if isinstance(value, float):
                    shown[entity_id] = float(state)
                    continue
                if isinstance(value, Decimal):
                    shown[entity_id] = Decimal(state)
                    continue
            except (ArithmeticError, ValueError):
                pass
            shown[entity_id] = state
        return shown

    # --- the checks every scenario ends with ----------------------------------------------

    def assert_shows_world(self) -> None:
        """The core entities show exactly what the simulator's world holds."""
        expected = self.world_states()
        assert self.shown_states(expected) == expected

    def unavailable_live(self) -> list[str]:
        """Live entities that were available after setup and are unavailable now."""
        states = self.states()
        return sorted(
            entity_id
            for entity_id in self.live_entities()
            if self.baseline_states.get(entity_id, STATE_UNAVAILABLE) != STATE_UNAVAILABLE
            and states.get(entity_id) == STATE_UNAVAILABLE
        )

    def assert_recovered(self) -> None:
        """Every live entity available after setup is available again and shows the world."""
        still_down = self.unavailable_live()
        assert not still_down, f"still unavailable: {still_down}"
        self.assert_shows_world()

    def assert_invariants(self, *, outages: int = 0, auth_failures: int = 0) -> None:
        """No traceback, only the expected ERROR records, entry kept, registry unchanged."""
        records = [
            record
            for phase in ("setup", "call")
            for record in self.caplog.get_records(phase)  # type: ignore[arg-type]
            if not harness_noise(record)
        ]
        tracebacks = [
            f"{r.name}: {r.getMessage()}"
            for r in records
            if r.levelno >= logging.WARNING and r.exc_info
        ]
        assert not tracebacks, tracebacks
        errors = [r.getMessage() for r in records if r.levelno >= logging.ERROR]
        failed = Counter(m.group(1) for e in errors if (m := FETCH_FAILED.match(e)))
        unexpected = [e for e in errors if not FETCH_FAILED.match(e)]
        assert not unexpected, unexpected
        assert failed.pop(f"Error fetching {DOMAIN}", 0) == outages, errors
        assert failed.pop(f"Authentication failed while fetching {DOMAIN}", 0) == auth_failures
        # Each outage of the live poll ends with exactly one "recovered" (an auth failure
        # ends with a reload). A slower coordinator caught by the same fault logs it once too.
        recovered = Counter(r.getMessage() for r in records if RECOVERED.match(r.getMessage()))
        assert recovered.pop(f"Fetching {DOMAIN} data recovered", 0) == outages
        assert all(count == 1 for count in failed.values()), errors
        assert all(count == 1 for count in recovered.values()), recovered

        assert self.hass.config_entries.async_entries(DOMAIN) == [self.entry]
        assert self.entry_state() is ConfigEntryState.LOADED
        assert self.registry() == self.baseline_registry


@pytest.fixture
async def ev_energy(
    hass: HomeAssistant,
    sim: SimulatorServer,
    sim_entry: MockConfigEntry,
    sim_credentials: None,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> Harness:
    """The integration set up against the simulator, at the simulator's start time."""
    freezer.move_to(START)
    assert await async_setup_component(hass, "homeassistant", {})  # update_entity
    sim_entry.add_to_hass(hass)
    assert await async_setup_component(hass, DOMAIN, {DOMAIN: {"api_url": sim.base_url}})
    await hass.async_block_till_done(wait_background_tasks=True)
    assert sim_entry.state is ConfigEntryState.LOADED
    harness = Harness(hass, sim, sim_entry, freezer, caplog)
    harness.baseline_registry = harness.registry()
    harness.baseline_states = harness.states()
    harness.assert_shows_world()
    return harness
