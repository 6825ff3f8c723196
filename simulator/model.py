"""World state (user, vehicles, chargers, tariff, sessions, household) and its charging physics.

Physics is lazy: every read calls ``World.sync()``, which integrates from the last sync to
the clock's "now" in half-hour steps (so cost follows the price intervals) and applies any
scheduled events on the way. Moving the clock backwards does not rewind state.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import math
from pathlib import Path
import random
from typing import Any, Literal

from .clock import SimClock
from .household import Household
from .ids import new_ulid
from .tariff import (
    DEFAULT_CARBON_BY_HOUR,
    HALF_HOUR,
    Supplier,
    Tariff,
    carbon_intensity,
    floor_half_hour,
)

DEFAULT_SCENARIO = Path(__file__).parent / "scenarios" / "default.json"


class ConflictError(Exception):
    """The requested change conflicts with the current state (HTTP 409)."""


@dataclass
class Named:
    """A catalogue entry (make, model, trim) referenced by ID."""

    id: str
    name: str


@dataclass
class Location:
    """The user's default (home) location."""

    address_1: str
    city: str
    postal_code: str
    country_code: str = "GB"
    address_2: str | None = None
    latitude: float | None = None
    longitude: float | None = None


@dataclass
class User:
    """The demo user the simulator's tokens act for."""

    id: str
    email: str
    full_name: str
    joined_at: datetime
    location: Location


@dataclass
class Vehicle:
    """A vehicle with its live charging state (``charge_wh`` is the energy in the battery)."""

    id: str
    make: Named
    model: Named
    trim: Named
    battery_size_watt_hours: int
    charge_wh: float
    description: str = ""
    maximum_charge_limit_percentage: int | None = 100
    smart_charging_enabled: bool = True
    integrated: str = "ACTIVE"
    disabled: bool = False
    vehicle_class: str | None = "PASSENGER"
    charge_rate_watts: int = 7000
    odometer_meters: int = 0
    evse_id: str | None = None
    plugged_in: bool = False

    @property
    def target_wh(self) -> float:
        """Energy at the charge limit (a null limit means 100 %)."""
        return self.battery_size_watt_hours * (self.maximum_charge_limit_percentage or 100) / 100

    @property
    def soc(self) -> int:
        """State of charge, rounded down so it only shows the limit once charging stops."""
        return int(self.charge_wh * 100 / self.battery_size_watt_hours + 1e-9)

    @property
    def is_charging(self) -> bool:
        """Whether energy is flowing into the battery right now."""
        return self.plugged_in and self.charge_rate_watts > 0 and self.charge_wh < self.target_wh

    @property
    def state(self) -> str:
        """VehicleStatusLog.state."""
        if not self.plugged_in:
            return "STATIONARY"
        if self.is_charging:
            return "PLUGGED_IN_CHARGING"
        if self.charge_wh >= self.target_wh:
            return "PLUGGED_IN_COMPLETE"
        return "PLUGGED_IN_NOT_CHARGING"

    @property
    def minutes_to_full(self) -> int | None:
        """Minutes until the charge limit is reached; 0 when complete, null when idle."""
        if self.is_charging:
            return math.ceil((self.target_wh - self.charge_wh) / self.charge_rate_watts * 60)
        return 0 if self.state == "PLUGGED_IN_COMPLETE" else None


@dataclass
class Evse:
    """A home charger; its live state mirrors the vehicle plugged into it."""

    id: str
    cpid: str
    make: Named
    model: Named
    lock_mode: str | None = "SMART"
    lifecycle_state: str | None = "COMMISSIONED"
    meter_wh: float = 0.0
    voltage_millivolts: int = 230_000
    max_current_milliamps: int = 32_000
    latitude: float | None = None
    longitude: float | None = None
    connectivity: dict[str, Any] = field(default_factory=dict)


@dataclass
class SubSession:
    """A contiguous period of one charging mode within a session; cost in minor units."""

    id: str
    mode: str
    start: datetime
    end: datetime | None = None
    energy_wh: float = 0.0
    cost: float = 0.0
    co2_g: float = 0.0
    # Energy delivered (Wh) in each half-hour slot, by ``slot_key``: the energy_usage intervals.
    slots: dict[str, float] = field(default_factory=dict)


@dataclass
class Session:
    """One plug-in episode; ``end`` is null while plugged in."""

    id: str
    vehicle_id: str
    evse_id: str | None
    start: datetime
    subs: list[SubSession]
    end: datetime | None = None


@dataclass
class Event:
    """A scheduled plug-in/unplug."""

    at: datetime
    vehicle_id: str
    plugged_in: bool


def _named(data: dict[str, Any] | str | None, prefix: str, default: str, world: World) -> Named:
    """Build a catalogue entry from ``{"id", "name"}``, a bare name, or nothing (defaults)."""
    data = {"name": data} if isinstance(data, str) else data or {}
    return Named(data.get("id") or world.new_id(prefix), data.get("name", default))


def _check_keys(data: dict[str, Any], allowed: tuple[str, ...]) -> None:
    """Reject unknown keys so typos in scenarios and admin calls do not pass silently."""
    if unknown := set(data) - set(allowed):
        raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")


def slot_key(instant: datetime) -> str:
    """Key of the half hour containing ``instant`` (UTC ISO text, so the state dump is JSON)."""
    return floor_half_hour(instant).astimezone(UTC).isoformat()


def _parse_time(value: str) -> datetime:
    instant = datetime.fromisoformat(value)
    if instant.tzinfo is None:
        raise ValueError(f"timestamp without a timezone: {value!r}")
    return instant


type SubSessionChange = Literal["created", "ended"]
# Told of each sub-session that starts or ends: (which of the two, its session, it, when).
type SubSessionObserver = Callable[[SubSessionChange, Session, SubSession, datetime], None]


class World:
    """Everything the API exposes, advanced lazily along the simulator clock."""

    def __init__(self, clock: SimClock, scenario: dict[str, Any], seed: int = 0) -> None:
        """Build the world from a parsed scenario (see ``scenarios/default.json``)."""
        self.clock = clock
        self.rng = random.Random(seed)
        self._last_ulid: str | None = None
        if scenario.get("start"):
            clock.set(_parse_time(scenario["start"]))
        start = clock.now()
        self.start = start
        self.last_sync = start
        user = scenario["user"]
        self.user = User(
            id=user["id"],
            email=user["email"],
            full_name=user["full_name"],
            joined_at=_parse_time(user["joined_at"]),
            location=Location(**user["location"]),
        )
        self.tariff = self._parse_tariff(scenario["tariff"])
        self.carbon_by_hour: list[int] = scenario.get("carbon_intensity_by_hour", [])
        self.carbon_by_hour = self.carbon_by_hour or DEFAULT_CARBON_BY_HOUR
        household = scenario.get("household", {})
        _check_keys(household, ("meter_wh", "load_watts_by_hour", "variation_percent"))
        self.household = Household(**household)
        self.evses: dict[str, Evse] = {}
        self.vehicles: dict[str, Vehicle] = {}
        self.sessions: list[Session] = []
        self.events: list[Event] = []
        # Filled after construction: the scenario's sessions are history, not news.
        self.observers: list[SubSessionObserver] = []
        for evse in scenario.get("evses", []):
            self.add_evse(evse)
        for past in scenario.get("sessions", []):
            self._add_past_session(past, start)
        for vehicle in scenario.get("vehicles", []):
            self.add_vehicle(vehicle)
        for event in scenario.get("events", []):
            self.schedule(self._parse_event(event, start))

    def new_id(self, prefix: str, at: datetime | None = None) -> str:
        """Return a new ID whose ULID time part is ``at`` (default: now)."""
        self._last_ulid = new_ulid(at or self.clock.now(), self.rng, self._last_ulid)
        return prefix + self._last_ulid

    # --- scenario parsing -------------------------------------------------------------

    @staticmethod
    def _parse_tariff(data: dict[str, Any]) -> Tariff:
        data = dict(data)
        data["supplier"] = Supplier(**data["supplier"])
        return Tariff(**data)

    def _parse_event(self, data: dict[str, Any], start: datetime) -> Event:
        if "at" in data:
            at = _parse_time(data["at"])
        else:
            at = start + timedelta(seconds=data["at_offset_seconds"])
        if data["action"] not in ("plug_in", "unplug"):
            raise ValueError(f"unknown event action {data['action']!r}")
        return Event(at, data["vehicle"], data["action"] == "plug_in")

    def _add_past_session(self, data: dict[str, Any], start: datetime) -> None:
        cursor = start + timedelta(seconds=data["start_offset_seconds"])
        session = Session(
            self.new_id("cses", cursor), data["vehicle"], data.get("evse"), cursor, subs=[]
        )
        for sub_data in data["sub_sessions"]:
            end = cursor + timedelta(seconds=sub_data["duration_seconds"])
            sub = SubSession(self.new_id("csub", cursor), sub_data["mode"], cursor, end)
            self._accumulate(sub, sub_data["energy_watt_hours"], cursor, end)
            session.subs.append(sub)
            cursor = end
        session.end = cursor + timedelta(seconds=data.get("unplugged_after_seconds", 0))
        self.sessions.append(session)

    # --- mutations (also used by the admin API) ------------------------------------------

    def add_evse(self, data: dict[str, Any]) -> Evse:
        """Add a charger from a (partial) scenario entry."""
        _check_keys(data, ("id", "cpid", "make", "model", *_EVSE_FIELDS))
        evse = Evse(
            id=data.get("id") or self.new_id("evse"),
            cpid=data.get("cpid", "SIM" + self.rng.randbytes(4).hex().upper()),
            make=_named(data.get("make"), "emak", "Simulated Chargers", self),
            model=_named(data.get("model"), "emod", "SimCharger 7", self),
            **{k: data[k] for k in _EVSE_FIELDS if k in data},
        )
        self.evses[evse.id] = evse
        return evse

    def remove_evse(self, evse_id: str) -> None:
        """Remove a charger; vehicles that used it keep charging without one."""
        self.sync()
        del self.evses[evse_id]
        for vehicle in self.vehicles.values():
            if vehicle.evse_id == evse_id:
                vehicle.evse_id = None

    def add_vehicle(self, data: dict[str, Any]) -> Vehicle:
        """Add a vehicle from a (partial) scenario entry; plugged-in ones start a session."""
        _check_keys(data, _VEHICLE_SCENARIO_KEYS)
        now = self.sync()
        battery = data.get("battery_size_watt_hours", 60_000)
        vehicle = Vehicle(
            id=data.get("id") or self.new_id("vhcl"),
            make=_named(data.get("make"), "vmak", "Simulated Motors", self),
            model=_named(data.get("model"), "vmod", "Sim EV", self),
            trim=_named(data.get("trim"), "trim", "Standard Range", self),
            battery_size_watt_hours=battery,
            charge_wh=battery * data.get("state_of_charge_percentage", 50) / 100,
            evse_id=data.get("evse", next(iter(self.evses), None)),
            **{k: data[k] for k in VEHICLE_FIELDS if k in data},
        )
        self.vehicles[vehicle.id] = vehicle
        if data.get("plugged_in"):
            self._set_plugged(vehicle, True, now)
        return vehicle

    def remove_vehicle(self, vehicle_id: str) -> None:
        """Remove a vehicle, ending its open session."""
        now = self.sync()
        self._set_plugged(self.vehicles.pop(vehicle_id), False, now)

    def schedule(self, event: Event) -> None:
        """Queue a plug-in/unplug for a future instant."""
        self.events.append(event)
        self.events.sort(key=lambda queued: queued.at)

    def plug(self, vehicle_id: str, plugged_in: bool) -> Vehicle:
        """Plug a vehicle in (opening a session) or unplug it (ending the session)."""
        now = self.sync()
        vehicle = self.vehicles[vehicle_id]
        self._set_plugged(vehicle, plugged_in, now)
        return vehicle

    def update_vehicle(self, vehicle: Vehicle, changes: dict[str, Any]) -> None:
        """Apply validated PATCH fields; toggling smart charging switches the sub-session."""
        now = self.sync()
        for key, value in changes.items():
            setattr(vehicle, key, value)
        session = self.open_session(vehicle.id)
        if session is None or "smart_charging_enabled" not in changes:
            return
        mode = session.subs[-1].mode
        if vehicle.smart_charging_enabled and mode == "UNMANAGED_HOME":
            self._switch(session, "SMART", now)
        elif not vehicle.smart_charging_enabled and mode in ("SMART", "BOOST"):
            self._switch(session, "UNMANAGED_HOME", now)

    def boost(self, session: Session, start: bool) -> None:
        """Start or end boost on a session, or raise ``ConflictError`` saying why not."""
        now = self.sync()
        vehicle = self.vehicles.get(session.vehicle_id)
        if session.end is not None:
            raise ConflictError("This charging session has ended.")
        if vehicle is None or not vehicle.smart_charging_enabled:
            raise ConflictError("Smart charging is turned off for this vehicle.")
        mode = session.subs[-1].mode
        if start and mode != "SMART":
            raise ConflictError("The current sub-session is not a smart charging session.")
        if not start and mode != "BOOST":
            raise ConflictError("This charging session is not boosting.")
        self._switch(session, "BOOST" if start else "SMART", now)

    # --- queries -----------------------------------------------------------------------

    def open_session(self, vehicle_id: str) -> Session | None:
        """Return the vehicle's in-progress session, if plugged in."""
        return next(
            (s for s in self.sessions if s.vehicle_id == vehicle_id and s.end is None), None
        )

    def plugged_vehicle(self, evse_id: str) -> Vehicle | None:
        """Return the vehicle currently plugged into a charger."""
        return next(
            (v for v in self.vehicles.values() if v.evse_id == evse_id and v.plugged_in), None
        )

    def carbon_now(self, instant: datetime) -> int:
        """Grid carbon intensity at the user's location."""
        return carbon_intensity(instant, self.carbon_by_hour, self.tariff.tz)

    # --- physics -----------------------------------------------------------------------

    def sync(self) -> datetime:
        """Advance the world to the clock's now (events first) and return that instant."""
        now = self.clock.now()
        while self.events and self.events[0].at <= now:
            event = self.events.pop(0)
            self._integrate(event.at)
            if event.vehicle_id in self.vehicles:
                self._set_plugged(self.vehicles[event.vehicle_id], event.plugged_in, event.at)
        self._integrate(now)
        return now

    def _integrate(self, until: datetime) -> None:
        cursor = self.last_sync
        while cursor < until:
            step_end = min(until, floor_half_hour(cursor) + HALF_HOUR)
            for vehicle in self.vehicles.values():
                self._charge(vehicle, cursor, step_end)
            cursor = step_end
        self.last_sync = max(self.last_sync, until)

    def _charge(self, vehicle: Vehicle, start: datetime, end: datetime) -> None:
        session = self.open_session(vehicle.id)
        if not vehicle.is_charging or session is None:
            return
        to_full = (vehicle.target_wh - vehicle.charge_wh) / vehicle.charge_rate_watts * 3600
        seconds = min((end - start).total_seconds(), to_full)
        energy = vehicle.charge_rate_watts * seconds / 3600
        # Land exactly on the target so floating error cannot leave it "almost full".
        vehicle.charge_wh = vehicle.target_wh if seconds == to_full else vehicle.charge_wh + energy
        if vehicle.evse_id in self.evses:
            self.evses[vehicle.evse_id].meter_wh += energy
        self._accumulate(session.subs[-1], energy, start, start + timedelta(seconds=seconds))

    def _accumulate(self, sub: SubSession, energy: float, start: datetime, end: datetime) -> None:
        """Add energy delivered evenly over [start, end], pricing each half-hour separately."""
        total = (end - start).total_seconds()
        cursor = start
        while cursor < end:
            step_end = min(end, floor_half_hour(cursor) + HALF_HOUR)
            kwh = energy * (step_end - cursor).total_seconds() / total / 1000
            sub.energy_wh += kwh * 1000
            slot = slot_key(cursor)
            sub.slots[slot] = sub.slots.get(slot, 0.0) + kwh * 1000
            sub.cost += kwh * self.tariff.price_at(cursor)
            sub.co2_g += kwh * self.carbon_now(cursor)
            cursor = step_end

    def _set_plugged(self, vehicle: Vehicle, plugged_in: bool, at: datetime) -> None:
        if vehicle.plugged_in == plugged_in:
            return
        vehicle.plugged_in = plugged_in
        if plugged_in:
            mode = "SMART" if vehicle.smart_charging_enabled else "UNMANAGED_HOME"
            sub = SubSession(self.new_id("csub", at), mode, at)
            opened = Session(self.new_id("cses", at), vehicle.id, vehicle.evse_id, at, [sub])
            self.sessions.append(opened)
            self._announce("created", opened, sub, at)
        elif session := self.open_session(vehicle.id):
            session.end = session.subs[-1].end = at
            self._announce("ended", session, session.subs[-1], at)

    def _switch(self, session: Session, mode: str, at: datetime) -> None:
        session.subs[-1].end = at
        self._announce("ended", session, session.subs[-1], at)
        sub = SubSession(self.new_id("csub", at), mode, at)
        session.subs.append(sub)
        self._announce("created", session, sub, at)

    def _announce(
        self, what: SubSessionChange, session: Session, sub: SubSession, at: datetime
    ) -> None:
        for observer in self.observers:
            observer(what, session, sub, at)


VEHICLE_FIELDS = (
    "description",
    "maximum_charge_limit_percentage",
    "smart_charging_enabled",
    "integrated",
    "disabled",
    "vehicle_class",
    "charge_rate_watts",
    "odometer_meters",
)
_VEHICLE_SCENARIO_KEYS = (
    *("id", "make", "model", "trim", "battery_size_watt_hours", "state_of_charge_percentage"),
    *("evse", "plugged_in", *VEHICLE_FIELDS),
)
_EVSE_FIELDS = (
    "lock_mode",
    "lifecycle_state",
    "meter_wh",
    "voltage_millivolts",
    "max_current_milliamps",
    "latitude",
    "longitude",
    "connectivity",
)
