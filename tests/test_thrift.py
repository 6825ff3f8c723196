"""Fresher state for fewer requests: lean polls, no needless writes, a start-up never held up."""

from __future__ import annotations

from collections.abc import Generator
import copy
from datetime import UTC, datetime, timedelta
import time
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity import Entity
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from pytest_homeassistant_custom_component.test_util.aiohttp import (
    AiohttpClientMocker,
    AiohttpClientMockResponse,
)
from yarl import URL

from custom_components.ev_energy.api import SESSIONS_PAGE_SIZE, EvEnergyClient, StaticTokenAuth
from custom_components.ev_energy.const import IDLE_UPDATE_INTERVAL, UPDATE_INTERVAL
from custom_components.ev_energy.entity import ChangeFilter
from custom_components.ev_energy.sensor import VehicleSensor

from .conftest import (
    API,
    CONNECTIVITY_URL,
    EVSES_URL,
    PRICES_URL,
    SCHEDULES_URL,
    SESSIONS_URL,
    VEHICLE_ID,
    VEHICLES_URL,
    MockApi,
    setup_integration,
    state_of,
)

SOC = "sensor.family_car_state_of_charge"
CHARGER_PLUGGED_IN = "binary_sensor.hypervolt_home_3_0_plugged_in"


async def _tick(hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float) -> None:
    freezer.tick(timedelta(seconds=seconds))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


@pytest.fixture
def writes() -> Generator[list[str]]:
    """Entity ids in the order their state was written."""
    written: list[str] = []
    original = Entity.async_write_ha_state

    def counting(self: Entity) -> None:
        written.append(self.entity_id)
        original(self)

    with patch.object(Entity, "async_write_ha_state", counting):
        yield written


@pytest.mark.usefixtures("setup_credentials")
async def test_unchanged_poll_rewrites_only_what_moved(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
    writes: list[str],
) -> None:
    """A live poll that brings nothing new writes only the health figures that moved."""
    await setup_integration(hass, config_entry)
    await _tick(hass, freezer, 60)
    entities = len(hass.states.async_all())
    assert entities > 60

    writes.clear()
    await _tick(hass, freezer, 60)
    # Last successful update, which moves on every poll, is disabled by default.
    assert writes == ["sensor.ev_energy_account_api_requests_in_the_last_hour"]

    # One vehicle's charge rate changes: only that vehicle's entities are looked at again.
    writes.clear()
    mock_api.vehicles[0]["latest_status_log"]["charge_rate_watts"] = 3100
    await _tick(hass, freezer, 60)
    assert state_of(hass, "sensor.family_car_charge_power").state == "3.1"
    touched = {entity_id for entity_id in writes if "family_car" in entity_id}
    assert touched
    assert not [e for e in writes if "nissan" in e or "hypervolt" in e or "van" in e]


@pytest.mark.usefixtures("setup_credentials")
async def test_setup_waits_only_for_the_live_poll(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
) -> None:
    """Prices, sessions, plans and connectivity hanging do not hold up Home Assistant."""
    gates = [mock_api.hold(url) for url in (PRICES_URL, SESSIONS_URL, CONNECTIVITY_URL)]
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)

    assert config_entry.state is ConfigEntryState.LOADED
    assert state_of(hass, SOC).state == "63"
    assert state_of(hass, "sensor.family_car_last_session_energy").state == STATE_UNKNOWN

    for gate in gates:
        gate.set()
    await hass.async_block_till_done(wait_background_tasks=True)
    assert state_of(hass, "sensor.family_car_last_session_energy").state == "12.4"
    assert len(mock_api.calls(SCHEDULES_URL)) == 1, "the plan follows the sessions"


@pytest.mark.usefixtures("setup_credentials")
async def test_connectivity_reads_are_spread_out(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """30 chargers: a few reads every 5 minutes, each charger once an hour, never a burst."""
    chargers = [f"evse01HSH04KDEWF6Z4DB2J77J{n:04d}" for n in range(29)]
    urls = [CONNECTIVITY_URL, *(mock_api.add_charger(evse_id) for evse_id in chargers)]
    mock_api.user["evses"] = [f"{API}/evses/{e['id']}" for e in mock_api.evses]
    await setup_integration(hass, config_entry)
    await hass.async_block_till_done(wait_background_tasks=True)

    def reads() -> int:
        return sum(len(mock_api.calls(url)) for url in urls)

    per_slice = []
    for _ in range(12):
        before = reads()
        for _ in range(5):
            await _tick(hass, freezer, 60)
        per_slice.append(reads() - before)
    assert max(per_slice) <= 3, per_slice
    assert all(len(mock_api.calls(url)) in (1, 2) for url in urls)
    assert reads() <= 33
    # The live poll keeps its one-minute pace while a car charges.
    assert config_entry.runtime_data.live.update_interval == UPDATE_INTERVAL
    assert len(mock_api.calls(VEHICLES_URL)) >= 60


@pytest.mark.usefixtures("setup_credentials", "entity_registry_enabled_by_default")
async def test_only_a_new_sample_time_writes_only_last_seen(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
    writes: list[str],
) -> None:
    """A status that changed only its `sampled_at` rewrites only what counts from it.

    *Last seen* shows it; the charge finish time counts the (unchanged) time to full from it,
    here 13 minutes later.
    """
    await setup_integration(hass, config_entry)
    await _tick(hass, freezer, 60)
    writes.clear()
    mock_api.vehicles[0]["latest_status_log"]["sampled_at"] = "2026-11-22T10:11:00Z"
    await _tick(hass, freezer, 60)
    assert sorted(e for e in writes if "account" not in e) == [
        "sensor.family_car_charge_finish_time",
        "sensor.family_car_last_seen",
    ]


@pytest.mark.usefixtures("setup_credentials", "entity_registry_enabled_by_default")
async def test_only_a_new_sample_time_computes_only_what_shows_it(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The other sensors of a car whose only change is `sampled_at` are not even evaluated."""
    await setup_integration(hass, config_entry)
    await _tick(hass, freezer, 60)
    evaluated: list[str] = []
    original = VehicleSensor._shown_value

    def counting(self: VehicleSensor) -> object:
        evaluated.append(self.entity_id)
        return original(self)

    mock_api.vehicles[0]["latest_status_log"]["sampled_at"] = "2026-11-22T10:11:00Z"
    with patch.object(VehicleSensor, "_shown_value", counting):
        await _tick(hass, freezer, 60)
    assert evaluated == ["sensor.family_car_last_seen"]
    assert state_of(hass, "sensor.family_car_last_seen").state == "2026-11-22T10:11:00+00:00"

    evaluated.clear()
    mock_api.vehicles[0]["latest_status_log"]["state_of_charge_percentage"] = 64
    with patch.object(VehicleSensor, "_shown_value", counting):
        await _tick(hass, freezer, 60)
    assert SOC in evaluated
    assert state_of(hass, SOC).state == "64"


def _one_car_and_charger(mock_api: MockApi, *, plugged_in: bool) -> None:
    """The account's first car and its charger only, both plugged in or not, not charging."""
    mock_api.vehicles_page2 = []
    for status in (
        mock_api.vehicles[0]["latest_status_log"],
        mock_api.evses[0]["latest_status_log"],
    ):
        status.update(is_plugged_in=plugged_in, is_charging=False)


@pytest.mark.usefixtures("setup_credentials")
async def test_sessions_follow_charging(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Plugged in but not charging: sessions every 30 minutes; charging starts: read at once."""
    _one_car_and_charger(mock_api, plugged_in=True)
    await setup_integration(hass, config_entry)
    before = len(mock_api.calls(SESSIONS_URL))
    for _ in range(29):
        await _tick(hass, freezer, 60)
    assert len(mock_api.calls(SESSIONS_URL)) == before

    for status in (
        mock_api.vehicles[0]["latest_status_log"],
        mock_api.evses[0]["latest_status_log"],
    ):
        status.update(is_charging=True)
    for _ in range(3):
        await _tick(hass, freezer, 60)
    assert len(mock_api.calls(SESSIONS_URL)) == before + 2  # at once, and the 30-minute read
    for _ in range(20):
        await _tick(hass, freezer, 60)
    assert len(mock_api.calls(SESSIONS_URL)) == before + 4  # then every 10 minutes


async def test_sessions_read_a_page_per_fifty_vehicles(
    hass: HomeAssistant, aioclient_mock: AiohttpClientMocker
) -> None:
    """Each vehicle's latest session: with many vehicles more than one page is read."""
    pages = 0

    async def page(method: str, url: URL, data: object) -> AiohttpClientMockResponse:
        nonlocal pages
        pages += 1
        link = f'<{SESSIONS_URL}?page={pages + 1}>; rel="next"'
        return AiohttpClientMockResponse(method, url, json=[], headers={"Link": link})

    aioclient_mock.get(SESSIONS_URL, side_effect=page)
    session = aioclient_mock.create_session(hass.loop)
    client = EvEnergyClient(session, StaticTokenAuth("t"))
    await client.async_get_sessions(max_pages=1 + 120 // SESSIONS_PAGE_SIZE)
    await session.close()
    assert pages == 3


@pytest.mark.usefixtures("setup_credentials")
async def test_idle_chargers_read_every_other_poll_and_at_once_on_a_plug_in(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Nothing plugged in: chargers every 4 minutes; a car's plug-in reads them in that poll."""
    _one_car_and_charger(mock_api, plugged_in=False)
    car = mock_api.vehicles[0]["latest_status_log"]
    charger = mock_api.evses[0]["latest_status_log"]
    await setup_integration(hass, config_entry)
    await _tick(hass, freezer, 120)
    assert config_entry.runtime_data.live.update_interval == IDLE_UPDATE_INTERVAL
    vehicles, evses = len(mock_api.calls(VEHICLES_URL)), len(mock_api.calls(EVSES_URL))
    for _ in range(30):
        await _tick(hass, freezer, 120)
    assert len(mock_api.calls(VEHICLES_URL)) - vehicles == 30
    assert len(mock_api.calls(EVSES_URL)) - evses == 15

    # The last poll read the chargers, so the next would skip them: the car's plug-in reads
    # them in the same poll, and both show plugged in at once.
    for status in (car, charger):
        status.update(is_plugged_in=True)
    evses = len(mock_api.calls(EVSES_URL))
    await _tick(hass, freezer, 120)
    assert len(mock_api.calls(EVSES_URL)) == evses + 1
    assert state_of(hass, "binary_sensor.family_car_plugged_in").state == STATE_ON
    assert state_of(hass, CHARGER_PLUGGED_IN).state == STATE_ON


@pytest.mark.parametrize(
    ("car_integrated", "shown_after_polls"),
    [("ACTIVE", 2), ("INACTIVE", 1)],
    ids=["car_reports_its_plug", "no_car_reports_a_plug"],
)
@pytest.mark.usefixtures("setup_credentials")
async def test_a_charger_plug_in_no_car_reports(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
    car_integrated: str,
    shown_after_polls: int,
) -> None:
    """A charger plugged in with no car reporting it: shown within the 4-minute read.

    An account where no connected car reports its plug (here: the car is disconnected)
    reads the chargers on every idle poll, so the plug-in shows at the next one.
    """
    _one_car_and_charger(mock_api, plugged_in=False)
    mock_api.vehicles[0]["integrated"] = car_integrated
    await setup_integration(hass, config_entry)
    await _tick(hass, freezer, 120)
    await _tick(hass, freezer, 120)  # reads the chargers, 4 minutes after setup's read
    mock_api.evses[0]["latest_status_log"].update(is_plugged_in=True)
    for _ in range(shown_after_polls - 1):
        await _tick(hass, freezer, 120)
        assert state_of(hass, CHARGER_PLUGGED_IN).state == STATE_OFF
    await _tick(hass, freezer, 120)
    assert state_of(hass, CHARGER_PLUGGED_IN).state == STATE_ON


@pytest.mark.usefixtures("setup_credentials")
async def test_a_plug_in_only_the_charger_reports_reads_sessions_and_plan_at_once(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A car that reports no plug (no telematics) plugged in: the charger's report counts.

    Sessions are read right after the poll that sees it, and the new sub-session's plan right
    after them; once each, not again on the following polls.
    """
    _one_car_and_charger(mock_api, plugged_in=False)
    mock_api.vehicles[0]["latest_status_log"].update(is_plugged_in=None, is_charging=None)
    closed = mock_api.sessions[0]
    closed["end"] = closed["sub_sessions"][-1]["end"] = "2026-11-22T10:00:00Z"
    await setup_integration(hass, config_entry)
    await _tick(hass, freezer, 120)
    sessions = len(mock_api.calls(SESSIONS_URL))
    assert not [call for call in mock_api.calls() if "/schedules" in str(call[1])]

    # Plugged in: ev.energy opens a session, and the charger reports it.
    mock_api.sessions.insert(
        0,
        {
            **closed,
            "id": "cses01HSH04KDEWF6Z4DB2J77J7DDD",
            "start": "2026-11-22T10:13:00Z",
            "end": None,
            "sub_sessions": [{**closed["sub_sessions"][0], "id": "csub-NEW", "end": None}],
        },
    )
    mock_api.evses[0]["latest_status_log"].update(is_plugged_in=True)
    await _tick(hass, freezer, 120)
    assert state_of(hass, CHARGER_PLUGGED_IN).state == STATE_ON
    assert len(mock_api.calls(SESSIONS_URL)) == sessions + 1
    new_plan = f"{API}/charging_sub_sessions/csub-NEW/schedules"
    assert len(mock_api.calls(new_plan)) == 1

    for _ in range(5):
        await _tick(hass, freezer, 60)
    assert len(mock_api.calls(SESSIONS_URL)) == sessions + 1
    assert len(mock_api.calls(new_plan)) == 1


@pytest.mark.usefixtures("setup_credentials")
async def test_sessions_stretch_to_their_share_of_a_small_limit(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A limit of 250/h leaves the slower reads their minimum: sessions every 15 minutes."""
    mock_api.vehicles_page2 = []
    await setup_integration(hass, config_entry)
    config_entry.runtime_data.client.rate_limit_limit = 250
    before = len(mock_api.calls(SESSIONS_URL))
    for _ in range(61):
        await _tick(hass, freezer, 60)
    # 12 an hour at least, a third of it for sessions (one page): 4 reads an hour, not 6.
    assert len(mock_api.calls(SESSIONS_URL)) - before == 4


@pytest.mark.usefixtures("setup_credentials")
async def test_a_plan_re_read_without_room_keeps_the_copy_and_waits(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The plans' share used up: the 30-minute re-read waits for room, the copy stays."""
    mock_api.vehicles_page2 = []
    await setup_integration(hass, config_entry)
    runtime = config_entry.runtime_data
    runtime.client.rate_limit_limit = 250  # the slower reads' minimum: 8 plan reads an hour
    runtime.plans.budget.spend(time.monotonic(), 7)  # with setup's read, the hour's 8
    read_at = runtime.plans.data[VEHICLE_ID].read_at
    for _ in range(40):
        await _tick(hass, freezer, 60)
    assert len(mock_api.calls(SCHEDULES_URL)) == 1
    assert runtime.plans.data[VEHICLE_ID].read_at == read_at
    for _ in range(21):
        await _tick(hass, freezer, 60)
    assert len(mock_api.calls(SCHEDULES_URL)) == 2  # when setup's reads left the hour
    assert runtime.plans.data[VEHICLE_ID].read_at > read_at


PLAN_ENTITIES = (
    "sensor.{}_next_charge_start",
    "sensor.{}_planned_charge_end",
    "sensor.{}_planned_energy",
    "sensor.{}_planned_cost",
    "sensor.{}_planned_co2",
    "binary_sensor.{}_charging_planned",
    "calendar.{}_charging_calendar",
    "sensor.{}_charging_status",
)


def _cars_with_plans(mock_api: MockApi, count: int) -> list[str]:
    """`count` cars like the first, each charging in an open session of its own, no charger.

    Return each car's sub-session id.
    """
    car, session = mock_api.vehicles[0], mock_api.sessions[0]
    mock_api.vehicles_page2 = []
    mock_api.evses = []
    mock_api.user["evses"] = []
    mock_api.vehicles, mock_api.sessions, sub_sessions = [], [], []
    for n in range(1, count + 1):
        vehicle_id, sub_session_id = f"vhcl01HRFF3SEVSCRAV9B3CHVD{n:04d}", f"csub-{n}"
        mock_api.vehicles.append(
            {**copy.deepcopy(car), "id": vehicle_id, "description": f"Car {n}"}
        )
        sub_session = {**session["sub_sessions"][0], "id": sub_session_id}
        mock_api.sessions.append(
            {
                **session,
                "id": f"cses-{n}",
                "vehicle": f"{VEHICLES_URL}/{vehicle_id}",
                "evse": None,
                "sub_sessions": [sub_session],
            }
        )
        sub_sessions.append(sub_session_id)
    return sub_sessions


@pytest.mark.usefixtures("setup_credentials")
async def test_plans_write_only_what_changed(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
    writes: list[str],
) -> None:
    """Five cars' plans: what did not change is not written, nor even evaluated if it can tell.

    A re-read with the same answer, a price boundary and another car's slot boundary write
    none of a car's plan entities; a changed plan writes only what it changed.
    """
    sub_sessions = _cars_with_plans(mock_api, 5)
    await setup_integration(hass, config_entry)
    every = {e.format(f"car_{n}") for n in range(1, 6) for e in PLAN_ENTITIES}
    car_3 = {e.format("car_3") for e in PLAN_ENTITIES}
    assert all(hass.states.get(entity_id) for entity_id in every)
    evaluated: set[str] = set()
    original = ChangeFilter._evaluate

    def counting(self: ChangeFilter) -> object:
        evaluated.add(self.entity_id)
        return original(self)

    async def tick_until_plans_read(reads: int) -> None:
        """Tick a minute at a time until `reads` plans were read; `evaluated` is the last tick's."""
        for _ in range(31):
            if sum("/schedules" in str(call[1]) for call in mock_api.calls()) >= reads:
                return
            evaluated.clear()
            await _tick(hass, freezer, 60)
        pytest.fail(f"{reads} plan reads expected within 30 minutes")

    with patch.object(ChangeFilter, "_evaluate", counting):
        # Through the 10:30 price boundary to the 10:40 re-read of all five plans.
        writes.clear()
        await tick_until_plans_read(10)
        assert [e for e in writes if e in every] == []
        assert evaluated & every == set()

        # Car 3's plan now starts at 12:45: its next re-read (11:10) writes what that changes.
        plan = copy.deepcopy(mock_api.schedules)
        plan["schedules"][5]["interval_seconds"] = 900
        plan["schedules"].insert(6, {**plan["schedules"][6], "started_at": "2026-11-22T12:45:00Z"})
        mock_api.sub_session_schedules[sub_sessions[2]] = plan
        writes.clear()
        await tick_until_plans_read(15)
        assert evaluated & every == car_3
        # At 11:00 every calendar moved its open session's shown end on by an hour; the
        # current event (the session) is otherwise unchanged.
        assert sorted(e for e in writes if e in every) == [
            "binary_sensor.car_3_charging_planned",  # its planned dispatches
            *(f"calendar.car_{n}_charging_calendar" for n in range(1, 6)),
            "sensor.car_3_next_charge_start",
            "sensor.car_3_planned_co2",
            "sensor.car_3_planned_cost",
            "sensor.car_3_planned_energy",
        ]
        assert state_of(hass, "sensor.car_3_next_charge_start").state == (
            "2026-11-22T12:45:00+00:00"
        )

        # 12:45, car 3's slot starts: the other cars' plan entities are not even evaluated.
        freezer.move_to(datetime(2026, 11, 22, 12, 44, 30, tzinfo=UTC))
        async_fire_time_changed(hass)
        await hass.async_block_till_done(wait_background_tasks=True)
        writes.clear()
        evaluated.clear()
        await _tick(hass, freezer, 30)
    assert state_of(hass, "binary_sensor.car_3_charging_planned").state == STATE_ON
    assert evaluated & every == car_3
    # The calendar's current event becomes the slot that begins, within the open session.
    assert sorted(e for e in writes if e in every) == [
        "binary_sensor.car_3_charging_planned",
        "calendar.car_3_charging_calendar",
    ]
