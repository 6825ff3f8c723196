"""The session meter: one cycle per charging session, never dropping within one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from custom_components.ev_energy.api import ChargingSession, SessionMeter, SubSession

NOW = datetime(2026, 11, 22, 10, 12, 30, 123456, tzinfo=UTC)
A_START = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
B_START = datetime(2026, 11, 22, 10, 21, tzinfo=UTC)


def _session(session_id: str, start: datetime | None, *watt_hours: int | None) -> ChargingSession:
    return ChargingSession(
        id=session_id,
        start=start,
        end=None,
        vehicle_id="vhcl1",
        evse_id=None,
        sub_sessions=tuple(
            SubSession(
                id=None,
                start=start,
                end=None,
                mode=None,
                energy_watt_hours=wh,
                cost_minor_units=None,
                currency=None,
                co2_grams=None,
                savings_minor_units=None,
            )
            for wh in watt_hours
        ),
    )


def _meter(session: ChargingSession) -> SessionMeter:
    meter = SessionMeter.first(session, NOW)
    assert meter is not None
    return meter


def test_first_session_starts_a_cycle_at_its_start() -> None:
    """The cycle begins when the session began."""
    meter = _meter(_session("A", A_START, 12400, 600))
    assert (meter.session_id, meter.cycle_start, meter.energy_watt_hours) == ("A", A_START, 13000)


@pytest.mark.parametrize("session", [None, _session("A", A_START), _session("A", A_START, None)])
def test_no_meter_until_a_figure(session: ChargingSession | None) -> None:
    """No session, or one without any energy figure yet, is no reading."""
    assert SessionMeter.first(session, NOW) is None
    meter = _meter(_session("Z", A_START, 100))
    assert meter.read(session, NOW) is meter


def test_session_without_start_begins_when_first_seen() -> None:
    """Whole seconds, so the instant survives storage and statistics exactly."""
    assert _meter(_session("A", None, 100)).cycle_start == NOW.replace(microsecond=0)


def test_same_session_never_drops() -> None:
    """A late, lower figure keeps the high-water mark; a higher one moves it."""
    meter = _meter(_session("A", A_START, 12400, 2600))
    assert meter.read(_session("A", A_START, 12400), NOW) is meter
    grown = meter.read(_session("A", A_START, 12400, 3600), NOW)
    assert (grown.cycle_start, grown.energy_watt_hours) == (A_START, 16000)


def test_same_session_keeps_its_cycle_when_its_start_changes() -> None:
    """A start that appears later (or is corrected) must not start a second cycle."""
    meter = _meter(_session("A", None, 100))
    later = meter.read(_session("A", A_START, 200), NOW + timedelta(hours=1))
    assert (later.cycle_start, later.energy_watt_hours) == (meter.cycle_start, 200)


def test_newer_session_is_a_new_cycle_whatever_its_figure() -> None:
    """Even above the last session's figure, a new session starts from its own start."""
    meter = _meter(_session("A", A_START, 15000)).read(_session("B", B_START, 16000), NOW)
    assert (meter.session_id, meter.cycle_start, meter.energy_watt_hours) == ("B", B_START, 16000)


def test_older_session_reappearing_is_ignored() -> None:
    """The newest session briefly missing from the list must not bring the older one back."""
    meter = _meter(_session("A", A_START, 15000)).read(_session("B", B_START, 2000), NOW)
    assert meter.read(_session("A", A_START, 15000), NOW) is meter


def test_new_cycle_always_after_the_previous_one() -> None:
    """A new session starting before the (first-seen) cycle start still gets a later cycle."""
    meter = _meter(_session("A", None, 100))
    newer = meter.read(_session("B", NOW - timedelta(minutes=5), 50), NOW)
    assert newer.session_id == "B"
    assert newer.cycle_start == meter.cycle_start + timedelta(seconds=1)


def test_round_trip() -> None:
    """What is stored at shutdown is what comes back."""
    for meter in (_meter(_session("A", A_START, 15000)), _meter(_session("A", None, 15000))):
        assert SessionMeter.from_dict(meter.as_dict()) == meter


@pytest.mark.parametrize(
    "change",
    [
        {"session_id": None},
        {"energy_watt_hours": "15000"},
        {"energy_watt_hours": 15.5},
        {"energy_watt_hours": True},
        {"cycle_start": None},
        {"cycle_start": "yesterday"},
        {"session_start": "2026-11-22T08:00:00"},
    ],
)
def test_malformed_stored_data_is_dropped(change: dict[str, Any]) -> None:
    """Unreadable stored data gives no meter (a fresh start), never a wrong one."""
    stored = _meter(_session("A", A_START, 15000)).as_dict() | change
    assert SessionMeter.from_dict(stored) is None
