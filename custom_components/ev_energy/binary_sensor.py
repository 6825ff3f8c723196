"""Binary sensors: plugged in and charging, for vehicles and chargers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time as dt_time, timedelta
from typing import Any

from homeassistant.components.binary_sensor import BinarySensorEntity, BinarySensorEntityDescription
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from .api import Evse, PriceSchedule, PriceWindow, Vehicle
from .const import CONF_WINDOW_END, CONF_WINDOW_HOURS
from .coordinator import EvEnergyData
from .dispatches import Dispatch, completed_dispatches, completed_expiry, planned_dispatches
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
        # Named, not left to the device class: German names that "Ladestatus", like the
        # vehicle's Charging status.
        translation_key="charging",
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
        translation_key="charging",
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
    async_add_entities([PushActiveSensor(entry.runtime_data.push, PUSH_ACTIVE)])
    window = CheapestWindow(hass, entry, async_add_entities)
    window.async_apply_options()
    entry.runtime_data.cheapest_window = window


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


class CheapestWindow:
    """The cheapest window sensor as the options want it: added, retuned or removed in place."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: EvEnergyConfigEntry,
        async_add_entities: AddConfigEntryEntitiesCallback,
    ) -> None:
        """Add the sensor to the platform through `async_add_entities`."""
        self.hass = hass
        self.entry = entry
        self._add_entities = async_add_entities
        self._sensor: CheapestWindowSensor | None = None

    @callback
    def async_apply_options(self) -> None:
        """Add the sensor (for a known tariff), take a new length or end, or remove it."""
        options = self.entry.options
        hours = float(options.get(CONF_WINDOW_HOURS, 0))
        if hours <= 0:
            if (sensor := self._sensor) is not None:
                self._sensor = None
                # Out of the registry (which removes the entity): turned off, it is gone, not
                # left behind as unavailable. A disabled one has its registry entry too.
                if sensor.registry_entry is not None:
                    er.async_get(self.hass).async_remove(sensor.registry_entry.entity_id)
            return
        duration = timedelta(hours=hours)
        end = dt_time.fromisoformat(options[CONF_WINDOW_END])
        if self._sensor is not None:
            self._sensor.async_retune(duration, end)
        elif self.entry.runtime_data.live.data.tariff is not None:
            self._sensor = CheapestWindowSensor(
                self.entry.runtime_data.prices, CHEAPEST_WINDOW, duration, end
            )
            self._add_entities([self._sensor])


class CheapestWindowSensor(EvEnergyPriceEntity, BinarySensorEntity):
    """On while now is inside the cheapest `duration` of the 24 hours before the end time.

    The period runs up to the next occurrence of the end time (local time), so the window is
    stable through the day and recomputed whenever prices arrive; it turns on and off on time
    from the entity's flip timer.
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
        # The period's end and the price list it was computed from, with its window.
        self._computed: tuple[datetime, PriceSchedule, PriceWindow | None] | None = None

    @callback
    def async_retune(self, duration: timedelta, end: dt_time) -> None:
        """Take a new length or end time; once added, it shows the new window at once."""
        if (duration, end) == (self._duration, self._end):
            return
        self._duration, self._end, self._computed = duration, end, None
        # Not added yet (or disabled): it computes the window when it is added.
        if self._shown_available is not None and self._shows_news(None, self.available):
            self.async_write_ha_state()

    def _window(self, now: datetime) -> tuple[datetime, PriceWindow | None]:
        """Return the current period's end and its window, computed once per period and list."""
        zone = dt_util.get_default_time_zone()
        local_now = now.astimezone(zone)
        period_end = datetime.combine(local_now.date(), self._end, zone)
        if period_end <= local_now:
            period_end = datetime.combine(local_now.date() + timedelta(days=1), self._end, zone)
        schedule = self.prices.schedule
        computed = self._computed
        if computed is None or computed[0] != period_end or computed[1] != schedule:
            period_start = datetime.combine(period_end.date() - timedelta(days=1), self._end, zone)
            window = schedule.cheapest_window(
                self._duration, period_start.astimezone(UTC), period_end.astimezone(UTC)
            )
            computed = self._computed = (period_end, schedule, window)
        return period_end, computed[2]

    def _shown_value(self) -> object:
        return self.is_on, self.extra_state_attributes

    def _next_flip(self, now: datetime) -> datetime | None:
        period_end, window = self._window(now)
        flips = [period_end.astimezone(UTC)]
        if window is not None:
            flips += [window.start, window.end]
        return min(flip for flip in flips if flip > now)

    @property
    def is_on(self) -> bool | None:
        """Whether now is inside the window; unknown while no window can be priced."""
        now = dt_util.utcnow()
        _, window = self._window(now)
        if window is None:
            return None
        return window.start <= now < window.end

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """The window's bounds and average price."""
        _, window = self._window(dt_util.utcnow())
        return {
            "start": window.start.isoformat() if window else None,
            "end": window.end.isoformat() if window else None,
            "average_price": float(window.average) if window else None,
        }


class ChargingPlannedSensor(EvEnergyPlanEntity, BinarySensorEntity):
    """On while the plan says power is on; flips at slot boundaries from the plans' timer.

    Its dispatch attributes have the shape of the Octopus Energy integration's, so optimisers
    built for that (Predbat's `octopus_intelligent_slot`) read ev.energy's plan too.
    """

    # Whole slot lists for optimisers reading them now; history has the plan's own sensors.
    _unrecorded_attributes = frozenset({"planned_dispatches", "completed_dispatches"})

    async def async_added_to_hass(self) -> None:
        """Also follow the sessions, which the completed dispatches come from."""
        await super().async_added_to_hass()
        self._follow(self.coordinator.sessions)

    def _shown_value(self) -> object:
        slot = self.plan.active(dt_util.utcnow())
        return slot is not None, slot.type if slot else None, self.dispatch_attributes()

    def _next_flip(self, now: datetime) -> datetime | None:
        return completed_expiry(self.dispatch_attributes()["completed_dispatches"])

    @property
    def is_on(self) -> bool:
        """Whether a planned slot is in progress."""
        return self.plan.active(dt_util.utcnow()) is not None

    def dispatch_attributes(self) -> dict[str, list[Dispatch]]:
        """Return the planned and completed dispatches: part of what the entity shows."""
        now = dt_util.utcnow()
        return {
            "planned_dispatches": planned_dispatches(self.plan, now),
            "completed_dispatches": completed_dispatches(
                self.coordinator.sessions.recent, self.resource_id, now
            ),
        }

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """The schedule type of the slot in progress (e.g. smart, boost), and the dispatches."""
        slot = self.plan.active(dt_util.utcnow())
        return {
            "type": slot.type.value.lower() if slot and slot.type else None,
            **self.dispatch_attributes(),
        }


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
