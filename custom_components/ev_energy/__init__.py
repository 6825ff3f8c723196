"""The ev.energy integration: smart EV charging for Home Assistant."""

from __future__ import annotations

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.config_entry_oauth2_flow import (
    OAuth2Session,
    async_get_config_entry_implementation,
)
from homeassistant.helpers.typing import ConfigType
import probatio

from .api import DEFAULT_API_URL, EvEnergyClient
from .application_credentials import api_url
from .const import CONF_API_URL, DATA_API_URL, DOMAIN
from .coordinator import (
    EvEnergyConfigEntry,
    EvEnergyConnectivityCoordinator,
    EvEnergyCoordinator,
    EvEnergyPriceCoordinator,
    EvEnergyRuntimeData,
    EvEnergySessionsCoordinator,
)
from .issues import async_check_scopes, async_delete_entry_issues, async_update_vehicle_issues
from .notifications import EvEnergyNotificationsCoordinator, async_remove_store
from .oauth import OAuth2SessionAuth
from .plan_coordinator import EvEnergyPlanCoordinator
from .services import async_setup_services

PLATFORMS = [
    Platform.BINARY_SENSOR,
    Platform.CALENDAR,
    Platform.EVENT,
    Platform.NUMBER,
    Platform.SENSOR,
    Platform.SWITCH,
]

CONFIG_SCHEMA = probatio.Schema(
    {
        probatio.Optional(DOMAIN): probatio.Schema(
            {
                probatio.Optional(CONF_API_URL, default=DEFAULT_API_URL): probatio.All(
                    cv.url, cv.string
                )
            }
        )
    },
    extra=probatio.ALLOW_EXTRA,
)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Remember an `api_url` from YAML (used to run against the local simulator)."""
    if DOMAIN in config:
        hass.data[DATA_API_URL] = config[DOMAIN][CONF_API_URL].rstrip("/")
    async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: EvEnergyConfigEntry) -> bool:
    """Connect to ev.energy and set up the platforms."""
    implementation = await async_get_config_entry_implementation(hass, entry)
    oauth_session = OAuth2Session(hass, entry, implementation)
    client = EvEnergyClient(
        async_get_clientsession(hass), OAuth2SessionAuth(oauth_session), api_url(hass)
    )
    coordinator = EvEnergyCoordinator(hass, entry, client)
    await coordinator.async_config_entry_first_refresh()
    async_check_scopes(hass, entry.entry_id, entry.data["token"])

    @callback
    def update_vehicle_issues() -> None:
        if coordinator.last_update_success:
            async_update_vehicle_issues(
                hass, entry.entry_id, coordinator.data.vehicles, coordinator.ids_with_device
            )

    update_vehicle_issues()
    entry.async_on_unload(coordinator.async_add_listener(update_vehicle_issues))
    prices = EvEnergyPriceCoordinator(hass, entry, client, coordinator)
    sessions = EvEnergySessionsCoordinator(hass, entry, client, coordinator)
    connectivity = EvEnergyConnectivityCoordinator(hass, entry, client, coordinator)
    plans = EvEnergyPlanCoordinator(hass, entry, client, coordinator, sessions, prices)
    notifications = EvEnergyNotificationsCoordinator(hass, entry, client, coordinator)
    # These are extras: if one fails now, its entities wait for its next refresh.
    for extra in (prices, sessions, connectivity, plans, notifications):
        await extra.async_refresh()
    entry.runtime_data = EvEnergyRuntimeData(
        client=client,
        coordinator=coordinator,
        prices=prices,
        sessions=sessions,
        connectivity=connectivity,
        plans=plans,
        notifications=notifications,
    )
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: EvEnergyConfigEntry) -> bool:
    """Unload the platforms."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: EvEnergyConfigEntry) -> None:
    """Forget what belongs to a removed account: its vehicles' issues, shown notifications."""
    async_delete_entry_issues(hass, entry.entry_id)
    await async_remove_store(hass, entry.entry_id)


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: EvEnergyConfigEntry, device: dr.DeviceEntry
) -> bool:
    """Allow removing a vehicle or charger that is no longer in the ev.energy account."""
    data = entry.runtime_data.coordinator.data
    in_account = data.vehicles.keys() | data.evses.keys() | {data.user.id}
    return not any(
        domain == DOMAIN and resource_id in in_account for domain, resource_id in device.identifiers
    )
