"""Binary sensors: plugged in and charging, for vehicles and chargers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.binary_sensor import BinarySensorEntity, BinarySensorEntityDescription
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .api import Evse, Vehicle
from .coordinator import EvEnergyConfigEntry
from .entity import EvEnergyChargerEntity, EvEnergyVehicleEntity

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class VehicleBinarySensorDescription(BinarySensorEntityDescription):
    """A binary sensor read from a vehicle."""

    value_fn: Callable[[Vehicle], bool | None]


@dataclass(frozen=True, kw_only=True)
class ChargerBinarySensorDescription(BinarySensorEntityDescription):
    """A binary sensor read from a charger."""

    value_fn: Callable[[Evse], bool | None]


VEHICLE_BINARY_SENSORS: tuple[VehicleBinarySensorDescription, ...] = (
    VehicleBinarySensorDescription(
        key="plugged_in",
        translation_key="plugged_in",
        device_class=BinarySensorDeviceClass.PLUG,
        value_fn=lambda vehicle: vehicle.status.is_plugged_in if vehicle.status else None,
    ),
    VehicleBinarySensorDescription(
        key="charging",
        device_class=BinarySensorDeviceClass.BATTERY_CHARGING,
        value_fn=lambda vehicle: vehicle.status.is_charging if vehicle.status else None,
    ),
)

CHARGER_BINARY_SENSORS: tuple[ChargerBinarySensorDescription, ...] = (
    ChargerBinarySensorDescription(
        key="plugged_in",
        translation_key="plugged_in",
        device_class=BinarySensorDeviceClass.PLUG,
        value_fn=lambda evse: evse.status.is_plugged_in if evse.status else None,
    ),
    ChargerBinarySensorDescription(
        key="charging",
        device_class=BinarySensorDeviceClass.BATTERY_CHARGING,
        value_fn=lambda evse: evse.status.is_charging if evse.status else None,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EvEnergyConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Create the binary sensors of every vehicle and charger."""
    coordinator = entry.runtime_data.coordinator
    entities: list[BinarySensorEntity] = [
        VehicleBinarySensor(coordinator, vehicle, description)
        for vehicle in coordinator.data.vehicles.values()
        for description in VEHICLE_BINARY_SENSORS
    ]
    entities.extend(
        ChargerBinarySensor(coordinator, evse, description)
        for evse in coordinator.data.evses.values()
        for description in CHARGER_BINARY_SENSORS
    )
    async_add_entities(entities)


class VehicleBinarySensor(EvEnergyVehicleEntity, BinarySensorEntity):
    """A vehicle binary sensor."""

    entity_description: VehicleBinarySensorDescription

    @property
    def is_on(self) -> bool | None:
        """The value from the last poll."""
        return self.entity_description.value_fn(self.vehicle)


class ChargerBinarySensor(EvEnergyChargerEntity, BinarySensorEntity):
    """A charger binary sensor."""

    entity_description: ChargerBinarySensorDescription

    @property
    def is_on(self) -> bool | None:
        """The value from the last poll."""
        return self.entity_description.value_fn(self.evse)
