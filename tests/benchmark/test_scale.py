"""How the integration scales: 2, 100 and 300 vehicles and chargers on one account; prints figures.

Skipped unless `EV_ENERGY_BENCHMARK=1`: run `./scripts/benchmark --scale`. BENCHMARKS.md explains
the figures. Nothing here is asserted beyond the run completing: the figures are printed.

Home Assistant runs in-process against the simulator on 127.0.0.1, with the soak's clock driver
(one simulated clock for both sides, `tests/benchmark/test_soak.py`), so an hour costs seconds.
CPU time is the event loop thread's (`time.thread_time`) around a live poll and its state writes,
less the time the simulator's request handlers took in the same thread.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import gc
import os
from pathlib import Path
import random
import statistics
import time
from typing import Any

from aiohttp import web
import freezegun.api
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.application_credentials import (
    ClientCredential,
    async_import_client_credential,
)
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity import Entity
from homeassistant.loader import async_get_integration
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ev_energy import PLATFORMS
from custom_components.ev_energy.const import DOMAIN
from simulator import SimulatorConfig, SimulatorServer

from .test_soak import MAX_STEP, MIN_STEP, Driver, endpoint, parse_time

pytestmark = pytest.mark.skipif(
    os.environ.get("EV_ENERGY_BENCHMARK") != "1",
    reason="scale benchmark; run it with ./scripts/benchmark --scale",
)

START = datetime(2026, 11, 22, 12, 0, 7, 250000, tzinfo=UTC)
SEED = 2026
SIZES = (2, 100, 300)
# Unchanged live polls measured back to back (the world does not move between them).
UNCHANGED_POLLS = 7
# Long enough for the first background reads (and, before [thrift], the setup's own reads).
WARM_UP = timedelta(minutes=5)
HOUR = timedelta(hours=1)
# The endpoints the setup variant makes hang until the entry is set up.
HANGING = r"^/v2/(tariffs/[^/]+/prices|charging_sessions|evses/[^/]+/connectivity)"
# Live-poll endpoints: what a refresh of the main coordinator reads.
CONNECTIVITY = "GET /v2/evses/{evse}/connectivity"
LIVE = ("GET /v2/vehicles", "GET /v2/evses", "GET /v2/tariffs/{tari}", "GET /v2/users/{user}")


def rss_bytes() -> int:
    """The process's resident set size now."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


@dataclass
class Window:
    """Requests the simulator received in a stretch of simulated time."""

    requests: list[tuple[datetime, str, int]]
    start: datetime
    end: datetime
    intervals: dict[float, float]
    live_polls: int
    writes: int
    # The client's own count of its requests in the rolling hour, at each live poll.
    hour_counts: list[int]

    @property
    def per_hour(self) -> float:
        """Requests per hour."""
        return len(self.requests) / ((self.end - self.start) / HOUR)

    def max_per_minute(self, prefix: str = "") -> int:
        """The most requests (of endpoints starting with `prefix`) in any clock minute."""
        minutes = Counter(
            int((at - self.start).total_seconds() // 60)
            for at, name, _ in self.requests
            if name.startswith(prefix)
        )
        return max(minutes.values(), default=0)

    def count(self, prefix: str) -> int:
        """Requests of endpoints starting with `prefix`."""
        return sum(name.startswith(prefix) for _, name, _ in self.requests)

    @property
    def status_429(self) -> int:
        """429 answers."""
        return sum(status == 429 for _, _, status in self.requests)

    def pace(self) -> str:
        """How the live poll's interval was spent."""
        total = sum(self.intervals.values()) or 1
        return ", ".join(
            f"{interval:g} s {share / total:.0%}"
            for interval, share in sorted(self.intervals.items())
        )


@dataclass
class ScaleRun:
    """Home Assistant, the simulator with `size` cars and chargers, and the figures."""

    hass: HomeAssistant
    sim: SimulatorServer
    freezer: FrozenDateTimeFactory
    size: int
    driver: Driver = field(init=False)
    server_cpu: float = 0.0
    writes: int = 0
    refreshes: int = 0
    hour_counts: list[int] = field(default_factory=list)
    entry: MockConfigEntry = field(init=False)

    def __post_init__(self) -> None:
        """Lay out the fleet: every car on its own charger, all unplugged."""
        self.driver = Driver(self.hass, self.sim, self.freezer)
        world = self.sim.world
        while len(world.evses) < self.size:
            world.add_evse({})
        while len(world.vehicles) < self.size:
            world.add_vehicle({"plugged_in": False})
        for vehicle, evse_id in zip(world.vehicles.values(), world.evses, strict=True):
            world.plug(vehicle.id, False)
            vehicle.evse_id = evse_id
        self.entry = MockConfigEntry(
            domain=DOMAIN,
            title=world.user.full_name,
            unique_id=world.user.id,
            data={
                "auth_implementation": DOMAIN,
                "token": {
                    **self.sim.issue_token(),
                    "expires_at": time.time() + self.sim.config.access_token_ttl,
                },
            },
        )

    @web.middleware
    async def timed(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Count the CPU the simulator's handlers take in the event loop's thread."""
        start = time.thread_time()
        try:
            response: web.StreamResponse = await handler(request)
            return response
        finally:
            self.server_cpu += time.thread_time() - start

    def count_writes(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Count every Entity.async_write_ha_state call."""
        original = Entity.async_write_ha_state

        def counting(entity: Entity) -> None:
            self.writes += 1
            original(entity)

        monkeypatch.setattr(Entity, "async_write_ha_state", counting)

    @property
    def coordinator(self) -> Any:
        """The live poll."""
        return self.entry.runtime_data.live

    async def drive_until(self, done: Callable[[], bool], limit: timedelta) -> None:
        """Move the clocks timer by timer until `done()` or `limit` of simulated time."""
        end = dt_util.utcnow() + limit
        intervals: dict[float, float] = {}
        self._intervals = intervals
        await self.driver.settle(hanging=True)  # what is due now runs before the clock moves
        while not done() and (now := dt_util.utcnow()) < end:
            candidates = [now + MAX_STEP, end]
            if (timer := self.driver.next_timer()) is not None:
                candidates.append(timer)
            target = max(min(candidates), now + MIN_STEP)
            if (
                self.entry.state is ConfigEntryState.LOADED
                and (interval := self.coordinator.update_interval) is not None
            ):
                key = interval.total_seconds()
                intervals[key] = intervals.get(key, 0) + (target - now).total_seconds()
            self.driver.move_to(target)
            await self.driver.settle(hanging=True)

    async def window(self, length: timedelta) -> Window:
        """Live through `length` of simulated time and return its requests."""
        start, first, polls = dt_util.utcnow(), len(self.sim.requests), self.refreshes
        writes, counts = self.writes, len(self.hour_counts)
        await self.drive_until(lambda: False, length)
        return Window(
            [
                (parse_time(r["time"]), endpoint(r["method"], r["path"]), r["status"])
                for r in self.sim.requests[first:]
            ],
            start,
            dt_util.utcnow(),
            self._intervals,
            self.refreshes - polls,
            self.writes - writes,
            self.hour_counts[counts:],
        )

    async def setup(self) -> tuple[float, float]:
        """Set the entry up; return (simulated, wall) seconds that it held Home Assistant."""
        hass, sim = self.hass, self.sim
        assert await async_setup_component(hass, "application_credentials", {})
        await async_import_client_credential(
            hass, DOMAIN, ClientCredential(sim.config.client_id, sim.config.client_secret), DOMAIN
        )
        # The component first (no entry yet), and its platforms imported: the figure is the
        # entry's own setup. (An import runs in an executor thread, which the clock driver
        # would take for a wait on a timer.)
        assert await async_setup_component(hass, DOMAIN, {DOMAIN: {"api_url": sim.base_url}})
        integration = await async_get_integration(hass, DOMAIN)
        await integration.async_get_platforms(PLATFORMS)
        self.entry.add_to_hass(hass)
        started, wall = dt_util.utcnow(), freezegun.api.real_monotonic()
        task = hass.async_create_task(hass.config_entries.async_setup(self.entry.entry_id))
        await self.drive_until(task.done, timedelta(minutes=10))
        assert task.done()
        assert task.result()
        held = (dt_util.utcnow() - started).total_seconds()
        wall_held = freezegun.api.real_monotonic() - wall
        assert self.entry.state is ConfigEntryState.LOADED
        coordinator = self.coordinator
        listen = getattr(coordinator, "async_add_refresh_listener", coordinator.async_add_listener)
        self.entry.async_on_unload(listen(self._on_refresh))
        return held, wall_held

    def _on_refresh(self) -> None:
        self.refreshes += 1
        self.hour_counts.append(self.coordinator.client.requests_last_hour)

    async def polls(
        self, *, tick: timedelta
    ) -> tuple[list[float], list[int], list[int], list[int]]:
        """(CPU ms, state writes, live requests, all requests) of each back-to-back live poll.

        The clocks move by `tick` before each poll: 0 leaves the world exactly as it was, 1 s
        moves the simulator's sampled_at stamps (as a car reporting does) and nothing else.
        """
        cpu, writes, live, total = [], [], [], []
        # One poll first: the world's clock moved since the last scheduled one.
        await self.coordinator.async_refresh()
        await self.hass.async_block_till_done()
        for _ in range(UNCHANGED_POLLS):
            if tick:
                self.driver.move_to(dt_util.utcnow() + tick)
            gc.collect()
            first, written, server = len(self.sim.requests), self.writes, self.server_cpu
            start = time.thread_time()
            await self.coordinator.async_refresh()
            await self.hass.async_block_till_done()
            spent = time.thread_time() - start - (self.server_cpu - server)
            cpu.append(spent * 1000)
            writes.append(self.writes - written)
            names = [endpoint(r["method"], r["path"]) for r in self.sim.requests[first:]]
            live.append(sum(name.startswith(LIVE) for name in names))
            total.append(len(names))
        return cpu, writes, live, total

    def plug_all(self) -> None:
        """Plug every car in (each charges: none is at its limit)."""
        for vehicle_id in self.sim.world.vehicles:
            self.sim.world.plug(vehicle_id, True)


async def start_run(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, size: int
) -> tuple[ScaleRun, Callable[[], Awaitable[None]]]:
    """The simulator serving `size` cars and chargers; returns the run and how to stop it."""
    random.seed(SEED)
    hass.loop.set_debug(False)
    freezer.move_to(START)
    sim = SimulatorServer(SimulatorConfig(start=START, time_scale=0, seed=SEED))
    run = ScaleRun(hass, sim, freezer, size)
    sim.app.middlewares.insert(0, run.timed)
    await sim.start("127.0.0.1", 0)
    return run, sim.stop


def ms(values: list[float]) -> str:
    """Median and worst of CPU times."""
    return f"median {statistics.median(values):6.1f} ms, worst {max(values):6.1f} ms"


@pytest.mark.no_fail_on_log_exception
@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size}x{size}")
async def test_scale(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    socket_enabled: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    size: int,
) -> None:
    """Set up, an idle hour, unchanged polls, an idle hour, a charging hour: print the figures."""
    wall = freezegun.api.real_monotonic()
    run, stop = await start_run(hass, freezer, size)
    try:
        run.count_writes(monkeypatch)
        gc.collect()
        rss_before = rss_bytes()
        held, wall_held = await run.setup()
        await run.window(WARM_UP)
        gc.collect()
        rss_after = rss_bytes()
        entities = len(hass.states.async_entity_ids())
        idle = await run.window(HOUR)
        cpu, writes, live, total = await run.polls(tick=timedelta(0))
        cpu_moved, writes_moved, _, _ = await run.polls(tick=timedelta(seconds=1))
        # The back-to-back measurement polls are no user's traffic: an ordinary idle hour
        # passes before the cars plug in, so the charging hour's guard sees real requests only.
        await run.window(HOUR)
        run.plug_all()
        charging = await run.window(HOUR)
        assert await hass.config_entries.async_unload(run.entry.entry_id)
        await hass.async_block_till_done()
    finally:
        await stop()
    lines = [
        "",
        f"ev_energy scale: {size} vehicles + {size} chargers ({entities} entities), "
        f"{freezegun.api.real_monotonic() - wall:.0f} s wall clock",
        f"  setup held Home Assistant      {held:7.1f} s simulated, {wall_held:.2f} s wall",
        f"  memory (RSS delta, setup + {WARM_UP.seconds // 60} min)  "
        f"{(rss_after - rss_before) / 2**20:7.1f} MiB",
        f"  requests per live poll         live endpoints {statistics.median(live):g} "
        f"(max {max(live)}), all {statistics.median(total):g} (max {max(total)})",
        f"  unchanged live poll CPU in HA  {ms(cpu)}  ({UNCHANGED_POLLS} polls)",
        f"  state writes per unchanged poll median {statistics.median(writes):g}, "
        f"max {max(writes)}  (each: {' '.join(str(w) for w in writes)})",
        f"  live poll 1 s later (only the status sampled_at moved), default entities: "
        f"CPU {ms(cpu_moved)}, state writes median {statistics.median(writes_moved):g}, "
        f"max {max(writes_moved)}",
    ]
    for label, window in (("idle hour", idle), ("charging hour", charging)):
        lines += [
            f"  {label:<14} {window.per_hour:6.0f} requests/h, {window.live_polls} live polls, "
            f"pace {window.pace()}",
            f"                 state writes {window.writes} "
            f"({window.writes / max(window.live_polls, 1):.1f} per live poll)",
            f"                 max in any minute {window.max_per_minute()}, connectivity reads "
            f"{window.count(CONNECTIVITY)} (max in a minute "
            f"{window.max_per_minute(CONNECTIVITY)}), 429s {window.status_429}",
            f"                 our requests in the rolling hour at a live poll: max "
            f"{max(window.hour_counts, default=0)} (the guard slows the live poll from 500)",
            "                 by endpoint: "
            + ", ".join(
                f"{name} {n}"
                for name, n in Counter(name for _, name, _ in window.requests).most_common()
            ),
        ]
    with capsys.disabled():
        print("\n".join(lines))


@pytest.mark.no_fail_on_log_exception
@pytest.mark.usefixtures("entity_registry_enabled_by_default")
@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size}x{size}")
async def test_scale_all_entities_enabled(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    socket_enabled: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    size: int,
) -> None:
    """The polls of test_scale with every entity enabled, the disabled-by-default ones too."""
    run, stop = await start_run(hass, freezer, size)
    try:
        run.count_writes(monkeypatch)
        await run.setup()
        await run.window(WARM_UP)
        entities = len(hass.states.async_entity_ids())
        cpu, writes, _, _ = await run.polls(tick=timedelta(0))
        cpu_moved, writes_moved, _, _ = await run.polls(tick=timedelta(seconds=1))
        assert await hass.config_entries.async_unload(run.entry.entry_id)
        await hass.async_block_till_done()
    finally:
        await stop()
    with capsys.disabled():
        print(
            f"\n  {size}x{size} with every entity enabled ({entities} entities): unchanged live "
            f"poll CPU {ms(cpu)}, state writes max {max(writes)}; only sampled_at moved: CPU "
            f"{ms(cpu_moved)}, state writes median {statistics.median(writes_moved):g}, "
            f"max {max(writes_moved)}"
        )


@pytest.mark.no_fail_on_log_exception
@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size}x{size}")
async def test_scale_setup_hanging(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    socket_enabled: None,
    capsys: pytest.CaptureFixture[str],
    size: int,
) -> None:
    """How long the entry's setup holds Home Assistant while prices/sessions/connectivity hang."""
    run, stop = await start_run(hass, freezer, size)
    try:
        fault = run.sim.faults.add("hang", None, path=HANGING)
        baseline = dt_util.utcnow()
        held, wall_held = await run.setup()
        # What the live poll itself took: its own requests, from the setup's start.
        live = [
            parse_time(r["time"])
            for r in run.sim.requests
            if endpoint(r["method"], r["path"]).startswith(LIVE)
        ]
        run.sim.faults.clear(fault.id)
        await run.window(WARM_UP)
        assert await hass.config_entries.async_unload(run.entry.entry_id)
        await hass.async_block_till_done()
    finally:
        await stop()
    last_live = (max(live) - baseline).total_seconds() if live else 0.0
    with capsys.disabled():
        print(
            f"\n  {size}x{size} setup with prices, sessions and connectivity hanging: held Home "
            f"Assistant {held:.1f} s simulated ({wall_held:.2f} s wall); the live poll's last "
            f"setup request at {last_live:.1f} s"
        )
