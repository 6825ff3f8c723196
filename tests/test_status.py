"""The charging status explanation (no Home Assistant): every state from OpenAPI-shaped data."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from decimal import Decimal
import logging
from typing import Any

import pytest

from custom_components.ev_energy import status as status_module
from custom_components.ev_energy.api import (
    ChargingSession,
    Evse,
    PriceSchedule,
    ScheduleInterval,
    Vehicle,
)
from custom_components.ev_energy.plan import ChargePlan, Voltage, VoltageSource, merge_slots
from custom_components.ev_energy.status import (
    ChargingStatus,
    StatusExplanation,
    charger_offline,
    explain,
    next_change,
)

from .api.fake_api import load_fixture

# The fixtures' instant: the car's status was sampled at 09:58, the charger's at 09:59.
NOW = datetime(2026, 11, 22, 10, 10, tzinfo=UTC)
SLOT_START = "2026-11-22T11:00:00Z"
_TICK = timedelta(microseconds=1)


def raw_vehicle() -> dict[str, Any]:
    """The Tesla of vehicles.json: ACTIVE, plugged in, charging, smart charging, limit 80 %."""
    return copy.deepcopy(load_fixture("vehicles.json")[0])


def raw_evse() -> dict[str, Any]:
    return copy.deepcopy(load_fixture("evses.json")[0])


def raw_session() -> dict[str, Any]:
    """The Tesla's open session (one SMART sub-session) on the charger of evses.json."""
    return copy.deepcopy(load_fixture("charging_sessions.json")[0])


def plan_of(*starts: str, now: datetime = NOW) -> ChargePlan:
    intervals = [
        ScheduleInterval.from_api(
            {
                "started_at": start,
                "interval_seconds": 1800,
                "current_milliamps": 32000,
                "schedule_type": "SMART",
            }
        )
        for start in starts
    ]
    return ChargePlan(
        merge_slots(intervals),
        voltage=Voltage(volts=Decimal(230), source=VoltageSource.COUNTRY),
        prices=PriceSchedule(),
        carbon_intensity=None,
    )


def run(
    vehicle: dict[str, Any],
    *,
    evse: dict[str, Any] | None = None,
    session: dict[str, Any] | None = None,
    plan: ChargePlan | None = None,
    now: datetime = NOW,
) -> StatusExplanation | None:
    evses = {} if evse is None else {evse["id"]: Evse.from_api(evse)}
    return explain(
        Vehicle.from_api(vehicle),
        session=ChargingSession.from_api(session) if session else None,
        evses=evses,
        plan=plan or plan_of(),
        now=now,
    )


def not_charging(vehicle: dict[str, Any], soc: int = 63) -> dict[str, Any]:
    log = vehicle["latest_status_log"]
    log.update(
        is_charging=False,
        charge_rate_watts=0,
        state="PLUGGED_IN_NOT_CHARGING",
        is_complete=False,
        state_of_charge_percentage=soc,
    )
    return vehicle


def idle_charger(evse: dict[str, Any]) -> dict[str, Any]:
    evse["latest_status_log"].update(is_charging=False, control_pilot_status="B")
    return evse


@pytest.fixture(autouse=True)
def _forget_reported() -> None:
    status_module._reported_unknown.clear()


def test_charging() -> None:
    result = run(raw_vehicle(), evse=raw_evse(), session=raw_session())
    assert result == StatusExplanation(state=ChargingStatus.CHARGING)
    assert result.attributes == {"next_charge_start": None}


def test_charging_boost() -> None:
    session = raw_session()
    session["sub_sessions"][0]["mode"] = "BOOST"
    result = run(raw_vehicle(), evse=raw_evse(), session=session)
    assert result == StatusExplanation(state=ChargingStatus.CHARGING_BOOST)


def test_boost_without_power_is_not_charging_boost() -> None:
    """A boost sub-session whose car draws nothing is explained by the other fields."""
    session = raw_session()
    session["sub_sessions"][0]["mode"] = "BOOST"
    vehicle = not_charging(raw_vehicle(), soc=80)
    result = run(vehicle, evse=idle_charger(raw_evse()), session=session)
    assert result == StatusExplanation(state=ChargingStatus.LIMIT_REACHED)


def test_vehicle_disconnected_wins_over_everything() -> None:
    vehicle = raw_vehicle()
    vehicle["integrated"] = "INACTIVE"
    evse = raw_evse()
    evse["latest_status_log"]["sampled_at"] = "2026-11-22T08:00:00Z"
    result = run(vehicle, evse=evse, session=raw_session())
    assert result == StatusExplanation(state=ChargingStatus.VEHICLE_DISCONNECTED)


def test_vehicle_disconnected_without_status_log() -> None:
    """The Leaf of vehicles.json: INACTIVE with a null latest_status_log."""
    leaf = copy.deepcopy(load_fixture("vehicles.json")[1])
    assert run(leaf) == StatusExplanation(state=ChargingStatus.VEHICLE_DISCONNECTED)


@pytest.mark.parametrize(
    ("sampled_at", "pilot", "offline"),
    [
        ("2026-11-22T09:40:00Z", "C", False),  # 30 minutes old: still online
        ("2026-11-22T09:39:59Z", "C", True),  # older than 30 minutes
        ("2026-11-22T10:09:00Z", "E", True),  # J1772 E: no power (shut off)
        ("2026-11-22T10:09:00Z", "F", False),  # a fault is not offline
        (None, "C", False),  # no sample time: age unknown
    ],
)
def test_charger_offline_rule(sampled_at: str | None, pilot: str, offline: bool) -> None:
    evse = raw_evse()
    evse["latest_status_log"].update(sampled_at=sampled_at, control_pilot_status=pilot)
    assert charger_offline(Evse.from_api(evse), NOW) is offline


def test_charger_without_status_log_is_not_offline() -> None:
    evse = raw_evse()
    evse["latest_status_log"] = None
    assert charger_offline(Evse.from_api(evse), NOW) is False


def test_charger_offline_wins_over_not_plugged_in() -> None:
    """The charger of the car's latest session is offline: plugging in will not help."""
    vehicle = raw_vehicle()
    vehicle["latest_status_log"].update(is_plugged_in=False, is_charging=False)
    evse = raw_evse()
    evse["latest_status_log"]["sampled_at"] = "2026-11-22T09:00:00Z"
    result = run(vehicle, evse=evse, session=raw_session())
    assert result == StatusExplanation(state=ChargingStatus.CHARGER_OFFLINE)


def test_offline_charger_of_another_car_does_not_matter() -> None:
    """Only the charger of this vehicle's latest session counts."""
    evse = raw_evse()
    evse["latest_status_log"]["sampled_at"] = "2026-11-22T09:00:00Z"
    result = run(raw_vehicle(), evse=evse, session=None)
    assert result == StatusExplanation(state=ChargingStatus.CHARGING)


def test_not_plugged_in() -> None:
    """The van of vehicles_page2.json: unplugged, everything else null."""
    van = copy.deepcopy(load_fixture("vehicles_page2.json")[0])
    assert run(van) == StatusExplanation(state=ChargingStatus.NOT_PLUGGED_IN)


def test_not_plugged_in_wins_over_charging() -> None:
    vehicle = raw_vehicle()
    vehicle["latest_status_log"]["is_plugged_in"] = False
    assert run(vehicle) == StatusExplanation(state=ChargingStatus.NOT_PLUGGED_IN)


@pytest.mark.parametrize(
    "complete",
    [{"is_complete": True}, {"state": "PLUGGED_IN_COMPLETE"}],
)
def test_complete(complete: dict[str, Any]) -> None:
    vehicle = not_charging(raw_vehicle(), soc=80)
    vehicle["latest_status_log"].update(complete)
    result = run(vehicle, evse=idle_charger(raw_evse()), session=raw_session())
    assert result == StatusExplanation(state=ChargingStatus.COMPLETE)


def test_limit_reached() -> None:
    """Not complete by the car's own target, but at ev.energy's charge limit."""
    vehicle = not_charging(raw_vehicle(), soc=80)
    result = run(vehicle, evse=idle_charger(raw_evse()), session=raw_session())
    assert result == StatusExplanation(state=ChargingStatus.LIMIT_REACHED)


def test_limit_reached_wins_over_a_planned_slot() -> None:
    vehicle = not_charging(raw_vehicle(), soc=81)
    result = run(vehicle, session=raw_session(), plan=plan_of(SLOT_START))
    assert result == StatusExplanation(state=ChargingStatus.LIMIT_REACHED)


def test_waiting_for_planned_slot() -> None:
    vehicle = not_charging(raw_vehicle())
    result = run(
        vehicle,
        evse=idle_charger(raw_evse()),
        session=raw_session(),
        plan=plan_of("2026-11-22T09:00:00Z", SLOT_START, "2026-11-22T12:00:00Z"),
    )
    start = datetime(2026, 11, 22, 11, 0, tzinfo=UTC)
    assert result == StatusExplanation(
        state=ChargingStatus.WAITING_FOR_PLANNED_SLOT, next_charge_start=start
    )
    assert result.attributes == {"next_charge_start": "2026-11-22T11:00:00+00:00"}


def test_not_charging_inside_a_planned_slot_is_unknown() -> None:
    vehicle = not_charging(raw_vehicle())
    plan = plan_of("2026-11-22T10:00:00Z", SLOT_START)
    assert run(vehicle, session=raw_session(), plan=plan) is None


def test_smart_charging_off_not_charging() -> None:
    vehicle = not_charging(raw_vehicle())
    vehicle["smart_charging_enabled"] = False
    result = run(vehicle, evse=idle_charger(raw_evse()), session=raw_session())
    assert result == StatusExplanation(state=ChargingStatus.SMART_CHARGING_OFF_NOT_CHARGING)


def test_planned_slot_wins_over_smart_charging_off() -> None:
    """Smart charging turned off while a plan is still known: the issue's order says wait."""
    vehicle = not_charging(raw_vehicle())
    vehicle["smart_charging_enabled"] = False
    result = run(vehicle, session=raw_session(), plan=plan_of(SLOT_START))
    assert result is not None
    assert result.state is ChargingStatus.WAITING_FOR_PLANNED_SLOT


def test_charger_reports_for_a_vehicle_without_telematics() -> None:
    """A null plug and charging state is read from the charger of the open session."""
    vehicle = raw_vehicle()
    vehicle["latest_status_log"].update(is_plugged_in=None, is_charging=None)
    assert run(vehicle, evse=raw_evse(), session=raw_session()) == StatusExplanation(
        state=ChargingStatus.CHARGING
    )
    closed = raw_session()
    closed["end"] = "2026-11-22T10:00:00Z"
    # Once the session has ended the charger no longer speaks for this car.
    assert run(vehicle, evse=raw_evse(), session=closed) is None


def test_unknown_combination_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    """Plugged in, not charging, smart charging on, nothing planned: nothing documented says why."""
    vehicle = not_charging(raw_vehicle())
    with caplog.at_level(logging.INFO, logger=status_module.__name__):
        assert run(vehicle, session=raw_session()) is None
        assert run(vehicle, session=raw_session(), now=NOW + timedelta(minutes=1)) is None
    messages = [r.getMessage() for r in caplog.records if r.name == status_module.__name__]
    assert len(messages) == 1
    assert "vhcl01HRFF3SEVSCRAV9B3CHVDFN0H" in messages[0]


def test_unknown_when_the_status_log_is_null() -> None:
    vehicle = raw_vehicle()
    vehicle["latest_status_log"] = None
    assert run(vehicle) is None


def test_charging_wins_over_complete() -> None:
    """Still drawing power at the target (e.g. topping up): charging, as reported."""
    vehicle = raw_vehicle()
    vehicle["latest_status_log"].update(is_complete=True, state_of_charge_percentage=80)
    result = run(vehicle, evse=raw_evse(), session=raw_session())
    assert result == StatusExplanation(state=ChargingStatus.CHARGING)


def when(
    vehicle: dict[str, Any],
    *,
    evse: dict[str, Any] | None = None,
    session: dict[str, Any] | None = None,
    plan: ChargePlan | None = None,
) -> datetime | None:
    evses = {} if evse is None else {evse["id"]: Evse.from_api(evse)}
    return next_change(
        Vehicle.from_api(vehicle),
        session=ChargingSession.from_api(session) if session else None,
        evses=evses,
        plan=plan or plan_of(),
        now=NOW,
    )


def test_next_change_is_when_the_silent_charger_turns_offline() -> None:
    """Sampled at 09:59: charging up to 10:29 itself, offline from the next instant."""
    flip = when(raw_vehicle(), evse=raw_evse(), session=raw_session())
    assert flip == datetime(2026, 11, 22, 10, 29, 0, 1, tzinfo=UTC)
    before = run(raw_vehicle(), evse=raw_evse(), session=raw_session(), now=flip - _TICK)
    assert before == StatusExplanation(state=ChargingStatus.CHARGING)
    at = run(raw_vehicle(), evse=raw_evse(), session=raw_session(), now=flip)
    assert at == StatusExplanation(state=ChargingStatus.CHARGER_OFFLINE)


def test_next_change_is_a_slot_boundary_when_sooner() -> None:
    """A slot starting at 10:15 (and ending at 10:45) comes before the charger's 10:29."""
    plan = plan_of("2026-11-22T10:15:00Z")
    assert when(raw_vehicle(), evse=raw_evse(), session=raw_session(), plan=plan) == datetime(
        2026, 11, 22, 10, 15, tzinfo=UTC
    )
    # Without a charger only the plan moves with time.
    assert when(raw_vehicle(), plan=plan) == datetime(2026, 11, 22, 10, 15, tzinfo=UTC)
    assert when(raw_vehicle()) is None


def test_no_next_change_while_offline_or_disconnected() -> None:
    """Offline (silent or E) and disconnected outrank the plan, and only new data ends them."""
    plan = plan_of(SLOT_START)
    silent = raw_evse()
    silent["latest_status_log"]["sampled_at"] = "2026-11-22T09:00:00Z"
    assert when(raw_vehicle(), evse=silent, session=raw_session(), plan=plan) is None
    shut_off = raw_evse()
    shut_off["latest_status_log"]["control_pilot_status"] = "E"
    assert when(raw_vehicle(), evse=shut_off, session=raw_session(), plan=plan) is None
    leaf = copy.deepcopy(load_fixture("vehicles.json")[1])
    assert when(leaf, evse=raw_evse(), session=raw_session(), plan=plan) is None
