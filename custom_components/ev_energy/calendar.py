"""A charging calendar per vehicle: the planned slots ahead and the sessions of the last week."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from homeassistant.components.calendar import (
    CalendarEntity,
    CalendarEntityDescription,
    CalendarEvent,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.translation import async_get_cached_translations
from homeassistant.util import dt as dt_util

from .api import ChargingSession, minor_to_major, minor_unit_exponent
from .const import DOMAIN
from .coordinator import EvEnergyData
from .entity import EvEnergyPlanEntity, async_add_resource_entities
from .plan import SlotEstimate
from .runtime import EvEnergyConfigEntry

PARALLEL_UPDATES = 0

CHARGING = CalendarEntityDescription(key="charging", translation_key="charging")
# Past events: the charging sessions (plug-in episodes) of this many days.
HISTORY = timedelta(days=7)
# An open session and a boost have no end yet: they are shown running until the end of the
# next hour (one to two hours ahead), moved on every hour. So they are in progress until they
# end, and their shown end is never within the 15 minutes a calendar trigger looks ahead.
_HOUR = timedelta(hours=1)
_MINUTE = timedelta(minutes=1)


def _hour_start(now: datetime) -> datetime:
    return now.replace(minute=0, second=0, microsecond=0)


def _open_end(now: datetime) -> datetime:
    """Where an event with no end yet is shown to end."""
    return _hour_start(now) + 2 * _HOUR


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


class _Texts:
    """The events' texts in Home Assistant's language, from the integration's translations."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Read the language's cached translations, else the English ones.

        English for a language without ours, and for a new language until Home Assistant has
        loaded its translations (just after it is chosen).
        """

        def strings(category: str) -> dict[str, str]:
            language = hass.config.language
            return async_get_cached_translations(
                hass, language, category, DOMAIN
            ) or async_get_cached_translations(hass, "en", category, DOMAIN)

        self._common = strings("common")
        self._entity = strings("entity")
        self._decimal_separator = self.text("decimal_separator")

    def text(self, key: str, **placeholders: str) -> str:
        """Return the text `common.<key>` with its placeholders filled in."""
        return self._common[f"component.{DOMAIN}.common.{key}"].format(**placeholders)

    def number(self, value: Decimal, places: int) -> str:
        """Return `value` to `places` decimals, with the language's decimal separator."""
        return f"{value:.{places}f}".replace(".", self._decimal_separator)

    def mode(self, states: str, value: StrEnum | None) -> str:
        """Return the name of a mode, a state under `entity.<states>`, or "unknown"."""
        if value is None:
            return self.text("calendar_mode_unknown")
        return self._entity[f"component.{DOMAIN}.entity.{states}.{value.lower()}"]


class ChargingCalendar(EvEnergyPlanEntity, CalendarEntity):
    """Planned charging ahead (merged slots) and past charging sessions of the vehicle."""

    async def async_added_to_hass(self) -> None:
        """Also follow the sessions, which the past events come from."""
        await super().async_added_to_hass()
        self._follow(self.coordinator.sessions)

    def _shown_value(self) -> object:
        # On and off at the event's start and end: CalendarEntity arms its own timers for those.
        return self.event

    def _next_flip(self, now: datetime) -> datetime | None:
        # An open session's (or a boost's) shown end moves on every hour.
        open_ended = any(session.end is None for session in self._sessions(now)) or any(
            slot.end is None for slot in self.plan.upcoming(now)
        )
        return _hour_start(now) + _HOUR if open_ended else None

    @property
    def event(self) -> CalendarEvent | None:
        """The event in progress that began last (a planned slot in the session), else the next."""
        now = dt_util.utcnow()
        upcoming = [event for event in self._events(now) if event.end_datetime_local > now]
        if current := [event for event in upcoming if event.start_datetime_local <= now]:
            return max(current, key=lambda event: event.start_datetime_local)
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

    def _sessions(self, now: datetime) -> list[ChargingSession]:
        """Return the vehicle's sessions of the last week, the open one included."""
        return [
            session
            for session in self.coordinator.sessions.recent
            if session.vehicle_id == self.resource_id
            and session.start is not None
            and (session.end or now) > now - HISTORY
        ]

    def _events(self, now: datetime) -> list[CalendarEvent]:
        plan, texts = self.plan, _Texts(self.hass)
        planned = [
            self._planned_event(plan.estimate(slot), now, texts) for slot in plan.upcoming(now)
        ]
        return planned + [
            self._session_event(session, now, texts) for session in self._sessions(now)
        ]

    def _planned_event(self, estimate: SlotEstimate, now: datetime, texts: _Texts) -> CalendarEvent:
        end = estimate.end or _open_end(max(estimate.start, now))
        kind = texts.mode(
            "binary_sensor.charging_planned.state_attributes.type.state", estimate.type
        )
        lines = [
            texts.text("calendar_mode", mode=kind),
            texts.text("calendar_power", power=texts.number(estimate.power_w / 1000, 1)),
        ]
        if estimate.end is None:
            lines.append(texts.text("calendar_until_stopped"))
        if estimate.energy_kwh is not None:
            energy = texts.number(estimate.energy_kwh, 2)
            lines.append(texts.text("calendar_energy_estimate", energy=energy))
        if estimate.cost is not None and (currency := self.coordinator.currency):
            cost = texts.number(estimate.cost, minor_unit_exponent(currency))
            lines.append(texts.text("calendar_cost_estimate", cost=cost, currency=currency))
        return CalendarEvent(
            start=estimate.start,
            end=end,
            summary=texts.text("calendar_planned"),
            description="\n".join(lines),
            uid=f"{self.resource_id}_plan_{estimate.start.isoformat()}",
        )

    def _session_event(
        self, session: ChargingSession, now: datetime, texts: _Texts
    ) -> CalendarEvent:
        assert session.start is not None
        end = max(session.end or _open_end(now), session.start + _MINUTE)
        modes = dict.fromkeys(
            texts.mode("sensor.last_session_mode.state", sub.mode)
            for sub in session.sub_sessions
            if sub.mode
        )
        mode = ", ".join(modes) or texts.text("calendar_mode_unknown")
        lines = [texts.text("calendar_mode", mode=mode)]
        if session.energy_watt_hours is not None:
            energy = texts.number(Decimal(session.energy_watt_hours) / 1000, 2)
            lines.append(texts.text("calendar_energy", energy=energy))
        if session.cost_minor_units is not None and (currency := session.currency):
            cost = minor_to_major(session.cost_minor_units, currency)
            lines.append(
                texts.text(
                    "calendar_cost",
                    cost=texts.number(cost, minor_unit_exponent(currency)),
                    currency=currency,
                )
            )
        return CalendarEvent(
            start=session.start,
            end=end,
            summary=texts.text("calendar_session" if session.end else "calendar_session_open"),
            description="\n".join(lines),
            uid=session.id,
        )
