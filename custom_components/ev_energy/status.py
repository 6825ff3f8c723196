"""Why a vehicle is (not) charging, from data already fetched. Nothing here imports Home Assistant.

Every state maps to documented fields: the vehicle's integration status and latest status log,
its latest charging session (boost, the charger it is on), that charger's latest status log
and the charging plan. When several apply, the first in `ChargingStatus` order wins; a
combination none of them explains is unknown (None), never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
import logging
from typing import Final

from .api import (
    ChargingSession,
    ControlPilot,
    Evse,
    IntegrationStatus,
    Vehicle,
    VehicleState,
)
from .plan import ChargePlan

_LOGGER = logging.getLogger(__name__)

# ev.energy exposes no online flag: a charger silent this long is taken as offline.
CHARGER_STALE_AFTER: Final = timedelta(minutes=30)
# The finest step of a datetime: "over 30 minutes" holds from this long past them.
_RESOLUTION: Final = timedelta(microseconds=1)

_reported_unknown: set[tuple[object, ...]] = set()


class ChargingStatus(StrEnum):
    """The explanation, in order of precedence."""

    VEHICLE_DISCONNECTED = "vehicle_disconnected"
    CHARGER_OFFLINE = "charger_offline"
    NOT_PLUGGED_IN = "not_plugged_in"
    CHARGING_BOOST = "charging_boost"
    CHARGING = "charging"
    COMPLETE = "complete"
    LIMIT_REACHED = "limit_reached"
    WAITING_FOR_PLANNED_SLOT = "waiting_for_planned_slot"
    SMART_CHARGING_OFF_NOT_CHARGING = "smart_charging_off_not_charging"


@dataclass(frozen=True, kw_only=True, slots=True)
class StatusExplanation:
    """The state, with the next planned start while waiting for it."""

    state: ChargingStatus
    next_charge_start: datetime | None = None

    @property
    def attributes(self) -> dict[str, str | None]:
        """State attributes (the same keys in every state)."""
        start = self.next_charge_start
        return {"next_charge_start": start.isoformat() if start else None}


def charger_stale_at(evse: Evse) -> datetime | None:
    """Return when the charger turns offline for its silence, unless it reports before."""
    status = evse.status
    if status is None or status.sampled_at is None:
        return None
    return status.sampled_at + CHARGER_STALE_AFTER + _RESOLUTION


def charger_offline(evse: Evse, now: datetime) -> bool:
    """Whether the charger's latest status is over 30 minutes old or reports no power (E)."""
    status = evse.status
    if status is None:
        return False
    if status.control_pilot_status is ControlPilot.E:
        return True
    stale_at = charger_stale_at(evse)
    return stale_at is not None and now >= stale_at


def _session_charger(session: ChargingSession | None, evses: dict[str, Evse]) -> Evse | None:
    """Return the charger of the vehicle's latest session: the one it charges on."""
    return evses.get(session.evse_id) if session and session.evse_id else None


def explain(
    vehicle: Vehicle,
    *,
    session: ChargingSession | None,
    evses: dict[str, Evse],
    plan: ChargePlan,
    now: datetime,
) -> StatusExplanation | None:
    """Explain the vehicle's charging state; None when the fields do not say."""
    if vehicle.integrated is IntegrationStatus.INACTIVE:
        return StatusExplanation(state=ChargingStatus.VEHICLE_DISCONNECTED)
    charger = _session_charger(session, evses)
    if charger is not None and charger_offline(charger, now):
        return StatusExplanation(state=ChargingStatus.CHARGER_OFFLINE)

    status = vehicle.status
    plugged = status.is_plugged_in if status else None
    charging = status.is_charging if status else None
    on_charger = charger is not None and session is not None and session.is_open
    if on_charger and charger is not None and charger.status is not None:
        # Vehicles without telematics leave these null; the charger they are on knows.
        plugged = charger.status.is_plugged_in if plugged is None else plugged
        charging = charger.status.is_charging if charging is None else charging

    if plugged is False:
        return StatusExplanation(state=ChargingStatus.NOT_PLUGGED_IN)
    if charging is True:
        boosting = session is not None and session.is_boosting
        return StatusExplanation(
            state=ChargingStatus.CHARGING_BOOST if boosting else ChargingStatus.CHARGING
        )
    if plugged is True and charging is False and (idle := _idle(vehicle, plan, now)):
        return idle
    _report_unknown(vehicle, plugged, charging, plan, now)
    return None


def next_change(
    vehicle: Vehicle,
    *,
    session: ChargingSession | None,
    evses: dict[str, Evse],
    plan: ChargePlan,
    now: datetime,
) -> datetime | None:
    """When `explain` may next answer differently though no data changed; None: not by itself.

    Time alone moves two of its inputs: the charger of the latest session turns offline once
    silent for 30 minutes, and a planned slot starts or ends (waiting for it, or not).
    """
    if vehicle.integrated is IntegrationStatus.INACTIVE:
        return None
    charger = _session_charger(session, evses)
    if charger is not None and charger_offline(charger, now):
        # Offline outranks the rest, and only a new report ends it.
        return None
    stale_at = charger_stale_at(charger) if charger is not None else None
    return min(
        (when for when in (stale_at, plan.next_change(now)) if when is not None), default=None
    )


def _idle(vehicle: Vehicle, plan: ChargePlan, now: datetime) -> StatusExplanation | None:
    """Explain a plugged-in vehicle that is not charging."""
    status = vehicle.status
    if status is not None and (
        status.is_complete is True or status.state is VehicleState.PLUGGED_IN_COMPLETE
    ):
        return StatusExplanation(state=ChargingStatus.COMPLETE)
    soc = status.state_of_charge_percentage if status else None
    limit = vehicle.maximum_charge_limit_percentage
    if soc is not None and limit is not None and soc >= limit:
        return StatusExplanation(state=ChargingStatus.LIMIT_REACHED)
    upcoming = [slot.start for slot in plan.slots if slot.start > now]
    # Not charging inside a planned slot is no wait: nothing documented explains it.
    if upcoming and plan.active(now) is None:
        return StatusExplanation(
            state=ChargingStatus.WAITING_FOR_PLANNED_SLOT, next_charge_start=min(upcoming)
        )
    if vehicle.smart_charging_enabled is False:
        return StatusExplanation(state=ChargingStatus.SMART_CHARGING_OFF_NOT_CHARGING)
    return None


def _report_unknown(
    vehicle: Vehicle, plugged: bool | None, charging: bool | None, plan: ChargePlan, now: datetime
) -> None:
    combination = (
        vehicle.id,
        vehicle.integrated,
        plugged,
        charging,
        vehicle.smart_charging_enabled,
        "in a slot" if plan.active(now) else "ahead" if plan.upcoming(now) else "none",
    )
    if combination in _reported_unknown:
        return
    _reported_unknown.add(combination)
    _LOGGER.info(
        "Cannot explain the charging state of vehicle %s (integration %s, plugged in %s, "
        "charging %s, smart charging %s, plan %s); showing unknown",
        *combination,
    )
