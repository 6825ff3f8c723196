"""Binary sensors: plugged in and charging, for vehicles and chargers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time as dt_time, timedelta
from typing import Any

from homeassistant.components.binary_sensor import BinarySensorEntity, BinarySensorEntityDescription
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.const import EntityCategory
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.util import dt as dt_util

from .api import Evse, PriceWindow, Vehicle
from .const import CONF_WINDOW_END, CONF_WINDOW_HOURS
from .coordinator import EvEnergyData
from .entity import (
    EvEnergyChargerEntity,
    EvEnergyPlanEntity,
    EvEnergyPriceEntity,
    EvEnergyVehicleEntity,
    async_add_resource_entities,
)
from .price_coordinator import EvEnergyPriceCoordinator
from .push import EvEnergyPushEntity
from .runtime import EvEnergyConfigEntry

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
    VehicleBinarySensorDescription(
        key="charging_complete",
        translation_key="charging_complete",
        value_fn=lambda vehicle: vehicle.status.is_complete if vehicle.status else None,
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


CHARGING_PLANNED = BinarySensorEntityDescription(
    key="charging_planned", translation_key="charging_planned"
)

CHEAPEST_WINDOW = BinarySensorEntityDescription(
    key="cheapest_window", translation_key="cheapest_window"
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EvEnergyConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Create the binary sensors of every vehicle and charger, and the cheapest window."""
    live = entry.runtime_data.live

    def build(data: EvEnergyData, resource_id: str) -> list[BinarySensorEntity]:
        if vehicle := data.vehicles.get(resource_id):
            return [
                *(
                    VehicleBinarySensor(live, vehicle, description)
                    for description in VEHICLE_BINARY_SENSORS
                ),
                ChargingPlannedSensor(entry.runtime_data.plans, vehicle, CHARGING_PLANNED),
            ]
        evse = data.evses[resource_id]
        return [
            ChargerBinarySensor(live, evse, description) for description in CHARGER_BINARY_SENSORS
        ]

    async_add_resource_entities(entry, async_add_entities, build)
    entities: list[BinarySensorEntity] = []
    hours = float(entry.options.get(CONF_WINDOW_HOURS, 0))
    if hours > 0 and live.data.tariff is not None:
        entities.append(
            CheapestWindowSensor(
                entry.runtime_data.prices,
                CHEAPEST_WINDOW,
                timedelta(hours=hours),
                dt_time.fromisoformat(entry.options[CONF_WINDOW_END]),
            )
        )
    entities.append(PushActiveSensor(entry.runtime_data.push, PUSH_ACTIVE))
    async_add_entities(entities)


class VehicleBinarySensor(EvEnergyVehicleEntity, BinarySensorEntity):
    """A vehicle binary sensor."""

    entity_description: VehicleBinarySensorDescription

    def _shown_value(self) -> object:
        return self.is_on

    @property
    def is_on(self) -> bool | None:
        """The value from the last poll."""
        return self.entity_description.value_fn(self.vehicle)


class ChargerBinarySensor(EvEnergyChargerEntity, BinarySensorEntity):
    """A charger binary sensor."""

    entity_description: ChargerBinarySensorDescription

    def _shown_value(self) -> object:
        return self.is_on

    @property
    def is_on(self) -> bool | None:
        """The value from the last poll."""
        return self.entity_description.value_fn(self.evse)


class CheapestWindowSensor(EvEnergyPriceEntity, BinarySensorEntity):
    """On while now is inside the cheapest `duration` of the 24 hours before the end time.

    The period runs up to the next occurrence of the end time (local time), so the window is
    stable through the day and recomputed whenever prices arrive; it turns on and off on time
    from local timers.
    """

    def __init__(
        self,
        coordinator: EvEnergyPriceCoordinator,
        description: BinarySensorEntityDescription,
        duration: timedelta,
        end: dt_time,
    ) -> None:
        """Configure the window length and the latest end time."""
        super().__init__(coordinator, description)
        self._duration = duration
        self._end = end
        self._window: PriceWindow | None = None
        self._unsub_timer: CALLBACK_TYPE | None = None

    async def async_added_to_hass(self) -> None:
        """Compute the first window."""
        await super().async_added_to_hass()
        self.async_on_remove(self._cancel_timer)
        self._recompute()

    @callback
    def _handle_coordinator_update(self) -> None:
        self._recompute()
        super()._handle_coordinator_update()

    @callback
    def _recompute(self) -> None:
        now = dt_util.utcnow()
        zone = dt_util.get_default_time_zone()
        local_now = now.astimezone(zone)
        period_end = datetime.combine(local_now.date(), self._end, zone)
        if period_end <= local_now:
            period_end = datetime.combine(local_now.date() + timedelta(days=1), self._end, zone)
        period_start = datetime.combine(period_end.date() - timedelta(days=1), self._end, zone)
        self._window = self.prices.schedule.cheapest_window(
            self._duration, period_start.astimezone(UTC), period_end.astimezone(UTC)
        )
        flips = [period_end.astimezone(UTC)]
        if self._window is not None:
            flips += [self._window.start, self._window.end]
        self._cancel_timer()
        self._unsub_timer = async_track_point_in_utc_time(
            self.hass, self._on_flip, min(flip for flip in flips if flip > now)
        )

    @callback
    def _on_flip(self, _: datetime) -> None:
        self._unsub_timer = None
        self._recompute()
        self.async_write_ha_state()

    @callback
    def _cancel_timer(self) -> None:
        if self._unsub_timer is not None:
            self._unsub_timer()
            self._unsub_timer = None

    @property
    def is_on(self) -> bool | None:
        """Whether now is inside the window; unknown while no window can be priced."""
        if self._window is None:
            return None
        return self._window.start <= dt_util.utcnow() < self._window.end

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """The window's bounds and average price."""
        window = self._window
        return {
            "start": window.start.isoformat() if window else None,
            "end": window.end.isoformat() if window else None,
            "average_price": float(window.average) if window else None,
        }


class ChargingPlannedSensor(EvEnergyPlanEntity, BinarySensorEntity):
    """On while the plan says power is on; flips at slot boundaries from a local timer."""

    @property
    def is_on(self) -> bool:
        """Whether a planned slot is in progress."""
        return self.plan.active(dt_util.utcnow()) is not None

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """The schedule type of the slot in progress (e.g. smart, boost)."""
        slot = self.plan.active(dt_util.utcnow())
        return {"type": slot.type.value.lower() if slot and slot.type else None}


PUSH_ACTIVE = BinarySensorEntityDescription(
    key="push_active",
    translation_key="push_active",
    entity_category=EntityCategory.DIAGNOSTIC,
)


class PushActiveSensor(EvEnergyPushEntity, BinarySensorEntity):
    """On while push updates are set up and ev.energy sent one in the last 24 hours."""

    @property
    def is_on(self) -> bool:
        """Whether push updates work."""
        return self.push.active
