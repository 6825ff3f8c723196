"""Numbers a user can rely on: writes racing polls, partial failures, blips, lifecycle."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from http import HTTPStatus
import logging

import freezegun.api
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.number import DOMAIN as NUMBER_DOMAIN
from homeassistant.components.number.const import ATTR_VALUE, SERVICE_SET_VALUE
from homeassistant.components.switch.const import DOMAIN as SWITCH_DOMAIN
from homeassistant.const import (
    ATTR_ENTITY_ID,
    SERVICE_TURN_OFF,
    SERVICE_TURN_ON,
    STATE_UNAVAILABLE,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.ev_energy.const import (
    FOLLOWER_MAX_BACKOFF,
    LIVE_RETRY_SOON,
    UPDATE_INTERVAL,
)

from .conftest import (
    API,
    CONNECTIVITY_URL,
    EVSE_ID,
    PRICES_URL,
    SCHEDULES_URL,
    SESSIONS_URL,
    VEHICLE_ID,
    VEHICLE_NO_STATUS_ID,
    VEHICLES_URL,
    Fault,
    MockApi,
    setup_integration,
    state_of,
)

CHARGE_LIMIT = "number.family_car_charge_limit"
SMART = "switch.family_car_smart_charging"
BOOST = "switch.family_car_boost"
SOC = "sensor.family_car_state_of_charge"
SECOND_EVSE_ID = "evse01HSH04KDEWF6Z4DB2J77J7ZZZ"


async def _tick(hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float) -> None:
    freezer.tick(timedelta(seconds=seconds))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


def _start_poll(hass: HomeAssistant, freezer: FrozenDateTimeFactory, every: timedelta) -> None:
    """Let the scheduled refresh begin without waiting for it to finish."""
    freezer.tick(every)
    async_fire_time_changed(hass)


async def _set_limit(hass: HomeAssistant, value: float) -> None:
    await hass.services.async_call(
        NUMBER_DOMAIN,
        SERVICE_SET_VALUE,
        {ATTR_ENTITY_ID: CHARGE_LIMIT, ATTR_VALUE: value},
        blocking=True,
    )


async def _switch(hass: HomeAssistant, entity_id: str, on: bool) -> None:
    await hass.services.async_call(
        SWITCH_DOMAIN,
        SERVICE_TURN_ON if on else SERVICE_TURN_OFF,
        {ATTR_ENTITY_ID: entity_id},
        blocking=True,
    )


async def _until(condition: Callable[[], bool]) -> None:
    """Run the loop (its clock standing still) until `condition` holds."""
    # The loop's clock is frozen, so the deadline is read off the real one.
    deadline = freezegun.api.real_monotonic() + 5
    while not condition():
        assert freezegun.api.real_monotonic() < deadline, "timed out"
        await asyncio.sleep(0)


def _vehicle(mock_api: MockApi) -> dict[str, object]:
    return next(v for v in mock_api.vehicles if v["id"] == VEHICLE_ID)


@pytest.mark.usefixtures("setup_credentials")
async def test_poll_in_flight_does_not_undo_charge_limit(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A poll that read 80 before the write confirmed 65 must not show 80 again."""
    await setup_integration(hass, config_entry)
    assert state_of(hass, CHARGE_LIMIT).state == "80"

    gate = mock_api.hold(VEHICLES_URL)
    _start_poll(hass, freezer, UPDATE_INTERVAL)
    await mock_api.wait_held(VEHICLES_URL)
    await _set_limit(hass, 65)
    assert state_of(hass, CHARGE_LIMIT).state == "65"

    del mock_api.gates[VEHICLES_URL]
    gate.set()
    await hass.async_block_till_done(wait_background_tasks=True)
    assert state_of(hass, CHARGE_LIMIT).state == "65"

    # A poll that began after the write is the truth again, whatever it says.
    await _tick(hass, freezer, 60)
    assert state_of(hass, CHARGE_LIMIT).state == "65"
    _vehicle(mock_api)["maximum_charge_limit_percentage"] = 70
    await _tick(hass, freezer, 60)
    assert state_of(hass, CHARGE_LIMIT).state == "70"


@pytest.mark.usefixtures("setup_credentials")
async def test_poll_in_flight_does_not_undo_smart_charging(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Turning smart charging off while a poll is in flight stays off."""
    await setup_integration(hass, config_entry)
    assert state_of(hass, SMART).state == "on"

    gate = mock_api.hold(VEHICLES_URL)
    _start_poll(hass, freezer, UPDATE_INTERVAL)
    await mock_api.wait_held(VEHICLES_URL)
    await _switch(hass, SMART, on=False)
    del mock_api.gates[VEHICLES_URL]
    gate.set()
    await hass.async_block_till_done(wait_background_tasks=True)

    assert state_of(hass, SMART).state == "off"
    # The charge limit the held poll read is not overlaid by anything stale either.
    assert state_of(hass, CHARGE_LIMIT).state == "80"


@pytest.mark.usefixtures("setup_credentials")
async def test_sessions_read_in_flight_does_not_undo_boost(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Boost stays on when a sessions read that started before it lands after it."""
    await setup_integration(hass, config_entry)
    assert state_of(hass, BOOST).state == "off"

    live = config_entry.runtime_data.live
    gate = mock_api.hold(SESSIONS_URL)
    _start_poll(hass, freezer, timedelta(minutes=10))
    await mock_api.wait_held(SESSIONS_URL)
    del mock_api.gates[SESSIONS_URL]
    # The switch's own follow-up read waits for the one in flight, as Home Assistant does.
    turn_on = hass.async_create_task(_switch(hass, BOOST, on=True))
    await _until(lambda: state_of(hass, BOOST).state == "on")

    # A live poll in between says nothing about the session.
    await _until(lambda: live.data_generation == live.refreshes_started)
    polls = live.refreshes_started
    _start_poll(hass, freezer, UPDATE_INTERVAL)
    await _until(lambda: live.data_generation > polls)
    assert state_of(hass, BOOST).state == "on"

    gate.set()
    await turn_on
    await hass.async_block_till_done(wait_background_tasks=True)
    assert state_of(hass, BOOST).state == "on"
    await _tick(hass, freezer, 10 * 60)
    assert state_of(hass, BOOST).state == "on"


@pytest.mark.usefixtures("setup_credentials")
async def test_one_charger_connectivity_failing_stays_its_own(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    entity_registry: er.EntityRegistry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A charger whose connectivity cannot be read loses only its own entities."""
    second_url = mock_api.add_charger(SECOND_EVSE_ID)
    mock_api.fail(second_url, Fault(status=HTTPStatus.NOT_FOUND), times=100)
    await setup_integration(hass, config_entry)

    def reliability(evse_id: str) -> str:
        entity_id = entity_registry.async_get_entity_id(
            "sensor", "ev_energy", f"{evse_id}_connection_reliability"
        )
        assert entity_id is not None
        return state_of(hass, entity_id).state

    # Connectivity is read a few chargers at a time: the second one 5 minutes in, and after
    # that first failure again 5 minutes later.
    for _ in range(2):
        await _tick(hass, freezer, 5 * 60)
    assert len(mock_api.calls(second_url)) == 2
    assert reliability(EVSE_ID) == "97"
    assert reliability(SECOND_EVSE_ID) == STATE_UNAVAILABLE
    for _ in range(2 * 12):
        await _tick(hass, freezer, 5 * 60)
        assert reliability(EVSE_ID) == "97"
        assert reliability(SECOND_EVSE_ID) == STATE_UNAVAILABLE
    warnings = [r for r in caplog.records if SECOND_EVSE_ID in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    # Retried with a back-off of its own (5, 10, 20, 40, 60 minutes), not every slice.
    assert len(mock_api.calls(second_url)) <= 6

    mock_api.faults[second_url].clear()
    for _ in range(12):
        await _tick(hass, freezer, 5 * 60)
    assert reliability(SECOND_EVSE_ID) == "97"


@pytest.mark.parametrize(
    ("url", "status"),
    [
        (CONNECTIVITY_URL, HTTPStatus.INTERNAL_SERVER_ERROR),
        (CONNECTIVITY_URL, HTTPStatus.NOT_FOUND),
        (SESSIONS_URL, HTTPStatus.FORBIDDEN),
        (SESSIONS_URL, HTTPStatus.INTERNAL_SERVER_ERROR),
        (PRICES_URL, HTTPStatus.FORBIDDEN),
    ],
    ids=["connectivity-500", "connectivity-404", "sessions-403", "sessions-500", "prices-403"],
)
@pytest.mark.usefixtures("setup_credentials")
async def test_failing_follower_backs_off(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
    url: str,
    status: HTTPStatus,
) -> None:
    """A data set that keeps failing on its own is not retried on every live poll.

    Over three hours of live polls every minute it backs off to at most one try an hour.
    """
    await setup_integration(hass, config_entry)
    mock_api.fail(url, Fault(status=status), times=10_000)
    before = len(mock_api.calls(url))
    live_before = len(mock_api.calls(VEHICLES_URL))

    for _ in range(3 * 60 * 2):
        await _tick(hass, freezer, 30)

    live_polls = len(mock_api.calls(VEHICLES_URL)) - live_before
    assert live_polls >= 170
    tries = len(mock_api.calls(url)) - before
    # 30 s, 1, 2, 4, 8, 16, 32 min, then hourly: about 10 in three hours, never one a poll.
    assert tries <= 12, tries
    assert timedelta(hours=1) == FOLLOWER_MAX_BACKOFF


@pytest.mark.usefixtures("setup_credentials")
async def test_one_failed_poll_is_a_blip(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A single 503 leaves every entity as it was and is retried within seconds."""
    mock_api.vehicles_page2 = []
    await setup_integration(hass, config_entry)
    before = {state.entity_id: state.state for state in hass.states.async_all()}
    mock_api.fail(VEHICLES_URL, Fault(status=HTTPStatus.SERVICE_UNAVAILABLE))
    _vehicle(mock_api)["latest_status_log"]["state_of_charge_percentage"] = 64  # type: ignore[index]

    await _tick(hass, freezer, 60)
    assert not [
        entity_id
        for entity_id, state in before.items()
        if state != STATE_UNAVAILABLE and hass.states.get(entity_id).state == STATE_UNAVAILABLE  # type: ignore[union-attr]
    ]
    calls = len(mock_api.calls(VEHICLES_URL))
    await _tick(hass, freezer, LIVE_RETRY_SOON.total_seconds())
    assert len(mock_api.calls(VEHICLES_URL)) == calls + 1
    assert state_of(hass, SOC).state == "64"


@pytest.mark.usefixtures("setup_credentials")
async def test_unknown_tariff_zone_logged_once(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An unknown time zone is reported once per tariff, not on every state read."""
    mock_api.tariff["timezone_name"] = "Mars/Olympus_Mons"
    await setup_integration(hass, config_entry)
    for _ in range(40):
        await _tick(hass, freezer, 60)
    warnings = [r for r in caplog.records if "Mars/Olympus_Mons" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING


@pytest.mark.usefixtures("setup_credentials")
async def test_unload_during_price_fetch_leaves_no_timer(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A price fetch that lands after unload arms nothing and sends nothing."""
    await setup_integration(hass, config_entry)
    prices = config_entry.runtime_data.prices
    # Known only until 10:30 (it is 10:10): the fetch would arm a boundary and a horizon timer.
    mock_api.prices = [p for p in mock_api.prices if p["started_at"] == "2026-11-22T10:00:00Z"]
    assert mock_api.prices
    gate = mock_api.hold(PRICES_URL)
    hass.async_create_task(prices.async_refresh())
    await mock_api.wait_held(PRICES_URL)

    assert await hass.config_entries.async_unload(config_entry.entry_id)
    gate.set()
    await hass.async_block_till_done(wait_background_tasks=True)

    assert not prices.timers.armed("boundary")
    assert not prices.timers.armed("horizon")
    sent = len(mock_api.calls())
    for _ in range(8):
        await _tick(hass, freezer, 15 * 60)
    assert len(mock_api.calls()) == sent


@pytest.mark.usefixtures("setup_credentials")
async def test_unreadable_write_answer_says_so(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
) -> None:
    """A write whose answer cannot be read is not reported as 'could not reach'."""
    await setup_integration(hass, config_entry)
    mock_api.aioclient_mock.clear_requests()
    mock_api.aioclient_mock.patch(f"{VEHICLES_URL}/{VEHICLE_ID}", text="{not json")

    with pytest.raises(HomeAssistantError) as err:
        await _set_limit(hass, 65)

    assert err.value.translation_key == "invalid_response"
    assert state_of(hass, CHARGE_LIMIT).state == "80"


# The second vehicle's sub-session once its session is open too (see _two_cars_plugged_in).
SECOND_SCHEDULES_URL = f"{API}/charging_sub_sessions/csub01HSH04KDEWF6Z4DB2J77J7BB2/schedules"


def _two_cars_plugged_in(mock_api: MockApi) -> None:
    """Open the second vehicle's latest session too: both have a plan to read."""
    session = next(s for s in mock_api.sessions if s["vehicle"].endswith(VEHICLE_NO_STATUS_ID))
    session["end"] = None
    newest = max(session["sub_sessions"], key=lambda sub: sub["start"])
    assert SECOND_SCHEDULES_URL.endswith(f"/{newest['id']}/schedules")
    newest["end"] = None


def _plan_states(
    hass: HomeAssistant, entity_registry: er.EntityRegistry, vehicle_id: str
) -> dict[str, str]:
    """The vehicle's plan entities' states, by key."""
    states = {}
    for platform, key in (
        ("sensor", "next_charge_start"),
        ("sensor", "planned_energy"),
        ("binary_sensor", "charging_planned"),
        ("calendar", "charging"),
    ):
        entity_id = entity_registry.async_get_entity_id(
            platform, "ev_energy", f"{vehicle_id}_{key}"
        )
        assert entity_id is not None
        states[key] = state_of(hass, entity_id).state
    return states


def _told(caplog: pytest.LogCaptureFixture, vehicle_id: str) -> list[int]:
    """The levels of what the plans said about the vehicle, info and above."""
    return [
        r.levelno
        for r in caplog.records
        if r.name.endswith("plan_coordinator")
        and r.levelno >= logging.INFO
        and vehicle_id in r.getMessage()
    ]


@pytest.mark.usefixtures("setup_credentials")
async def test_one_car_plan_refused_stays_its_own(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    entity_registry: er.EntityRegistry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A car whose plan answers 404 loses only its own plan entities, and backs off alone."""
    _two_cars_plugged_in(mock_api)
    mock_api.fail(SECOND_SCHEDULES_URL, Fault(status=HTTPStatus.NOT_FOUND), times=10_000)
    await setup_integration(hass, config_entry)

    first = _plan_states(hass, entity_registry, VEHICLE_ID)
    assert first["next_charge_start"] == "2026-11-22T13:00:00+00:00"
    assert set(_plan_states(hass, entity_registry, VEHICLE_NO_STATUS_ID).values()) == {
        STATE_UNAVAILABLE
    }
    for _ in range(3 * 60):
        await _tick(hass, freezer, 60)
        # Its plan goes on (its first slot starts at 13:00).
        assert STATE_UNAVAILABLE not in _plan_states(hass, entity_registry, VEHICLE_ID).values()
        assert set(_plan_states(hass, entity_registry, VEHICLE_NO_STATUS_ID).values()) == {
            STATE_UNAVAILABLE
        }
    # The first car is read every 30 minutes as before; the second backs off from 30
    # minutes (a refusal) to hourly: at setup, 30, 90 and 150 minutes in.
    assert len(mock_api.calls(SCHEDULES_URL)) == 7
    assert len(mock_api.calls(SECOND_SCHEDULES_URL)) == 4
    assert _told(caplog, VEHICLE_NO_STATUS_ID) == [logging.WARNING]

    mock_api.faults[SECOND_SCHEDULES_URL].clear()
    for _ in range(60):
        await _tick(hass, freezer, 60)
    assert _plan_states(hass, entity_registry, VEHICLE_NO_STATUS_ID) == _plan_states(
        hass, entity_registry, VEHICLE_ID
    )
    assert _told(caplog, VEHICLE_NO_STATUS_ID) == [logging.WARNING, logging.INFO]


@pytest.mark.usefixtures("setup_credentials")
async def test_one_car_plan_failing_twice_stays_its_own(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    entity_registry: er.EntityRegistry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Two 500s for one car's plan: its copy survives the first, only its entities the second.

    Both plans are re-read at 10:40; the second car's retries follow 30 s, then a minute later.
    """
    _two_cars_plugged_in(mock_api)
    await setup_integration(hass, config_entry)
    first = _plan_states(hass, entity_registry, VEHICLE_ID)
    second = _plan_states(hass, entity_registry, VEHICLE_NO_STATUS_ID)
    assert second["next_charge_start"] == "2026-11-22T13:00:00+00:00"
    mock_api.fail(SECOND_SCHEDULES_URL, Fault(status=HTTPStatus.INTERNAL_SERVER_ERROR), times=2)

    for _ in range(30):
        await _tick(hass, freezer, 60)
    assert len(mock_api.calls(SECOND_SCHEDULES_URL)) == 2
    assert _plan_states(hass, entity_registry, VEHICLE_NO_STATUS_ID) == second

    await _tick(hass, freezer, 30)
    assert len(mock_api.calls(SECOND_SCHEDULES_URL)) == 3
    assert set(_plan_states(hass, entity_registry, VEHICLE_NO_STATUS_ID).values()) == {
        STATE_UNAVAILABLE
    }
    assert _plan_states(hass, entity_registry, VEHICLE_ID) == first

    await _tick(hass, freezer, 60)
    assert len(mock_api.calls(SECOND_SCHEDULES_URL)) == 4
    assert _plan_states(hass, entity_registry, VEHICLE_NO_STATUS_ID) == second
    assert _plan_states(hass, entity_registry, VEHICLE_ID) == first
    # The first car's plan was read at setup and at 10:40 only.
    assert len(mock_api.calls(SCHEDULES_URL)) == 2
    assert _told(caplog, VEHICLE_NO_STATUS_ID) == [logging.WARNING, logging.INFO]


@pytest.mark.usefixtures("setup_credentials")
async def test_plans_of_several_cars_are_read_together(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The cars' plans due together are requested together, not one after the other."""
    _two_cars_plugged_in(mock_api)
    await setup_integration(hass, config_entry)
    gate = mock_api.hold(SCHEDULES_URL)
    _start_poll(hass, freezer, timedelta(minutes=30))
    await mock_api.wait_held(SCHEDULES_URL, count=2)
    gate.set()
    await hass.async_block_till_done(wait_background_tasks=True)
    assert len(mock_api.calls(SCHEDULES_URL)) == len(mock_api.calls(SECOND_SCHEDULES_URL)) == 2
