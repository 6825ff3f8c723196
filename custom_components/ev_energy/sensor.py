"""Sensors: vehicle state, charger meter, and the tariff's current price."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

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
    PriceInterval,
    Vehicle,
    VehicleState,
    VehicleStatus,
)
from .coordinator import EvEnergyConfigEntry, PriceView
from .entity import EvEnergyChargerEntity, EvEnergyPriceEntity, EvEnergyVehicleEntity

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
        suggested_display_precision=4,
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
        prices = entry.runtime_data.prices
        entities.extend(PriceSensor(prices, description) for description in PRICE_SENSORS)
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


class PriceSensor(EvEnergyPriceEntity, SensorEntity):
    """A sensor of the tariff's prices; its state changes exactly at price boundaries."""

    entity_description: PriceSensorDescription
    # The full price list is for dashboards and templates, not for the recorder.
    _unrecorded_attributes = frozenset({"prices"})

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
