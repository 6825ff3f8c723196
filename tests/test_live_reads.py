"""When the live poll reads the chargers (pure logic, no Home Assistant)."""

from __future__ import annotations

from custom_components.ev_energy.api import Vehicle
from custom_components.ev_energy.live_reads import (
    CHARGERS_IDLE_READ_INTERVAL,
    CHARGERS_READ_SLACK,
    chargers_due,
    vehicle_plug_changed,
    vehicles_watch_plugs,
)

IDLE = CHARGERS_IDLE_READ_INTERVAL.total_seconds()
SLACK = CHARGERS_READ_SLACK.total_seconds()


def _vehicle(
    vehicle_id: str, plugged: bool | None, charging: bool | None, integrated: str = "ACTIVE"
) -> Vehicle:
    status = {"sampled_at": "2026-11-22T10:00:00Z"}
    if plugged is not None:
        status["is_plugged_in"] = plugged  # type: ignore[assignment]
    if charging is not None:
        status["is_charging"] = charging  # type: ignore[assignment]
    return Vehicle.from_api(
        {"id": vehicle_id, "integrated": integrated, "latest_status_log": status}
    )


def test_idle_chargers_are_read_every_other_two_minute_poll() -> None:
    """Idle at the 2-minute pace: read, skip, read, ... (15 reads an hour instead of 30)."""
    last_read: float | None = None
    reads = 0
    for poll in range(30):
        now = poll * 120.0
        if chargers_due(now=now, last_read=last_read, active=False, requested=False, watched=True):
            reads += 1
            last_read = now
    assert reads == 15


def test_a_slightly_early_timer_still_counts_as_due() -> None:
    """Poll timers jitter: a read due at 4 minutes is made at 3.5 minutes too, not sooner."""
    assert chargers_due(
        now=IDLE - SLACK, last_read=0.0, active=False, requested=False, watched=True
    )
    assert not chargers_due(
        now=IDLE - SLACK - 1, last_read=0.0, active=False, requested=False, watched=True
    )


def test_active_requested_or_never_read_reads_at_once() -> None:
    """Charging or just plugged in, a refresh someone asked for, or the first poll: read."""
    assert chargers_due(now=1.0, last_read=0.0, active=True, requested=False, watched=True)
    assert chargers_due(now=1.0, last_read=0.0, active=False, requested=True, watched=True)
    assert chargers_due(now=1.0, last_read=None, active=False, requested=False, watched=True)
    assert not chargers_due(now=1.0, last_read=0.0, active=False, requested=False, watched=True)


def test_vehicle_plug_changed() -> None:
    """A known car reporting another plug or charging state is a change; unknowns are not."""
    known = {"a": (False, False), "b": (True, True)}
    assert not vehicle_plug_changed(known, [_vehicle("a", False, False), _vehicle("b", True, True)])
    assert vehicle_plug_changed(known, [_vehicle("a", True, False)])
    assert vehicle_plug_changed(known, [_vehicle("b", True, False)])
    # A car not seen before, and a car without a status, say nothing.
    assert not vehicle_plug_changed(known, [_vehicle("c", True, True)])
    assert not vehicle_plug_changed(
        known, [Vehicle.from_api({"id": "a", "latest_status_log": None})]
    )


def test_chargers_are_read_every_poll_while_no_car_reports_its_plug() -> None:
    """Without a connected car that reports its plug, only the chargers tell of a plug-in."""
    assert chargers_due(now=1.0, last_read=0.0, active=False, requested=False, watched=False)
    assert vehicles_watch_plugs([_vehicle("a", False, None)])
    assert not vehicles_watch_plugs([])
    assert not vehicles_watch_plugs([_vehicle("a", None, None)])
    assert not vehicles_watch_plugs([_vehicle("a", False, False, integrated="INACTIVE")])
    assert not vehicles_watch_plugs([Vehicle.from_api({"id": "a", "integrated": "ACTIVE"})])


def test_while_push_works_charging_reads_the_chargers_every_other_minute_poll() -> None:
    """Charging with push: read, skip, read, ... at the 1-minute pace (30 reads, not 60)."""
    last_read: float | None = None
    reads = 0
    for poll in range(60):
        now = poll * 60.0
        if chargers_due(
            now=now, last_read=last_read, active=True, requested=False, watched=True, push=True
        ):
            reads += 1
            last_read = now
    assert reads == 30
    # Only the chargers tell of a plug-in when no car reports its own: every poll still.
    assert chargers_due(
        now=1.0, last_read=0.0, active=True, requested=False, watched=False, push=True
    )
