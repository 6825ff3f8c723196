"""Numbers: the vehicle's charge limit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from homeassistant.components.number import NumberEntity, NumberEntityDescription, NumberMode
from homeassistant.const import PERCENTAGE
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .api import CHARGE_LIMIT_RANGE, EvEnergyClient, Vehicle
from .const import DOMAIN
from .coordinator import EvEnergyData
from .entity import EvEnergyVehicleEntity, async_add_resource_entities, handle_api_errors
from .runtime import EvEnergyConfigEntry

PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class VehicleNumberDescription(NumberEntityDescription):
    """A vehicle setting written with PATCH /vehicles/{id}."""

    value_fn: Callable[[Vehicle], int | None]
    set_fn: Callable[[EvEnergyClient, str, int], Awaitable[Vehicle]]


VEHICLE_NUMBERS: tuple[VehicleNumberDescription, ...] = (
    VehicleNumberDescription(
        key="charge_limit",
        translation_key="charge_limit",
        native_min_value=CHARGE_LIMIT_RANGE.start,
        native_max_value=CHARGE_LIMIT_RANGE.stop - 1,
        native_step=1,
        native_unit_of_measurement=PERCENTAGE,
        mode=NumberMode.SLIDER,
        value_fn=lambda vehicle: vehicle.maximum_charge_limit_percentage,
        set_fn=lambda client, vehicle_id, value: client.async_set_charge_limit(vehicle_id, value),
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EvEnergyConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Create the numbers of every vehicle."""
    live = entry.runtime_data.live

    def build(data: EvEnergyData, resource_id: str) -> list[VehicleNumber]:
        if vehicle := data.vehicles.get(resource_id):
            return [VehicleNumber(live, vehicle, description) for description in VEHICLE_NUMBERS]
        return []

    async_add_resource_entities(entry, async_add_entities, build)


class VehicleNumber(EvEnergyVehicleEntity, NumberEntity):
    """A writable vehicle setting."""

    entity_description: VehicleNumberDescription

    def _shown_value(self) -> object:
        return self.native_value

    @property
    def native_value(self) -> int | None:
        """The value the API last reported."""
        return self.entity_description.value_fn(self.vehicle)

    @handle_api_errors
    async def async_set_native_value(self, value: float) -> None:
        """Write the value; the entity shows what the API returns, never a rejected value."""
        description = self.entity_description
        low, high = description.native_min_value, description.native_max_value
        assert low is not None
        assert high is not None
        if not (value.is_integer() and low <= value <= high):
            self.async_write_ha_state()
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="value_out_of_range",
                translation_placeholders={
                    "value": f"{value:g}",
                    "min": f"{low:g}",
                    "max": f"{high:g}",
                },
            )
        vehicle = await description.set_fn(self.coordinator.client, self.resource_id, int(value))
        self.coordinator.async_set_vehicle(vehicle)
