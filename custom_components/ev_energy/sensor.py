"""Sensors: vehicle state, charger meter, and the tariff's current price."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    PERCENTAGE,
    SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
    EntityCategory,
    UnitOfElectricCurrent,
    UnitOfElectricPotential,
    UnitOfEnergy,
    UnitOfLength,
    UnitOfMass,
    UnitOfPower,
    UnitOfTime,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import ExtraStoredData, RestoreEntity
from homeassistant.helpers.typing import StateType
from homeassistant.util import dt as dt_util

from .api import (
    ChargingMode,
    ChargingSession,
    ControlPilot,
    Evse,
    EvseConnectivity,
    EvseStatus,
    IntegrationStatus,
    LifecycleState,
    LockMode,
    PriceInterval,
    SessionMeter,
    Vehicle,
    VehicleState,
    VehicleStatus,
    minor_to_major,
    minor_unit_exponent,
)
from .charge_finish import finish_estimate, steady_finish, time_to_full_hours
from .coordinator import EvEnergyData, EvEnergyLiveCoordinator
from .entity import (
    EvEnergyAccountEntity,
    EvEnergyChargerEntity,
    EvEnergyConnectivityEntity,
    EvEnergyPlanEntity,
    EvEnergyPriceEntity,
    EvEnergySessionEntity,
    EvEnergyVehicleEntity,
    async_add_resource_entities,
)
from .followers import EvEnergySessionsCoordinator
from .plan import ChargePlan
from .price_coordinator import EvEnergyPriceCoordinator, PriceView
from .push import EvEnergyPushEntity
from .runtime import EvEnergyConfigEntry
from .status import ChargingStatus, StatusExplanation, explain, next_change

PARALLEL_UPDATES = 0

type SensorValue = StateType | datetime | Decimal


def _vehicle_status[T](read: Callable[[VehicleStatus], T]) -> Callable[[Vehicle], T | None]:
    """Read a status-log field; a vehicle without a status log has every field unknown."""
    return lambda vehicle: read(vehicle.status) if vehicle.status is not None else None


def _evse_status[T](read: Callable[[EvseStatus], T]) -> Callable[[Evse], T | None]:
    return lambda evse: read(evse.status) if evse.status is not None else None


def _lower(value: StrEnum | None) -> str | None:
    # The API's UNKNOWN states are Home Assistant's unknown, not an option of their own.
    if value is None or value.value == "UNKNOWN":
        return None
    return value.value.lower()


@dataclass(frozen=True, kw_only=True)
class VehicleSensorDescription(SensorEntityDescription):
    """A sensor read from a vehicle."""

    value_fn: Callable[[Vehicle], SensorValue]
    # It shows the status's sample time, which moves on nearly every poll.
    shows_sample_time: bool = False


@dataclass(frozen=True, kw_only=True)
class ChargerSensorDescription(SensorEntityDescription):
    """A sensor read from a charger."""

    value_fn: Callable[[Evse], SensorValue]
    # It shows the status's sample time, which moves on nearly every poll.
    shows_sample_time: bool = False


@dataclass(frozen=True, kw_only=True)
class PriceSensorDescription(SensorEntityDescription):
    """A sensor of the tariff's prices, read from the view at the current instant."""

    value_fn: Callable[[PriceView], SensorValue]
    attributes_fn: Callable[[PriceView], dict[str, Any]] = lambda _: {}
    has_unit: bool = True


VEHICLE_SENSORS: tuple[VehicleSensorDescription, ...] = (
    VehicleSensorDescription(
        key="state_of_charge",
        translation_key="state_of_charge",
        device_class=SensorDeviceClass.BATTERY,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=PERCENTAGE,
        value_fn=_vehicle_status(lambda status: status.state_of_charge_percentage),
    ),
    VehicleSensorDescription(
        key="integration_status",
        translation_key="integration_status",
        device_class=SensorDeviceClass.ENUM,
        options=[status.value.lower() for status in IntegrationStatus],
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda vehicle: _lower(vehicle.integrated),
    ),
    VehicleSensorDescription(
        key="charge_power",
        translation_key="charge_power",
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfPower.WATT,
        suggested_unit_of_measurement=UnitOfPower.KILO_WATT,
        value_fn=_vehicle_status(lambda status: status.charge_rate_watts),
    ),
    VehicleSensorDescription(
        key="vehicle_state",
        translation_key="vehicle_state",
        device_class=SensorDeviceClass.ENUM,
        options=[state.value.lower() for state in VehicleState if state != VehicleState.UNKNOWN],
        value_fn=_vehicle_status(lambda status: _lower(status.state)),
    ),
    VehicleSensorDescription(
        key="time_to_full",
        translation_key="time_to_full",
        device_class=SensorDeviceClass.DURATION,
        # In hours, so the frontend shows hours and minutes ("3h 39m", not "219m").
        native_unit_of_measurement=UnitOfTime.HOURS,
        value_fn=_vehicle_status(lambda status: time_to_full_hours(status.minutes_to_full_charge)),
    ),
    VehicleSensorDescription(
        key="target_charge_level",
        translation_key="target_charge_level",
        native_unit_of_measurement=PERCENTAGE,
        value_fn=_vehicle_status(lambda status: status.target_charge_level_percentage),
    ),
    VehicleSensorDescription(
        key="odometer",
        translation_key="odometer",
        device_class=SensorDeviceClass.DISTANCE,
        state_class=SensorStateClass.TOTAL_INCREASING,
        native_unit_of_measurement=UnitOfLength.METERS,
        suggested_unit_of_measurement=UnitOfLength.KILOMETERS,
        suggested_display_precision=0,
        entity_registry_enabled_default=False,
        value_fn=_vehicle_status(lambda status: status.odometer_meters),
    ),
    VehicleSensorDescription(
        key="last_seen",
        translation_key="last_seen",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        # It changes on nearly every poll: one state write per device and poll.
        entity_registry_enabled_default=False,
        value_fn=_vehicle_status(lambda status: status.sampled_at),
        shows_sample_time=True,
    ),
    VehicleSensorDescription(
        key="battery_capacity",
        translation_key="battery_capacity",
        device_class=SensorDeviceClass.ENERGY_STORAGE,
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        suggested_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=1,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda vehicle: vehicle.battery_size_watt_hours,
    ),
    # These two change with every poll while charging: off unless the user wants them.
    VehicleSensorDescription(
        key="charge_level",
        translation_key="charge_level",
        device_class=SensorDeviceClass.ENERGY_STORAGE,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        suggested_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=1,
        entity_registry_enabled_default=False,
        value_fn=_vehicle_status(lambda status: status.charge_level_watt_hours),
    ),
    VehicleSensorDescription(
        # As the car reports it; "Session energy" (from ev.energy's sessions) is the one for
        # the Energy dashboard, so this one keeps no statistics.
        key="charge_energy_added",
        translation_key="charge_energy_added",
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        suggested_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=2,
        entity_registry_enabled_default=False,
        value_fn=_vehicle_status(lambda status: status.charge_energy_added_watt_hours),
    ),
)

CHARGER_SENSORS: tuple[ChargerSensorDescription, ...] = (
    ChargerSensorDescription(
        key="charge_power",
        translation_key="charge_power",
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfPower.WATT,
        suggested_unit_of_measurement=UnitOfPower.KILO_WATT,
        value_fn=_evse_status(lambda status: status.charge_rate_watts),
    ),
    ChargerSensorDescription(
        key="lock_mode",
        translation_key="lock_mode",
        device_class=SensorDeviceClass.ENUM,
        options=[mode.value.lower() for mode in LockMode],
        value_fn=lambda evse: _lower(evse.lock_mode),
    ),
    ChargerSensorDescription(
        key="energy_meter",
        translation_key="energy_meter",
        device_class=SensorDeviceClass.ENERGY,
        state_class=SensorStateClass.TOTAL_INCREASING,
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        suggested_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=2,
        value_fn=_evse_status(lambda status: status.meter_reading_watt_hours),
    ),
    ChargerSensorDescription(
        key="last_seen",
        translation_key="last_seen",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        # It changes on nearly every poll: one state write per device and poll.
        entity_registry_enabled_default=False,
        value_fn=_evse_status(lambda status: status.sampled_at),
        shows_sample_time=True,
    ),
    ChargerSensorDescription(
        key="lifecycle_state",
        translation_key="lifecycle_state",
        device_class=SensorDeviceClass.ENUM,
        options=[s.value.lower() for s in LifecycleState if s is not LifecycleState.UNKNOWN],
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda evse: _lower(evse.lifecycle_state),
    ),
    ChargerSensorDescription(
        key="voltage",
        device_class=SensorDeviceClass.VOLTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfElectricPotential.MILLIVOLT,
        suggested_unit_of_measurement=UnitOfElectricPotential.VOLT,
        suggested_display_precision=0,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=_evse_status(lambda status: status.voltage_millivolts),
    ),
    ChargerSensorDescription(
        key="control_pilot",
        translation_key="control_pilot",
        device_class=SensorDeviceClass.ENUM,
        options=[state.value.lower() for state in ControlPilot],
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=_evse_status(lambda status: _lower(status.control_pilot_status)),
    ),
    ChargerSensorDescription(
        key="max_current",
        translation_key="max_current",
        device_class=SensorDeviceClass.CURRENT,
        native_unit_of_measurement=UnitOfElectricCurrent.MILLIAMPERE,
        suggested_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
        suggested_display_precision=0,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_evse_status(lambda status: status.max_current_rating_milliamps),
    ),
    ChargerSensorDescription(
        key="cable_current",
        translation_key="cable_current",
        device_class=SensorDeviceClass.CURRENT,
        native_unit_of_measurement=UnitOfElectricCurrent.MILLIAMPERE,
        suggested_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
        suggested_display_precision=0,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_evse_status(lambda status: status.cable_current_rating_milliamps),
    ),
    ChargerSensorDescription(
        key="signal_strength",
        device_class=SensorDeviceClass.SIGNAL_STRENGTH,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=_evse_status(lambda status: status.signal_strength_rssi_dbm),
    ),
)


@dataclass(frozen=True, kw_only=True)
class ConnectivitySensorDescription(SensorEntityDescription):
    """A sensor read from a charger's connectivity snapshot."""

    value_fn: Callable[[EvseConnectivity], SensorValue]


CONNECTIVITY_SENSORS: tuple[ConnectivitySensorDescription, ...] = (
    ConnectivitySensorDescription(
        key="connection_reliability",
        translation_key="connection_reliability",
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda connectivity: connectivity.connection_reliability_30d,
    ),
    ConnectivitySensorDescription(
        key="firmware_version",
        translation_key="firmware_version",
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda connectivity: connectivity.firmware_version,
    ),
)


@dataclass(frozen=True, kw_only=True)
class SessionSensorDescription(SensorEntityDescription):
    """A sensor read from a vehicle's latest charging session."""

    value_fn: Callable[[ChargingSession], SensorValue]
    monetary: bool = False


def _money(amount: int | None, session: ChargingSession) -> Decimal | None:
    if amount is None or session.currency is None:
        return None
    return minor_to_major(amount, session.currency)


SESSION_SENSORS: tuple[SessionSensorDescription, ...] = (
    SessionSensorDescription(
        key="last_session_energy",
        translation_key="last_session_energy",
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
        suggested_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=2,
        value_fn=lambda session: session.energy_watt_hours,
    ),
    SessionSensorDescription(
        key="last_session_cost",
        translation_key="last_session_cost",
        device_class=SensorDeviceClass.MONETARY,
        monetary=True,
        value_fn=lambda session: _money(session.cost_minor_units, session),
    ),
    SessionSensorDescription(
        key="last_session_savings",
        translation_key="last_session_savings",
        device_class=SensorDeviceClass.MONETARY,
        monetary=True,
        value_fn=lambda session: _money(session.savings_minor_units, session),
    ),
    SessionSensorDescription(
        key="last_session_co2",
        translation_key="last_session_co2",
        device_class=SensorDeviceClass.WEIGHT,
        native_unit_of_measurement=UnitOfMass.GRAMS,
        suggested_unit_of_measurement=UnitOfMass.KILOGRAMS,
        suggested_display_precision=2,
        value_fn=lambda session: session.co2_grams,
    ),
    SessionSensorDescription(
        key="last_session_start",
        translation_key="last_session_start",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda session: session.start,
    ),
    SessionSensorDescription(
        key="last_session_end",
        translation_key="last_session_end",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda session: session.end,
    ),
    SessionSensorDescription(
        key="last_session_mode",
        translation_key="last_session_mode",
        device_class=SensorDeviceClass.ENUM,
        options=[mode.value.lower() for mode in ChargingMode],
        value_fn=lambda session: _lower(session.mode),
    ),
)

SESSION_ENERGY = SensorEntityDescription(
    key="session_energy",
    translation_key="session_energy",
    device_class=SensorDeviceClass.ENERGY,
    state_class=SensorStateClass.TOTAL,
    native_unit_of_measurement=UnitOfEnergy.WATT_HOUR,
    suggested_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
    suggested_display_precision=2,
)


@dataclass(frozen=True, kw_only=True)
class HealthSensorDescription(SensorEntityDescription):
    """How the connection to ev.energy is doing: shown even while it is failing."""

    value_fn: Callable[[EvEnergyLiveCoordinator], SensorValue]


def _token_expiry(coordinator: EvEnergyLiveCoordinator) -> datetime | None:
    expires_at = coordinator.config_entry.data["token"].get("expires_at")
    return datetime.fromtimestamp(expires_at, UTC) if isinstance(expires_at, int | float) else None


HEALTH_SENSORS: tuple[HealthSensorDescription, ...] = (
    HealthSensorDescription(
        key="api_requests_last_hour",
        translation_key="api_requests_last_hour",
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda coordinator: coordinator.client.requests_last_hour,
    ),
    HealthSensorDescription(
        key="rate_limit_remaining",
        translation_key="rate_limit_remaining",
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda coordinator: coordinator.client.rate_limit_remaining,
    ),
    HealthSensorDescription(
        key="last_successful_update",
        translation_key="last_successful_update",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        # It changes on every poll: one state write and logbook row each.
        entity_registry_enabled_default=False,
        value_fn=lambda coordinator: coordinator.last_success,
    ),
    HealthSensorDescription(
        key="polling_interval",
        translation_key="polling_interval",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.SECONDS,
        # Whole seconds, not "60.00 s". Not minutes: the frontend floors 0.333 min to "19s".
        suggested_display_precision=0,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda coordinator: (
            coordinator.update_interval.total_seconds() if coordinator.update_interval else None
        ),
    ),
    HealthSensorDescription(
        key="token_expiry",
        translation_key="token_expiry",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_token_expiry,
    ),
)

CARBON_INTENSITY = SensorEntityDescription(
    key="carbon_intensity",
    translation_key="carbon_intensity",
    native_unit_of_measurement="gCO2eq/kWh",
    state_class=SensorStateClass.MEASUREMENT,
)


def _interval_attributes(interval: PriceInterval | None) -> dict[str, Any]:
    if interval is None:
        return {"start": None, "end": None}
    return {"start": interval.start.isoformat(), "end": interval.end.isoformat()}


def _today(view: PriceView, pick: int) -> Decimal | None:
    summary = view.schedule.summary(*view.today())
    return summary[pick] if summary is not None else None


PRICE_SENSORS: tuple[PriceSensorDescription, ...] = (
    PriceSensorDescription(
        key="current_price",
        translation_key="current_price",
        # No device class: the Energy dashboard takes a "<currency>/kWh" price as is, and the
        # monetary class would forbid the measurement state class that keeps statistics.
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda view: view.current_price,
        attributes_fn=lambda view: {
            **_interval_attributes(view.current),
            "prices": view.schedule.as_list(),
        },
    ),
    PriceSensorDescription(
        key="next_price",
        translation_key="next_price",
        value_fn=lambda view: view.next.price if view.next else None,
        attributes_fn=lambda view: _interval_attributes(view.next),
    ),
    PriceSensorDescription(
        key="min_price",
        translation_key="min_price",
        value_fn=lambda view: _today(view, 0),
    ),
    PriceSensorDescription(
        key="max_price",
        translation_key="max_price",
        value_fn=lambda view: _today(view, 1),
    ),
    PriceSensorDescription(
        key="average_price",
        translation_key="average_price",
        value_fn=lambda view: _today(view, 2),
    ),
    PriceSensorDescription(
        key="prices_known_until",
        translation_key="prices_known_until",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        has_unit=False,
        value_fn=lambda view: view.schedule.known_until,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EvEnergyConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Create the sensors of every vehicle, charger and the account."""
    runtime = entry.runtime_data
    live = runtime.live

    def build(data: EvEnergyData, resource_id: str) -> list[SensorEntity]:
        if vehicle := data.vehicles.get(resource_id):
            return [
                *(VehicleSensor(live, vehicle, d) for d in VEHICLE_SENSORS),
                *(SessionSensor(runtime.sessions, vehicle, d) for d in SESSION_SENSORS),
                SessionEnergySensor(runtime.sessions, vehicle, SESSION_ENERGY),
                *(PlanSensor(runtime.plans, vehicle, d) for d in PLAN_SENSORS),
                ChargingStatusSensor(runtime.plans, vehicle, CHARGING_STATUS),
                ChargeFinishSensor(live, vehicle, CHARGE_FINISH_TIME),
            ]
        evse = data.evses[resource_id]
        return [
            *(ChargerSensor(live, evse, d) for d in CHARGER_SENSORS),
            *(ConnectivitySensor(runtime.connectivity, evse, d) for d in CONNECTIVITY_SENSORS),
        ]

    async_add_resource_entities(entry, async_add_entities, build)
    account: list[SensorEntity] = [
        CarbonIntensitySensor(live, CARBON_INTENSITY),
        *(HealthSensor(live, description) for description in HEALTH_SENSORS),
    ]
    if live.data.tariff is not None:
        account.extend(PriceSensor(runtime.prices, description) for description in PRICE_SENSORS)
    account.append(PushLastEventSensor(runtime.push, PUSH_LAST_EVENT))
    async_add_entities(account)


class VehicleSensor(EvEnergyVehicleEntity, SensorEntity):
    """A vehicle sensor."""

    entity_description: VehicleSensorDescription

    def _follows_sample_time(self) -> bool:
        return self.entity_description.shows_sample_time

    def _shown_value(self) -> object:
        return self.native_value

    @property
    def native_value(self) -> SensorValue:
        """The value from the last poll."""
        return self.entity_description.value_fn(self.vehicle)


class ChargerSensor(EvEnergyChargerEntity, SensorEntity):
    """A charger sensor."""

    entity_description: ChargerSensorDescription

    def _follows_sample_time(self) -> bool:
        return self.entity_description.shows_sample_time

    def _shown_value(self) -> object:
        return self.native_value

    @property
    def native_value(self) -> SensorValue:
        """The value from the last poll."""
        return self.entity_description.value_fn(self.evse)


class PriceSensor(EvEnergyPriceEntity, SensorEntity):
    """A sensor of the tariff's prices; its state changes exactly at price boundaries."""

    entity_description: PriceSensorDescription
    # The full price list is for dashboards and templates, not for the recorder.
    _unrecorded_attributes = frozenset({"prices"})

    def __init__(
        self, coordinator: EvEnergyPriceCoordinator, description: PriceSensorDescription
    ) -> None:
        """Show every price to a hundredth of the currency's minor unit (0.2345 GBP/kWh)."""
        super().__init__(coordinator, description)
        currency = tariff.currency if (tariff := coordinator.live.data.tariff) else None
        if description.has_unit and currency is not None:
            self._attr_suggested_display_precision = minor_unit_exponent(currency) + 2

    @property
    def native_value(self) -> SensorValue:
        """The value at the current instant."""
        return self.entity_description.value_fn(self.prices)

    @property
    def native_unit_of_measurement(self) -> str | None:
        """Currency per kWh, from the tariff."""
        return self.prices.unit if self.entity_description.has_unit else None

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Interval bounds and, on the current price, the known price list."""
        return self.entity_description.attributes_fn(self.prices)


class ConnectivitySensor(EvEnergyConnectivityEntity, SensorEntity):
    """A charger connectivity sensor (read hourly)."""

    entity_description: ConnectivitySensorDescription

    @property
    def native_value(self) -> SensorValue:
        """The value from the last read."""
        connectivity = self.connectivity
        return self.entity_description.value_fn(connectivity) if connectivity else None


class SessionSensor(EvEnergySessionEntity, SensorEntity):
    """A sensor of the vehicle's latest charging session."""

    entity_description: SessionSensorDescription

    @property
    def native_value(self) -> SensorValue:
        """The value from the latest session; unknown before the first one."""
        session = self.session
        return self.entity_description.value_fn(session) if session else None

    @property
    def native_unit_of_measurement(self) -> str | None:
        """The session's currency for money; the description's unit otherwise."""
        if self.entity_description.monetary:
            return self.session.currency if self.session else None
        return super().native_unit_of_measurement


@dataclass(frozen=True)
class SessionEnergyStoredData(ExtraStoredData):
    """The session meter, kept across restarts."""

    meter: SessionMeter

    def as_dict(self) -> dict[str, Any]:
        """Return the meter as JSON-safe data."""
        return self.meter.as_dict()


class SessionEnergySensor(EvEnergySessionEntity, RestoreEntity, SensorEntity):
    """Energy of the current (or last) session, safe for the Energy dashboard.

    Each session is a meter cycle of its own: `last_reset` is the session's start, so
    statistics count a new session in full whatever its first figure, even one first seen
    after a restart or an outage. Within a session it never drops (a late, lower figure is
    ignored, also after a restart), so nothing is negative or counted twice.
    """

    def __init__(
        self,
        coordinator: EvEnergySessionsCoordinator,
        vehicle: Vehicle,
        description: SensorEntityDescription,
    ) -> None:
        """Start with no session seen."""
        super().__init__(coordinator, vehicle, description)
        self._meter: SessionMeter | None = None

    @callback
    def _handle_coordinator_update(self) -> None:
        now = dt_util.utcnow()
        if self._meter is None:
            self._meter = SessionMeter.first(self.session, now)
        else:
            self._meter = self._meter.read(self.session, now)
        super()._handle_coordinator_update()

    async def async_added_to_hass(self) -> None:
        """Restore the meter, then read the current session at once."""
        await super().async_added_to_hass()
        if (restored := await self.async_get_last_extra_data()) is not None:
            self._meter = SessionMeter.from_dict(restored.as_dict())
        self._handle_coordinator_update()

    @property
    def native_value(self) -> int | None:
        """Energy delivered in the session so far."""
        return self._meter.energy_watt_hours if self._meter else None

    @property
    def last_reset(self) -> datetime | None:
        """When the session's meter cycle began."""
        return self._meter.cycle_start if self._meter else None

    @property
    def extra_restore_state_data(self) -> SessionEnergyStoredData | None:
        """The meter, so a restart keeps the session's cycle and high-water mark."""
        return SessionEnergyStoredData(self._meter) if self._meter else None


class CarbonIntensitySensor(EvEnergyAccountEntity, SensorEntity):
    """The grid's carbon intensity at the account's home location."""

    @property
    def native_value(self) -> int | None:
        """gCO2eq/kWh as ev.energy last reported it."""
        return self.coordinator.data.user.carbon_intensity_grams_per_kilowatt_hour


class HealthSensor(EvEnergyAccountEntity, SensorEntity):
    """A diagnostic of the connection; available even while ev.energy cannot be reached."""

    entity_description: HealthSensorDescription
    _shown: SensorValue = None

    async def async_added_to_hass(self) -> None:
        """Follow every refresh, whether or not it changed any data."""
        await super().async_added_to_hass()
        self._shown = self.native_value
        self.async_on_remove(self.coordinator.async_add_refresh_listener(self._on_refresh))

    @callback
    def _handle_coordinator_update(self) -> None:
        """Nothing: these figures move with refreshes, not with the account's data."""

    @callback
    def _on_refresh(self) -> None:
        if (value := self.native_value) != self._shown:
            self._shown = value
            self.async_write_ha_state()

    @property
    def available(self) -> bool:
        """Always: a stale "last successful update" is exactly what it should show."""
        return True

    @property
    def native_value(self) -> SensorValue:
        """The current figure."""
        return self.entity_description.value_fn(self.coordinator)


@dataclass(frozen=True, kw_only=True)
class PlanSensorDescription(SensorEntityDescription):
    """A sensor read from a vehicle's charging plan at one instant."""

    value_fn: Callable[[ChargePlan, datetime], SensorValue]
    attributes_fn: Callable[[ChargePlan, datetime], dict[str, Any]] = lambda *_: {}
    monetary: bool = False


def _rounded(value: Decimal | None, places: int) -> Decimal | None:
    return round(value, places) if value is not None else None


def _float(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None


PLAN_SENSORS: tuple[PlanSensorDescription, ...] = (
    PlanSensorDescription(
        key="next_charge_start",
        translation_key="next_charge_start",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda plan, now: plan.next_start(now),
    ),
    PlanSensorDescription(
        key="planned_charge_end",
        translation_key="planned_charge_end",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda plan, now: plan.planned_end(now),
        attributes_fn=lambda plan, _: {
            "ready_by": plan.ready_by.isoformat() if plan.ready_by else None
        },
    ),
    PlanSensorDescription(
        key="planned_energy",
        translation_key="planned_energy",
        device_class=SensorDeviceClass.ENERGY,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=2,
        value_fn=lambda plan, now: _rounded(plan.totals(now).energy_kwh, 3),
        attributes_fn=lambda plan, _: {
            "voltage": float(plan.voltage.volts),
            "voltage_source": plan.voltage.source.value,
        },
    ),
    PlanSensorDescription(
        key="planned_cost",
        translation_key="planned_cost",
        device_class=SensorDeviceClass.MONETARY,
        monetary=True,
        value_fn=lambda plan, now: _rounded(plan.totals(now).cost, 4),
        attributes_fn=lambda plan, now: {
            "priced_cost": float(round(plan.totals(now).priced_cost, 4)),
            "unpriced_energy_kwh": _float(_rounded(plan.totals(now).unpriced_energy_kwh, 3)),
        },
    ),
    PlanSensorDescription(
        key="planned_co2",
        translation_key="planned_co2",
        device_class=SensorDeviceClass.WEIGHT,
        native_unit_of_measurement=UnitOfMass.KILOGRAMS,
        suggested_display_precision=2,
        value_fn=lambda plan, now: _rounded(plan.totals(now).co2_kg, 3),
        attributes_fn=lambda plan, _: {
            "carbon_intensity": plan.carbon_intensity,
            "carbon_intensity_source": plan.carbon_source.value,
        },
    ),
)


class PlanSensor(EvEnergyPlanEntity, SensorEntity):
    """A sensor of the vehicle's charging plan: what remains of it from now.

    A vehicle without a plan (no open session, or its plan not read yet) has every figure
    unknown; a plan with nothing left in it plans 0 kWh at no cost.
    """

    entity_description: PlanSensorDescription

    def _value_and_attributes(self) -> tuple[SensorValue, dict[str, Any]]:
        """Return the value and attributes at the current instant."""
        description, plan, now = self.entity_description, self.plan, dt_util.utcnow()
        attributes = description.attributes_fn(plan, now)
        if not self.coordinator.has_plan(self.resource_id):
            # The same attributes, with no estimate to describe.
            return None, dict.fromkeys(attributes)
        return description.value_fn(plan, now), attributes

    def _shown_value(self) -> object:
        return *self._value_and_attributes(), self.native_unit_of_measurement

    @property
    def native_value(self) -> SensorValue:
        """The value at the current instant."""
        return self._value_and_attributes()[0]

    @property
    def native_unit_of_measurement(self) -> str | None:
        """The tariff's currency for money; the description's unit otherwise."""
        if self.entity_description.monetary:
            return self.coordinator.currency
        return super().native_unit_of_measurement

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """What the estimate assumes."""
        return self._value_and_attributes()[1]


CHARGING_STATUS = SensorEntityDescription(
    key="charging_status",
    translation_key="charging_status",
    device_class=SensorDeviceClass.ENUM,
    options=[state.value for state in ChargingStatus],
)


class ChargingStatusSensor(EvEnergyPlanEntity, SensorEntity):
    """Why the vehicle is (not) charging: from the live poll, its latest session and its plan.

    It follows the plan (whose timer ticks at slot boundaries), the live poll (its car and the
    charger of its session) and the sessions, so it changes as soon as any of them does; and
    a charger that stops reporting turns it offline on time, from a timer of its own.
    """

    _shows_live_data = True

    async def async_added_to_hass(self) -> None:
        """Also follow the sessions (boost, the charger in use)."""
        await super().async_added_to_hass()
        self._follow(self.coordinator.sessions)

    @property
    def available(self) -> bool:
        """Available while the live poll works: sessions and plans only refine the answer."""
        live = self.coordinator.live
        return live.last_update_success and self.resource_id in live.data.vehicles

    def _follows_sample_time(self) -> bool:
        # A new report time matters only while a charger is shown offline: it is back. Else
        # nothing shown changes; the flip timer, armed for when it would go stale, checks then.
        shown = self._shown
        return isinstance(shown, tuple) and shown[0] == ChargingStatus.CHARGER_OFFLINE

    @property
    def _session(self) -> ChargingSession | None:
        return (self.coordinator.sessions.data or {}).get(self.resource_id)

    def _source_ids(self) -> tuple[str, ...]:
        # The charger of its session speaks for a car without telematics.
        session = self._session
        if session is not None and session.evse_id is not None:
            return (self.resource_id, session.evse_id)
        return (self.resource_id,)

    def _next_flip(self, now: datetime) -> datetime | None:
        data = self.coordinator.live.data
        return next_change(
            data.vehicles[self.resource_id],
            session=self._session,
            evses=data.evses,
            plan=self.plan,
            now=now,
        )

    def _shown_value(self) -> object:
        explanation = self._explanation()
        if explanation is None:
            return (None, {"next_charge_start": None})
        return (explanation.state.value, explanation.attributes)

    def _explanation(self) -> StatusExplanation | None:
        data = self.coordinator.live.data
        return explain(
            data.vehicles[self.resource_id],
            session=self._session,
            evses=data.evses,
            plan=self.plan,
            now=dt_util.utcnow(),
        )

    @property
    def native_value(self) -> str | None:
        """The explanation; unknown when the fetched data does not say."""
        explanation = self._explanation()
        return explanation.state.value if explanation else None

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """The next planned start while waiting for it."""
        explanation = self._explanation()
        return explanation.attributes if explanation else {"next_charge_start": None}


CHARGE_FINISH_TIME = SensorEntityDescription(
    key="charge_finish_time",
    translation_key="charge_finish_time",
    device_class=SensorDeviceClass.TIMESTAMP,
)


class ChargeFinishSensor(EvEnergyVehicleEntity, SensorEntity):
    """When the car will be full while it charges: for tools that want a time, not a duration.

    The car's time to full counted from its status's sample time; it moves only when a new
    estimate is more than five minutes off (see charge_finish).
    """

    _finish: datetime | None = None

    async def async_added_to_hass(self) -> None:
        """Estimate before the first state is written."""
        self._estimate()
        await super().async_added_to_hass()

    @callback
    def _handle_coordinator_update(self) -> None:
        self._estimate()
        super()._handle_coordinator_update()

    def _estimate(self) -> None:
        if self.available:
            self._finish = steady_finish(self._finish, finish_estimate(self.vehicle.status))

    def _follows_sample_time(self) -> bool:
        # The estimate counts from the sample time.
        return True

    def _shown_value(self) -> object:
        return self._finish

    @property
    def native_value(self) -> datetime | None:
        """The steady estimate; unknown while the car is not charging."""
        return self._finish


PUSH_LAST_EVENT = SensorEntityDescription(
    key="push_last_event",
    translation_key="push_last_event",
    device_class=SensorDeviceClass.TIMESTAMP,
    entity_category=EntityCategory.DIAGNOSTIC,
)


class PushLastEventSensor(EvEnergyPushEntity, SensorEntity):
    """When ev.energy last sent a verified push update (kept across restarts)."""

    @property
    def native_value(self) -> datetime | None:
        """The time the last event was received."""
        return self.push.last_event
