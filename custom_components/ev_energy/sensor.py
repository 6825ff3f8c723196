"""Sensors: vehicle state, charger meter, and the tariff's current price."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    PERCENTAGE,
    EntityCategory,
    UnitOfEnergy,
    UnitOfLength,
    UnitOfPower,
    UnitOfTime,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .api import (
    Evse,
    EvseStatus,
    IntegrationStatus,
    LockMode,
    Tariff,
    Vehicle,
    VehicleState,
    VehicleStatus,
    minor_to_major,
)
from .coordinator import EvEnergyConfigEntry, EvEnergyCoordinator
from .entity import EvEnergyAccountEntity, EvEnergyChargerEntity, EvEnergyVehicleEntity

PARALLEL_UPDATES = 0

type SensorValue = StateType | datetime | Decimal


def _vehicle_status[T](read: Callable[[VehicleStatus], T]) -> Callable[[Vehicle], T | None]:
    """Read a status-log field; a vehicle without a status log has every field unknown."""
    return lambda vehicle: read(vehicle.status) if vehicle.status is not None else None


def _evse_status[T](read: Callable[[EvseStatus], T]) -> Callable[[Evse], T | None]:
    return lambda evse: read(evse.status) if evse.status is not None else None


def _lower(value: IntegrationStatus | VehicleState | LockMode | None) -> str | None:
    # The API's UNKNOWN vehicle state is Home Assistant's unknown, not an option of its own.
    if value is None or value == VehicleState.UNKNOWN:
        return None
    return value.value.lower()


@dataclass(frozen=True, kw_only=True)
class VehicleSensorDescription(SensorEntityDescription):
    """A sensor read from a vehicle."""

    value_fn: Callable[[Vehicle], SensorValue]


@dataclass(frozen=True, kw_only=True)
class ChargerSensorDescription(SensorEntityDescription):
    """A sensor read from a charger."""

    value_fn: Callable[[Evse], SensorValue]


@dataclass(frozen=True, kw_only=True)
class AccountSensorDescription(SensorEntityDescription):
    """A sensor read from the account's tariff."""

    value_fn: Callable[[Tariff], SensorValue]
    unit_fn: Callable[[Tariff], str | None] = lambda _: None


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
        native_unit_of_measurement=UnitOfTime.MINUTES,
        value_fn=_vehicle_status(lambda status: status.minutes_to_full_charge),
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
        value_fn=_vehicle_status(lambda status: status.sampled_at),
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
        value_fn=_evse_status(lambda status: status.sampled_at),
    ),
)


def _current_price(tariff: Tariff) -> Decimal | None:
    if tariff.current_price_minor_units is None or tariff.currency is None:
        return None
    return minor_to_major(tariff.current_price_minor_units, tariff.currency)


ACCOUNT_SENSORS: tuple[AccountSensorDescription, ...] = (
    AccountSensorDescription(
        key="current_price",
        translation_key="current_price",
        # No device class: the Energy dashboard takes a "<currency>/kWh" price as is, and the
        # monetary class would forbid the measurement state class that keeps statistics.
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=_current_price,
        unit_fn=lambda tariff: f"{tariff.currency}/kWh" if tariff.currency else None,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EvEnergyConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Create the sensors of every vehicle, charger and the account."""
    coordinator = entry.runtime_data.coordinator
    data = coordinator.data
    entities: list[SensorEntity] = [
        VehicleSensor(coordinator, vehicle, description)
        for vehicle in data.vehicles.values()
        for description in VEHICLE_SENSORS
    ]
    entities.extend(
        ChargerSensor(coordinator, evse, description)
        for evse in data.evses.values()
        for description in CHARGER_SENSORS
    )
    if data.tariff is not None:
        entities.extend(AccountSensor(coordinator, description) for description in ACCOUNT_SENSORS)
    async_add_entities(entities)


class VehicleSensor(EvEnergyVehicleEntity, SensorEntity):
    """A vehicle sensor."""

    entity_description: VehicleSensorDescription

    @property
    def native_value(self) -> SensorValue:
        """The value from the last poll."""
        return self.entity_description.value_fn(self.vehicle)


class ChargerSensor(EvEnergyChargerEntity, SensorEntity):
    """A charger sensor."""

    entity_description: ChargerSensorDescription

    @property
    def native_value(self) -> SensorValue:
        """The value from the last poll."""
        return self.entity_description.value_fn(self.evse)


class AccountSensor(EvEnergyAccountEntity, SensorEntity):
    """A sensor of the account's tariff."""

    entity_description: AccountSensorDescription

    def __init__(
        self, coordinator: EvEnergyCoordinator, description: AccountSensorDescription
    ) -> None:
        """Fix the unit from the tariff's currency."""
        super().__init__(coordinator, description)
        assert coordinator.data.tariff is not None
        self._attr_native_unit_of_measurement = description.unit_fn(coordinator.data.tariff)

    @property
    def available(self) -> bool:
        """Unavailable while the account has no tariff."""
        return super().available and self.coordinator.data.tariff is not None

    @property
    def native_value(self) -> SensorValue:
        """The value from the last poll."""
        tariff = self.coordinator.data.tariff
        return self.entity_description.value_fn(tariff) if tariff is not None else None
