"""A vehicle's session energy as a meter that starts a new cycle with each charging session."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from .models import ChargingSession
from .prices import parse_instant


@dataclass(frozen=True, kw_only=True, slots=True)
class SessionMeter:
    """The energy of one session so far, and the instant its meter cycle began.

    `cycle_start` is fixed when the session is first seen (its start, or that moment if the
    API gives none) and differs from every earlier cycle's, so statistics that follow it see
    each session as a cycle of its own. Whole seconds only, so it round-trips exactly.
    """

    session_id: str
    session_start: datetime | None
    cycle_start: datetime
    energy_watt_hours: int

    def read(self, session: ChargingSession | None, now: datetime) -> SessionMeter:
        """Read the vehicle's latest session and return the meter after it.

        The same session only ever grows (a late, lower figure is ignored); a newer session
        starts a new cycle; an older one showing up again (the newest briefly missing from
        the list) is ignored, so nothing is counted twice.
        """
        if session is None or (energy := session.energy_watt_hours) is None:
            return self
        if session.id == self.session_id:
            if energy <= self.energy_watt_hours:
                return self
            return replace(self, energy_watt_hours=energy)
        if (
            session.start is not None
            and self.session_start is not None
            and session.start <= self.session_start
        ):
            return self
        cycle_start = max(_cycle_start(session, now), self.cycle_start + timedelta(seconds=1))
        return SessionMeter(
            session_id=session.id,
            session_start=session.start,
            cycle_start=cycle_start,
            energy_watt_hours=energy,
        )

    @classmethod
    def first(cls, session: ChargingSession | None, now: datetime) -> SessionMeter | None:
        """Start a meter on the first session seen, once it has an energy figure."""
        if session is None or session.energy_watt_hours is None:
            return None
        return cls(
            session_id=session.id,
            session_start=session.start,
            cycle_start=_cycle_start(session, now),
            energy_watt_hours=session.energy_watt_hours,
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe form, to survive a restart."""
        return {
            "session_id": self.session_id,
            "session_start": self.session_start.isoformat() if self.session_start else None,
            "cycle_start": self.cycle_start.isoformat(),
            "energy_watt_hours": self.energy_watt_hours,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SessionMeter | None:
        """Read `as_dict()` back; None if anything is missing or malformed."""
        session_id = data.get("session_id")
        energy = data.get("energy_watt_hours")
        cycle_start = parse_instant(data.get("cycle_start"))
        session_start = parse_instant(data.get("session_start"))
        if (
            not isinstance(session_id, str)
            or not isinstance(energy, int)
            or isinstance(energy, bool)
            or cycle_start is None
            or (session_start is None and data.get("session_start") is not None)
        ):
            return None
        return cls(
            session_id=session_id,
            session_start=session_start,
            cycle_start=cycle_start,
            energy_watt_hours=energy,
        )


def _cycle_start(session: ChargingSession, now: datetime) -> datetime:
    return (session.start or now).replace(microsecond=0)
