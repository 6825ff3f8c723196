"""When the live poll also reads the chargers. Nothing here imports Home Assistant.

A vehicle's own status carries its plug and charging state, so while nothing charges or was
just plugged in, the chargers are read every CHARGERS_IDLE_READ_INTERVAL rather than on every
poll; a change a vehicle reports reads them in the same poll, so a car plugged into its
charger shows on both at once. Only a change at a charger no vehicle reports waits longer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Final

from .api import EvseStatus, IntegrationStatus, Vehicle, VehicleStatus

# The chargers' read while nothing is active: every other poll at the 2-minute idle pace.
CHARGERS_IDLE_READ_INTERVAL: Final = timedelta(minutes=4)
# While something charges and push works: every other poll at the 1-minute pace. A plug-in or
# unplug arrives as an event, and a car's own change still reads them in the same poll.
CHARGERS_PUSH_ACTIVE_READ_INTERVAL: Final = timedelta(minutes=2)
# Poll timers run a little early or late; a read this little short of the interval is due.
CHARGERS_READ_SLACK: Final = timedelta(seconds=30)

type PlugState = tuple[bool | None, bool | None]


def chargers_due(
    *,
    now: float,
    last_read: float | None,
    active: bool,
    requested: bool,
    watched: bool,
    push: bool = False,
) -> bool:
    """Whether this poll reads the chargers up front.

    On a refresh someone asked for (`requested`: a write, a repair), on the first poll, while
    no connected vehicle reports its plug (`watched` false: the chargers are then the only ones
    to tell), always while something charges or was just plugged in (`active`) unless push
    works (then every CHARGERS_PUSH_ACTIVE_READ_INTERVAL), and once the last read is
    CHARGERS_IDLE_READ_INTERVAL old (times in seconds, monotonic).
    """
    if requested or not watched or last_read is None or (active and not push):
        return True
    interval = CHARGERS_PUSH_ACTIVE_READ_INTERVAL if active else CHARGERS_IDLE_READ_INTERVAL
    return now - last_read >= (interval - CHARGERS_READ_SLACK).total_seconds()


def plug_state(status: VehicleStatus | EvseStatus | None) -> PlugState:
    """Return a status's (plugged in, charging); (None, None) without a status."""
    return (status.is_plugged_in, status.is_charging) if status is not None else (None, None)


def plug_changed(known: Mapping[str, PlugState], current: Mapping[str, PlugState]) -> bool:
    """Whether a resource in `known` now has another state; one not known yet is no change."""
    return any(
        resource_id in known and known[resource_id] != state
        for resource_id, state in current.items()
    )


def vehicle_plug_changed(known: Mapping[str, PlugState], vehicles: Iterable[Vehicle]) -> bool:
    """Whether a known vehicle now reports another (plugged in, charging) than `known`.

    A vehicle without a status says nothing; a vehicle not known yet is no change.
    """
    return plug_changed(
        known, {v.id: plug_state(v.status) for v in vehicles if v.status is not None}
    )


def vehicles_watch_plugs(vehicles: Iterable[Vehicle]) -> bool:
    """Whether some connected vehicle reports whether it is plugged in."""
    return any(
        vehicle.integrated is IntegrationStatus.ACTIVE
        and vehicle.status is not None
        and vehicle.status.is_plugged_in is not None
        for vehicle in vehicles
    )
