"""A charging calendar per vehicle: the planned slots ahead and the sessions of the last week."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from homeassistant.components.calendar import (
    CalendarEntity,
    CalendarEntityDescription,
    CalendarEvent,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from .api import ChargingSession, minor_to_major
from .coordinator import EvEnergyData
from .entity import EvEnergyPlanEntity, async_add_resource_entities
from .plan import SlotEstimate
from .runtime import EvEnergyConfigEntry

PARALLEL_UPDATES = 0

CHARGING = CalendarEntityDescription(key="charging", translation_key="charging")
# Past events: the charging sessions (plug-in episodes) of this many days.
HISTORY = timedelta(days=7)
# A boost has no end; the calendar shows it running until this long after now.
OPEN_ENDED_SHOWN_FOR = timedelta(minutes=30)
_MINUTE = timedelta(minutes=1)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EvEnergyConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Create each vehicle's charging calendar."""

    def build(data: EvEnergyData, resource_id: str) -> list[CalendarEntity]:
        if vehicle := data.vehicles.get(resource_id):
            return [ChargingCalendar(entry.runtime_data.plans, vehicle, CHARGING)]
        return []

    async_add_resource_entities(entry, async_add_entities, build)


def _amount(value: Decimal | None, unit: str | None, places: int = 2) -> str | None:
    if value is None or unit is None:
        return None
    return f"{round(value, places)} {unit}"


class ChargingCalendar(EvEnergyPlanEntity, CalendarEntity):
    """Planned charging ahead (merged slots) and past charging sessions of the vehicle."""

    async def async_added_to_hass(self) -> None:
        """Also follow the sessions, which the past events come from."""
        await super().async_added_to_hass()
        self._follow(self.coordinator.sessions)

    def _shown_value(self) -> object:
        # On and off at the event's start and end: CalendarEntity arms its own timers for those.
        return self.event

    @property
    def event(self) -> CalendarEvent | None:
        """The event in progress, else the next one."""
        now = dt_util.utcnow()
        upcoming = [event for event in self._events(now) if event.end_datetime_local > now]
        return min(upcoming, key=lambda event: event.start_datetime_local, default=None)

    async def async_get_events(
        self, hass: HomeAssistant, start_date: datetime, end_date: datetime
    ) -> list[CalendarEvent]:
        """Events overlapping [start_date, end_date), in time order."""
        return sorted(
            (
                event
                for event in self._events(dt_util.utcnow())
                if event.end_datetime_local > start_date and event.start_datetime_local < end_date
            ),
            key=lambda event: event.start_datetime_local,
        )

    def _events(self, now: datetime) -> list[CalendarEvent]:
        plan = self.plan
        planned = [self._planned_event(plan.estimate(slot), now) for slot in plan.upcoming(now)]
        sessions = [
            self._session_event(session, now)
            for session in self.coordinator.sessions.recent
            if session.vehicle_id == self.resource_id
            and session.start is not None
            and (session.end or now) > now - HISTORY
        ]
        return planned + sessions

    def _planned_event(self, estimate: SlotEstimate, now: datetime) -> CalendarEvent:
        currency = self.coordinator.currency
        end = estimate.end or max(estimate.start, now) + OPEN_ENDED_SHOWN_FOR
        kind = estimate.type.value.replace("_", " ").lower() if estimate.type else "unknown"
        lines = [f"Mode: {kind}", f"Power: {round(estimate.power_w / 1000, 1)} kW"]
        if estimate.end is None:
            lines.append("Until stopped")
        if energy := _amount(estimate.energy_kwh, "kWh"):
            lines.append(f"Energy: about {energy}")
        if cost := _amount(estimate.cost, currency):
            lines.append(f"Cost: about {cost}")
        return CalendarEvent(
            start=estimate.start,
            end=end,
            summary="Planned charging",
            description="\n".join(lines),
            uid=f"{self.resource_id}_plan_{estimate.start.isoformat()}",
        )

    def _session_event(self, session: ChargingSession, now: datetime) -> CalendarEvent:
        assert session.start is not None
        end = max(session.end or now, session.start + _MINUTE)
        modes = dict.fromkeys(
            sub.mode.value.replace("_", " ").lower() for sub in session.sub_sessions if sub.mode
        )
        lines = [f"Mode: {', '.join(modes) or 'unknown'}"]
        if session.energy_watt_hours is not None:
            lines.append(f"Energy: {round(Decimal(session.energy_watt_hours) / 1000, 2)} kWh")
        if session.cost_minor_units is not None and session.currency:
            cost = minor_to_major(session.cost_minor_units, session.currency)
            lines.append(f"Cost: {cost} {session.currency}")
        return CalendarEvent(
            start=session.start,
            end=end,
            summary="Charging session" if session.end else "Charging session (plugged in)",
            description="\n".join(lines),
            uid=session.id,
        )
