"""Switches: smart charging and boost, per vehicle."""

from __future__ import annotations

from typing import Any

from homeassistant.components.switch import SwitchEntity, SwitchEntityDescription
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .api import EvEnergyApiError, Vehicle
from .const import DOMAIN
from .coordinator import EvEnergyData, EvEnergyLiveCoordinator
from .entity import (
    EvEnergySessionEntity,
    EvEnergyVehicleEntity,
    async_add_resource_entities,
    handle_api_errors,
)
from .followers import EvEnergySessionsCoordinator
from .runtime import EvEnergyConfigEntry

PARALLEL_UPDATES = 1

SMART_CHARGING = SwitchEntityDescription(key="smart_charging", translation_key="smart_charging")
BOOST = SwitchEntityDescription(key="boost", translation_key="boost")


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EvEnergyConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Create each vehicle's smart-charging and boost switches."""
    runtime = entry.runtime_data

    def build(data: EvEnergyData, resource_id: str) -> list[SwitchEntity]:
        if vehicle := data.vehicles.get(resource_id):
            return [
                SmartChargingSwitch(runtime.live, vehicle, SMART_CHARGING),
                BoostSwitch(runtime.sessions, vehicle, BOOST, runtime.live),
            ]
        return []

    async_add_resource_entities(entry, async_add_entities, build)


class SmartChargingSwitch(EvEnergyVehicleEntity, SwitchEntity):
    """Smart (price/carbon-optimised) charging; the API's answer is shown at once."""

    def _shown_value(self) -> object:
        return self.is_on

    @property
    def is_on(self) -> bool | None:
        """Whether smart charging is enabled."""
        return self.vehicle.smart_charging_enabled

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Enable smart charging."""
        await self._async_set(True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Disable smart charging."""
        await self._async_set(False)

    @handle_api_errors
    async def _async_set(self, enabled: bool) -> None:
        vehicle = await self.coordinator.client.async_set_smart_charging(self.resource_id, enabled)
        self.coordinator.async_set_vehicle(vehicle)


class BoostSwitch(EvEnergySessionEntity, SwitchEntity):
    """Charge now, ignoring prices, for the current plug-in.

    On is shown at once after the API accepts; the sessions refresh that follows confirms it.
    A refusal (no open session, smart charging off) is a clear error and the state stays.
    """

    def __init__(
        self,
        coordinator: EvEnergySessionsCoordinator,
        vehicle: Vehicle,
        description: SwitchEntityDescription,
        live: EvEnergyLiveCoordinator,
    ) -> None:
        """Boost through the sessions coordinator; availability follows the live poll too."""
        super().__init__(coordinator, vehicle, description)
        self._live = live
        # The state the API just accepted, and the sessions refresh count at that moment.
        self._assumed: tuple[bool, int] | None = None

    @property
    def is_on(self) -> bool:
        """Whether the vehicle's open session is boosting (or was just asked to)."""
        if self._assumed is not None:
            return self._assumed[0]
        session = self.session
        return session is not None and session.is_boosting

    @callback
    def _handle_coordinator_update(self) -> None:
        # Session data from a refresh that began after the boost replaces the assumed state,
        # whichever way it went; an older answer (a refresh in flight, a live poll) does not.
        if self._assumed is not None and self.coordinator.data_generation > self._assumed[1]:
            self._assumed = None
        super()._handle_coordinator_update()

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Start boosting the open session."""
        await self._async_boost(True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Return the open session to smart charging."""
        await self._async_boost(False)

    async def _async_boost(self, start: bool) -> None:
        await self._async_call_boost(start)
        await self.coordinator.async_request_refresh()

    @handle_api_errors
    async def _async_call_boost(self, start: bool) -> None:
        session = self.session
        if session is None or not session.is_open:
            raise HomeAssistantError(translation_domain=DOMAIN, translation_key="not_plugged_in")
        try:
            await self._live.client.async_boost(session.id, start)
        except EvEnergyApiError as err:
            if err.status != 409:
                raise
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="boost_refused",
                translation_placeholders={"message": err.problem.message},
            ) from err
        self._assumed = (start, self.coordinator.refreshes_started)
        self.async_write_ha_state()
