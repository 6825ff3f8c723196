"""Fix flows: reconnect a vehicle whose connection to ev.energy was severed; a new secret."""

from __future__ import annotations

from homeassistant.components.repairs import RepairsFlow, RepairsFlowResult
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
import probatio

from .api import EvEnergyApiError, EvEnergyAuthError, EvEnergyError, IntegrationStatus
from .api.webhooks import parse_secret
from .const import CONF_WEBHOOK_SECRET
from .push import SECRET_REJECTED
from .runtime import EvEnergyConfigEntry


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, str | int | float | None] | None
) -> RepairsFlow:
    """Create the reconnect flow of a `vehicle_inactive_<vehicle id>` issue, or the secret's."""
    data = data or {}
    if issue_id.endswith(SECRET_REJECTED):
        return WebhookSecretFlow(entry_id=str(data.get("entry_id")))
    return VehicleReconnectFlow(
        entry_id=str(data.get("entry_id")),
        vehicle_id=str(data.get("vehicle_id")),
        vehicle=str(data.get("vehicle")),
    )


class VehicleReconnectFlow(RepairsFlow):
    """Fetch a reconnection link from ev.energy, show it, and check the vehicle afterwards."""

    def __init__(self, *, entry_id: str, vehicle_id: str, vehicle: str) -> None:
        """Reconnect `vehicle_id` of the config entry `entry_id`."""
        self._entry_id = entry_id
        self._vehicle_id = vehicle_id
        self._vehicle = vehicle
        self._url = ""

    def _entry(self) -> EvEnergyConfigEntry | None:
        entry: EvEnergyConfigEntry | None = self.hass.config_entries.async_get_entry(self._entry_id)
        return entry if entry is not None and entry.state is ConfigEntryState.LOADED else None

    async def async_step_init(self, user_input: dict[str, str] | None = None) -> RepairsFlowResult:
        """Ask ev.energy for a reconnection link."""
        if (entry := self._entry()) is None:
            return self.async_abort(reason="entry_not_loaded")
        try:
            link = await entry.runtime_data.client.async_reconnect_vehicle(self._vehicle_id)
        except EvEnergyAuthError:
            entry.async_start_reauth(self.hass)
            return self.async_abort(reason="auth_failed")
        except EvEnergyApiError as err:
            if err.status == 403:
                return self.async_abort(reason="reconnect_forbidden")
            return self.async_abort(reason="cannot_connect")
        except EvEnergyError:
            return self.async_abort(reason="cannot_connect")
        self._url = link.url
        return await self.async_step_reconnect()

    async def async_step_reconnect(
        self, user_input: dict[str, str] | None = None
    ) -> RepairsFlowResult:
        """Show the link; once submitted, read the vehicle again to see if it is back."""
        errors: dict[str, str] = {}
        if user_input is not None:
            if (entry := self._entry()) is None:
                return self.async_abort(reason="entry_not_loaded")
            coordinator = entry.runtime_data.live
            await coordinator.async_refresh()
            vehicle = coordinator.data.vehicles.get(self._vehicle_id)
            if vehicle is None or vehicle.integrated is not IntegrationStatus.INACTIVE:
                return self.async_create_entry(data={})
            errors["base"] = "still_inactive"
        return self.async_show_form(
            step_id="reconnect",
            data_schema=probatio.Schema({}),
            description_placeholders={"vehicle": self._vehicle, "url": self._url},
            errors=errors,
        )


class WebhookSecretFlow(RepairsFlow):
    """Take the new signing secret after ev.energy's deliveries stopped matching the old one."""

    def __init__(self, *, entry_id: str) -> None:
        """Store the secret of the config entry `entry_id`."""
        self._entry_id = entry_id

    async def async_step_init(self, user_input: dict[str, str] | None = None) -> RepairsFlowResult:
        """Ask for the secret and store it: the running entry verifies with it at once."""
        entry = self.hass.config_entries.async_get_entry(self._entry_id)
        if entry is None:
            return self.async_abort(reason="entry_removed")
        errors: dict[str, str] = {}
        if user_input is not None:
            secret = user_input.get(CONF_WEBHOOK_SECRET, "").strip()
            try:
                parse_secret(secret)
            except ValueError:
                errors[CONF_WEBHOOK_SECRET] = "invalid_secret"
            else:
                self.hass.config_entries.async_update_entry(
                    entry, options={**entry.options, CONF_WEBHOOK_SECRET: secret}
                )
                return self.async_create_entry(data={})
        return self.async_show_form(
            step_id="init",
            data_schema=probatio.Schema({probatio.Required(CONF_WEBHOOK_SECRET): str}),
            errors=errors,
        )
