"""Typed views of the ev.energy API v2 resources the integration reads.

The API documents every status field as nullable and may add enum values at any time, so the
parsers never raise on a missing or unexpected value: it becomes None (and an unknown enum value
is logged once per field and value).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
import logging
import re
from typing import Any

from .exceptions import EvEnergyResponseError, Problem
from .prices import RateBand, parse_daily_prices, parse_instant

_LOGGER = logging.getLogger(__name__)
_REPORTED_UNKNOWN: set[tuple[str, str]] = set()

type JsonObject = Mapping[str, Any]


class IntegrationStatus(StrEnum):
    """Whether ev.energy has a working connection to a vehicle."""

    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
    UNINTEGRATED = "UNINTEGRATED"


class VehicleState(StrEnum):
    """What the vehicle is doing, from its latest status log."""

    DRIVING = "DRIVING"
    RECENTLY_FINISHED_DRIVING = "RECENTLY_FINISHED_DRIVING"
    STATIONARY = "STATIONARY"
    IN_SERVICE = "IN_SERVICE"
    PLUGGED_IN_NOT_CHARGING = "PLUGGED_IN_NOT_CHARGING"
    PLUGGED_IN_CHARGING = "PLUGGED_IN_CHARGING"
    PLUGGED_IN_COMPLETE = "PLUGGED_IN_COMPLETE"
    PLUGGED_IN_NEAR_READY_BY_TIME = "PLUGGED_IN_NEAR_READY_BY_TIME"
    PLUGGED_IN_ALMOST_COMPLETE = "PLUGGED_IN_ALMOST_COMPLETE"
    UNKNOWN = "UNKNOWN"


class LockMode(StrEnum):
    """Whether a charger lets a vehicle charge freely."""

    UNLOCKED = "UNLOCKED"
    SMART = "SMART"
    LOCKED = "LOCKED"


class LifecycleState(StrEnum):
    """Where a charger is in its onboarding lifecycle."""

    CREATED_LINKED = "CREATED_LINKED"
    INSTALLED = "INSTALLED"
    COMMISSIONED = "COMMISSIONED"
    DECOMMISSIONED = "DECOMMISSIONED"
    UNKNOWN = "UNKNOWN"
    PROBABLY_INSTALLED = "PROBABLY_INSTALLED"
    UNPAIRED = "UNPAIRED"
    PENDING = "PENDING"
    ENROLLED = "ENROLLED"


class ControlPilot(StrEnum):
    """SAE J1772 control pilot state of a charger."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"
    E = "E"
    F = "F"


class TariffType(StrEnum):
    """How a tariff's price varies."""

    FLAT_RATE = "FLAT_RATE"
    DUAL_RATE = "DUAL_RATE"
    THREE_RATE = "THREE_RATE"
    DYNAMIC = "DYNAMIC"
    EXTERNALLY_MANAGED = "EXTERNALLY_MANAGED"
    OTHER = "OTHER"


def _int(data: JsonObject, key: str) -> int | None:
    value = data.get(key)
    # bool is an int subclass; a boolean here is a malformed payload, not a number.
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _bool(data: JsonObject, key: str) -> bool | None:
    value = data.get(key)
    return value if isinstance(value, bool) else None


def _str(data: JsonObject, key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and value else None


def _datetime(data: JsonObject, key: str) -> datetime | None:
    return parse_instant(data.get(key))


def _enum[E: StrEnum](data: JsonObject, key: str, enum: type[E]) -> E | None:
    value = data.get(key)
    if value is None:
        return None
    try:
        return enum(value)
    except ValueError:
        if (report := (key, str(value))) not in _REPORTED_UNKNOWN:
            _REPORTED_UNKNOWN.add(report)
            _LOGGER.warning("Unknown %s value %r from ev.energy; shown as unknown", *report)
        return None


def _object(data: JsonObject, key: str) -> JsonObject | None:
    """Return an expanded sub-resource, or None when it is absent or only a URL."""
    value = data.get(key)
    return value if isinstance(value, Mapping) else None


def _name(data: JsonObject | None) -> str | None:
    if data is None:
        return None
    return _str(data, "display_name") or _str(data, "name")


# Ids go into request paths: anything but these characters could change the path called.
_SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _require_id(data: object) -> tuple[JsonObject, str]:
    if not isinstance(data, Mapping):
        raise EvEnergyResponseError(f"expected an object, got {type(data).__name__}")
    resource_id = data.get("id")
    if not isinstance(resource_id, str) or not _SAFE_ID.fullmatch(resource_id):
        raise EvEnergyResponseError("resource without a usable id")
    return data, resource_id


def id_from_reference(value: object) -> str | None:
    """Return the id of a related resource given inline or as an absolute URL."""
    if isinstance(value, Mapping):
        resource_id = value.get("id")
    elif isinstance(value, str):
        resource_id = value.rstrip("/").rsplit("/", 1)[-1]
    else:
        return None
    return resource_id if isinstance(resource_id, str) and _SAFE_ID.fullmatch(resource_id) else None


@dataclass(frozen=True, kw_only=True, slots=True)
class VehicleStatus:
    """A vehicle's latest status log."""

    sampled_at: datetime | None
    state_of_charge_percentage: int | None
    is_charging: bool | None
    is_plugged_in: bool | None
    charge_rate_watts: int | None
    minutes_to_full_charge: int | None
    state: VehicleState | None
    target_charge_level_percentage: int | None
    odometer_meters: int | None
    charge_level_watt_hours: int | None
    charge_energy_added_watt_hours: int | None
    is_complete: bool | None

    @classmethod
    def from_api(cls, data: JsonObject) -> VehicleStatus:
        """Parse a VehicleStatusLog."""
        return cls(
            sampled_at=_datetime(data, "sampled_at"),
            state_of_charge_percentage=_int(data, "state_of_charge_percentage"),
            is_charging=_bool(data, "is_charging"),
            is_plugged_in=_bool(data, "is_plugged_in"),
            charge_rate_watts=_int(data, "charge_rate_watts"),
            minutes_to_full_charge=_int(data, "minutes_to_full_charge"),
            state=_enum(data, "state", VehicleState),
            target_charge_level_percentage=_int(data, "target_charge_level_percentage"),
            odometer_meters=_int(data, "odometer_meters"),
            charge_level_watt_hours=_int(data, "charge_level_watt_hours"),
            charge_energy_added_watt_hours=_int(data, "charge_energy_added_watt_hours"),
            is_complete=_bool(data, "is_complete"),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Vehicle:
    """A vehicle with its latest status."""

    id: str
    description: str | None
    make: str | None
    model: str | None
    trim: str | None
    integrated: IntegrationStatus | None
    maximum_charge_limit_percentage: int | None
    smart_charging_enabled: bool | None
    disabled: bool | None
    battery_size_watt_hours: int | None
    status: VehicleStatus | None

    @classmethod
    def from_api(cls, raw: object) -> Vehicle:
        """Parse a Vehicle, with `latest_status_log` and `trim.model.make` expanded or not."""
        data, vehicle_id = _require_id(raw)
        trim = _object(data, "trim")
        model = _object(trim, "model") if trim else None
        make = _object(model, "make") if model else None
        status = _object(data, "latest_status_log")
        return cls(
            id=vehicle_id,
            description=_str(data, "description"),
            make=_name(make),
            model=_name(model),
            trim=_name(trim),
            integrated=_enum(data, "integrated", IntegrationStatus),
            maximum_charge_limit_percentage=_int(data, "maximum_charge_limit_percentage"),
            smart_charging_enabled=_bool(data, "smart_charging_enabled"),
            disabled=_bool(data, "disabled"),
            battery_size_watt_hours=_int(data, "battery_size_watt_hours"),
            status=VehicleStatus.from_api(status) if status is not None else None,
        )

    @property
    def display_name(self) -> str | None:
        """The user's label for the vehicle, else its make and model."""
        if self.description:
            return self.description
        return " ".join(part for part in (self.make, self.model) if part) or None


@dataclass(frozen=True, kw_only=True, slots=True)
class EvseStatus:
    """A charger's latest status log."""

    sampled_at: datetime | None
    is_plugged_in: bool | None
    is_charging: bool | None
    charge_rate_watts: int | None
    meter_reading_watt_hours: int | None
    voltage_millivolts: int | None
    control_pilot_status: ControlPilot | None
    mode: str | None
    signal_strength_rssi_dbm: int | None
    is_enabled: bool | None
    max_current_rating_milliamps: int | None
    cable_current_rating_milliamps: int | None

    @classmethod
    def from_api(cls, data: JsonObject) -> EvseStatus:
        """Parse an EVSEStatusLog."""
        return cls(
            sampled_at=_datetime(data, "sampled_at"),
            is_plugged_in=_bool(data, "is_plugged_in"),
            is_charging=_bool(data, "is_charging"),
            charge_rate_watts=_int(data, "charge_rate_watts"),
            meter_reading_watt_hours=_int(data, "meter_reading_watt_hours"),
            voltage_millivolts=_int(data, "voltage_millivolts"),
            control_pilot_status=_enum(data, "control_pilot_status", ControlPilot),
            mode=_str(data, "mode"),
            signal_strength_rssi_dbm=_int(data, "signal_strength_rssi_dbm"),
            is_enabled=_bool(data, "is_enabled"),
            max_current_rating_milliamps=_int(data, "max_current_rating_milliamps"),
            cable_current_rating_milliamps=_int(data, "cable_current_rating_milliamps"),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Evse:
    """A charger (EVSE) with its latest status."""

    id: str
    cpid: str | None
    make: str | None
    model: str | None
    lock_mode: LockMode | None
    lifecycle_state: LifecycleState | None
    status: EvseStatus | None

    @classmethod
    def from_api(cls, raw: object) -> Evse:
        """Parse an EVSE, with `latest_status_log` and `model.make` expanded or not."""
        data, evse_id = _require_id(raw)
        model = _object(data, "model")
        make = _object(model, "make") if model else None
        status = _object(data, "latest_status_log")
        return cls(
            id=evse_id,
            cpid=_str(data, "cpid"),
            make=_name(make),
            model=_name(model),
            lock_mode=_enum(data, "lock_mode", LockMode),
            lifecycle_state=_enum(data, "lifecycle_state", LifecycleState),
            status=EvseStatus.from_api(status) if status is not None else None,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class User:
    """The signed-in ev.energy user and their home location's tariff."""

    id: str
    email: str | None
    full_name: str | None
    tariff_id: str | None
    country_code: str | None
    carbon_intensity_grams_per_kilowatt_hour: int | None
    # The account's chargers as the user resource lists them; None when it does not say.
    evse_ids: tuple[str, ...] | None = None
    # Whether the answer had the home location at all (it is optional): without it, the
    # tariff, country and carbon intensity above are unknown, not absent.
    location_stated: bool = True

    @classmethod
    def from_api(cls, raw: object) -> User:
        """Parse a User; `default_location` may be a Location or a LocationDetail."""
        data, user_id = _require_id(raw)
        location = _object(data, "default_location") or {}
        evses = data.get("evses")
        return cls(
            id=user_id,
            email=_str(data, "email"),
            full_name=_str(data, "full_name"),
            tariff_id=id_from_reference(location.get("tariff")),
            country_code=_str(location, "country_code"),
            carbon_intensity_grams_per_kilowatt_hour=_int(
                location, "current_carbon_intensity_grams_per_kilowatt_hour"
            ),
            evse_ids=tuple(
                evse_id for item in evses if (evse_id := id_from_reference(item)) is not None
            )
            if isinstance(evses, list)
            else None,
            location_stated="default_location" in data,
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class Tariff:
    """The user's electricity tariff and its current price."""

    id: str
    name: str | None
    currency: str | None
    type: TariffType | None
    current_price_minor_units: int | None
    timezone_name: str | None
    daily_prices: tuple[RateBand, ...] = ()

    @classmethod
    def from_api(cls, raw: object) -> Tariff:
        """Parse a TariffDetail."""
        data, tariff_id = _require_id(raw)
        currency = _str(data, "currency")
        return cls(
            id=tariff_id,
            name=_str(data, "name"),
            currency=currency.upper() if currency else None,
            type=_enum(data, "type", TariffType),
            current_price_minor_units=_int(data, "current_price"),
            timezone_name=_str(data, "timezone_name"),
            daily_prices=parse_daily_prices(data.get("daily_prices")),
        )


def parse_problem(status: int, body: object) -> Problem:
    """Read an RFC 9457 problem body; anything unreadable still yields a Problem."""
    data: JsonObject = body if isinstance(body, Mapping) else {}
    field_errors: dict[str, list[str]] = {}
    raw_errors = data.get("field_errors")
    if isinstance(raw_errors, Mapping):
        for name, messages in raw_errors.items():
            if isinstance(messages, list):
                field_errors[str(name)] = [str(message) for message in messages]
            elif isinstance(messages, str):
                field_errors[str(name)] = [messages]
    return Problem(
        status=status,
        title=_str(data, "title"),
        detail=_str(data, "detail"),
        type=_str(data, "type"),
        field_errors=field_errors,
    )


class ChargingMode(StrEnum):
    """How a sub-session charged."""

    SMART = "SMART"
    BOOST = "BOOST"
    UNMANAGED_HOME = "UNMANAGED_HOME"
    UNMANAGED_OTG = "UNMANAGED_OTG"
    MANAGED_OTG = "MANAGED_OTG"


@dataclass(frozen=True, kw_only=True, slots=True)
class SubSession:
    """A stretch of a charging session in one mode."""

    id: str | None
    start: datetime | None
    end: datetime | None
    mode: ChargingMode | None
    energy_watt_hours: int | None
    cost_minor_units: int | None
    currency: str | None
    co2_grams: int | None
    savings_minor_units: int | None

    @classmethod
    def from_api(cls, data: JsonObject) -> SubSession:
        """Parse a ChargingSubSession."""
        currency = _str(data, "currency")
        return cls(
            id=id_from_reference(data),
            start=_datetime(data, "start"),
            end=_datetime(data, "end"),
            mode=_enum(data, "mode", ChargingMode),
            energy_watt_hours=_int(data, "energy_delivered_watt_hours"),
            cost_minor_units=_int(data, "cost"),
            currency=currency.upper() if currency else None,
            co2_grams=_int(data, "total_co2_grams"),
            savings_minor_units=_int(data, "savings_cost"),
        )


def _total(values: list[int | None]) -> int | None:
    """Sum the known values; None when none is known."""
    known = [value for value in values if value is not None]
    return sum(known) if known else None


@dataclass(frozen=True, kw_only=True, slots=True)
class ChargingSession:
    """One plug-in episode of a vehicle, with its sub-sessions in time order."""

    id: str
    start: datetime | None
    end: datetime | None
    vehicle_id: str | None
    evse_id: str | None
    sub_sessions: tuple[SubSession, ...]

    @classmethod
    def from_api(cls, raw: object) -> ChargingSession:
        """Parse a ChargingSession, with `sub_sessions` expanded or as URLs."""
        data, session_id = _require_id(raw)
        subs = data.get("sub_sessions")
        parsed = (
            [SubSession.from_api(s) for s in subs if isinstance(s, Mapping)]
            if isinstance(subs, list)
            else []
        )
        parsed.sort(key=lambda sub: sub.start or datetime.min.replace(tzinfo=UTC))
        return cls(
            id=session_id,
            start=_datetime(data, "start"),
            end=_datetime(data, "end"),
            vehicle_id=id_from_reference(data.get("vehicle")),
            evse_id=id_from_reference(data.get("evse")),
            sub_sessions=tuple(parsed),
        )

    @property
    def is_open(self) -> bool:
        """Still plugged in."""
        return self.end is None

    @property
    def mode(self) -> ChargingMode | None:
        """The mode of the latest sub-session."""
        return self.sub_sessions[-1].mode if self.sub_sessions else None

    @property
    def is_boosting(self) -> bool:
        """Plugged in with a boost sub-session in progress."""
        if not self.is_open or not self.sub_sessions:
            return False
        latest = self.sub_sessions[-1]
        return latest.end is None and latest.mode is ChargingMode.BOOST

    @property
    def energy_watt_hours(self) -> int | None:
        """Energy delivered over all sub-sessions."""
        return _total([sub.energy_watt_hours for sub in self.sub_sessions])

    @property
    def cost_minor_units(self) -> int | None:
        """Cost over all sub-sessions."""
        return _total([sub.cost_minor_units for sub in self.sub_sessions])

    @property
    def savings_minor_units(self) -> int | None:
        """Savings over all sub-sessions."""
        return _total([sub.savings_minor_units for sub in self.sub_sessions])

    @property
    def co2_grams(self) -> int | None:
        """CO2 over all sub-sessions."""
        return _total([sub.co2_grams for sub in self.sub_sessions])

    @property
    def currency(self) -> str | None:
        """The currency of the session's costs."""
        return next((sub.currency for sub in self.sub_sessions if sub.currency), None)


@dataclass(frozen=True, kw_only=True, slots=True)
class EvseConnectivity:
    """A charger's connectivity snapshot (slow-changing)."""

    signal_strength_rssi_dbm: int | None
    connection_reliability_30d: int | None
    firmware_version: str | None
    ip_address: str | None
    iccid: str | None

    @classmethod
    def from_api(cls, raw: object) -> EvseConnectivity:
        """Parse an EVSEConnectivity."""
        if not isinstance(raw, Mapping):
            raise EvEnergyResponseError("expected an object for EVSE connectivity")
        data: JsonObject = raw
        return cls(
            signal_strength_rssi_dbm=_int(data, "signal_strength_rssi_dbm"),
            connection_reliability_30d=_int(data, "connection_reliability_30d"),
            firmware_version=_str(data, "firmware_version"),
            ip_address=_str(data, "ip_address"),
            iccid=_str(data, "iccid"),
        )


class NotificationCategory(StrEnum):
    """The kind of an in-app notification."""

    ACTIONABLE = "ACTIONABLE"
    SERVICE = "SERVICE"
    RETRY = "RETRY"
    MARKETING = "MARKETING"
    INTERNAL = "INTERNAL"


@dataclass(frozen=True, kw_only=True, slots=True)
class Notification:
    """An in-app notification, texts in the user's language."""

    id: str
    message_id: str | None
    category: NotificationCategory | None
    event_time: datetime | None
    title: str | None
    body: str | None
    detail_title: str | None
    detail_body: str | None
    external_link: str | None
    external_button_label: str | None
    read_at: datetime | None
    resolved_at: datetime | None

    @classmethod
    def from_api(cls, raw: object) -> Notification:
        """Parse a Notification."""
        data, notification_id = _require_id(raw)
        return cls(
            id=notification_id,
            message_id=_str(data, "message_id"),
            category=_enum(data, "category", NotificationCategory),
            event_time=_datetime(data, "event_time"),
            title=_str(data, "short_text_title"),
            body=_str(data, "short_text_body"),
            detail_title=_str(data, "detail_page_title"),
            detail_body=_str(data, "detail_page_body"),
            external_link=_str(data, "external_link"),
            external_button_label=_str(data, "external_button_label"),
            read_at=_datetime(data, "read_at"),
            resolved_at=_datetime(data, "resolved_at"),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class ReconnectionLink:
    """A page where the user re-authorises ev.energy's access to a vehicle."""

    url: str
    expires_at: datetime | None

    @classmethod
    def from_api(cls, raw: object) -> ReconnectionLink:
        """Parse a VehicleReconnectionUrl; only an http(s) link is ever shown to the user."""
        data: JsonObject = raw if isinstance(raw, Mapping) else {}
        url = _str(data, "url")
        if url is None or not re.match(r"https?://[^\s]+$", url, re.IGNORECASE):
            raise EvEnergyResponseError("reconnection answer without a usable link")
        return cls(url=url, expires_at=_datetime(data, "expires_at"))


class ScheduleType(StrEnum):
    """What generated a schedule interval."""

    INITIAL_CHARGE_TIME = "INITIAL_CHARGE_TIME"
    BATTERY_WARMING = "BATTERY_WARMING"
    SMART = "SMART"
    BOOST = "BOOST"
    SOLAR_ONLY = "SOLAR_ONLY"
    SOLAR_SMART = "SOLAR_SMART"
    V2G_DISCHARGE = "V2G_DISCHARGE"
    V2G_CHARGEBACK = "V2G_CHARGEBACK"
    LEGACY = "LEGACY"


@dataclass(frozen=True, kw_only=True, slots=True)
class ScheduleInterval:
    """One charging instruction of a sub-session's plan: a current from `start` to `end`.

    `end` is None for boost, which runs until it is ended; `current_milliamps` 0 means off.
    """

    start: datetime
    end: datetime | None
    current_milliamps: int
    schedule_type: ScheduleType | None

    @classmethod
    def from_api(cls, raw: object) -> ScheduleInterval:
        """Parse a ScheduleInterval; one without a start, a current or a usable length fails."""
        if not isinstance(raw, Mapping):
            raise EvEnergyResponseError("expected an object for a schedule interval")
        start = _datetime(raw, "started_at")
        current = _int(raw, "current_milliamps")
        if start is None or current is None or current < 0:
            raise EvEnergyResponseError("schedule interval without a start or a current")
        end = None
        if raw.get("interval_seconds") is not None:
            seconds = _int(raw, "interval_seconds")
            if seconds is None or seconds <= 0:
                raise EvEnergyResponseError("schedule interval with an unusable length")
            try:
                end = start + timedelta(seconds=seconds)
            except OverflowError as err:  # the spec sets no maximum
                raise EvEnergyResponseError("schedule interval ends out of range") from err
        return cls(
            start=start,
            end=end,
            current_milliamps=current,
            schedule_type=_enum(raw, "schedule_type", ScheduleType),
        )


def _decimal(data: JsonObject, key: str) -> Decimal | None:
    """Read a `format: decimal` string (or a JSON number); None when absent or not finite."""
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


@dataclass(frozen=True, kw_only=True, slots=True)
class ChargingSubSession:
    """A sub-session as `GET /charging_sub_sessions` lists it (with its own id and vehicle)."""

    id: str
    vehicle_id: str | None
    start: datetime | None
    end: datetime | None
    mode: ChargingMode | None
    energy_watt_hours: int | None
    cost_minor_units: int | None
    currency: str | None
    co2_grams: int | None
    co2_intensity_grams_per_kilowatt_hour: int | None

    @classmethod
    def from_api(cls, raw: object) -> ChargingSubSession:
        """Parse a ChargingSubSession."""
        data, sub_session_id = _require_id(raw)
        currency = _str(data, "currency")
        return cls(
            id=sub_session_id,
            vehicle_id=id_from_reference(data.get("vehicle")),
            start=_datetime(data, "start"),
            end=_datetime(data, "end"),
            mode=_enum(data, "mode", ChargingMode),
            energy_watt_hours=_int(data, "energy_delivered_watt_hours"),
            cost_minor_units=_int(data, "cost"),
            currency=currency.upper() if currency else None,
            co2_grams=_int(data, "total_co2_grams"),
            co2_intensity_grams_per_kilowatt_hour=_int(
                data, "co2_intensity_grams_per_kilowatt_hour"
            ),
        )

    @property
    def is_finished(self) -> bool:
        """The mode has ended; its intervals are complete (barring a recalculation)."""
        return self.end is not None


@dataclass(frozen=True, kw_only=True, slots=True)
class UsageInterval:
    """One energy usage interval; every field may be missing (then None)."""

    started_at: datetime | None
    interval_seconds: int | None
    energy_delivered_watt_hours: int | None
    meter_usage_watt_hours: int | None
    alt_usage_watt_hours: int | None
    percentage_import: int | None
    # Minor currency units per kWh (e.g. pence/kWh), as the API's decimal string.
    electricity_cost_sub_unit: Decimal | None

    @classmethod
    def from_api(cls, data: JsonObject) -> UsageInterval:
        """Parse a UsageInterval."""
        return cls(
            started_at=_datetime(data, "started_at"),
            interval_seconds=_int(data, "interval_seconds"),
            energy_delivered_watt_hours=_int(data, "total_energy_delivered_watt_hours"),
            meter_usage_watt_hours=_int(data, "meter_usage_watt_hours"),
            alt_usage_watt_hours=_int(data, "alt_usage_watt_hours"),
            percentage_import=_int(data, "percentage_import"),
            electricity_cost_sub_unit=_decimal(data, "electricity_cost_sub_unit"),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class EnergyUsage:
    """When a sub-session's energy actually flowed, interval by interval."""

    currency: str | None
    intervals: tuple[UsageInterval, ...]
    last_updated_at: datetime | None

    @classmethod
    def from_api(cls, raw: object) -> EnergyUsage:
        """Parse an EnergyUsage; intervals that are not objects are dropped."""
        if not isinstance(raw, Mapping):
            raise EvEnergyResponseError("expected an object for energy usage")
        data: JsonObject = raw
        currency = _str(data, "currency")
        items = data.get("intervals")
        return cls(
            currency=currency.upper() if currency else None,
            intervals=tuple(
                UsageInterval.from_api(item)
                for item in (items if isinstance(items, list) else [])
                if isinstance(item, Mapping)
            ),
            last_updated_at=_datetime(data, "last_updated_at"),
        )
