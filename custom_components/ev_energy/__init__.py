"""The ev.energy integration: smart EV charging for Home Assistant."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.config_entry_oauth2_flow import (
    OAuth2Session,
    async_get_config_entry_implementation,
)
from homeassistant.helpers.typing import ConfigType
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
import probatio

from .api import DEFAULT_API_URL, EvEnergyClient
from .application_credentials import api_url
from .const import CONF_API_URL, DATA_API_URL, DOMAIN
from .coordinator import EvEnergyLiveCoordinator
from .followers import EvEnergyConnectivityCoordinator, EvEnergySessionsCoordinator
from .history import async_remove_history, async_setup_history
from .issues import async_check_scopes, async_delete_entry_issues, async_update_vehicle_issues
from .notifications import EvEnergyNotificationsCoordinator, async_remove_store
from .oauth import OAuth2SessionAuth
from .plan_coordinator import EvEnergyPlanCoordinator
from .price_coordinator import EvEnergyPriceCoordinator
from .push import EvEnergyPush, async_ensure_webhook_id, async_remove_push
from .runtime import EvEnergyConfigEntry, EvEnergyRuntimeData
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
    async_ensure_webhook_id(hass, entry)
    implementation = await async_get_config_entry_implementation(hass, entry)
    oauth_session = OAuth2Session(hass, entry, implementation)
    client = EvEnergyClient(
        async_get_clientsession(hass), OAuth2SessionAuth(oauth_session), api_url(hass)
    )
    live = EvEnergyLiveCoordinator(hass, entry, client)
    await live.async_config_entry_first_refresh()
    async_check_scopes(hass, entry.entry_id, entry.data["token"])

    @callback
    def update_vehicle_issues() -> None:
        if live.last_update_success:
            async_update_vehicle_issues(
                hass, entry.entry_id, live.data.vehicles, live.data.ids_with_device
            )

    update_vehicle_issues()
    entry.async_on_unload(live.async_add_listener(update_vehicle_issues))
    prices = EvEnergyPriceCoordinator(hass, entry, client, live)
    sessions = EvEnergySessionsCoordinator(hass, entry, client, live)
    connectivity = EvEnergyConnectivityCoordinator(hass, entry, client, live)
    plans = EvEnergyPlanCoordinator(hass, entry, client, live, sessions, prices)
    notifications = EvEnergyNotificationsCoordinator(hass, entry, client, live)
    # Only the live poll holds up start-up; the rest is read in the background and its
    # entities show unknown until then, so a slow endpoint never delays Home Assistant.
    for name, first_read in (
        ("prices", prices.async_refresh()),
        ("connectivity", connectivity.async_refresh()),
        ("notifications", notifications.async_refresh()),
        # Plans follow the sessions they belong to.
        ("sessions and plans", _async_refresh_in_turn(sessions, plans)),
    ):
        entry.async_create_background_task(hass, first_read, f"{DOMAIN} first {name} read")
    push = EvEnergyPush(hass, entry, live, sessions)
    live.push = push
    await push.async_start()
    entry.runtime_data = EvEnergyRuntimeData(
        client=client,
        live=live,
        prices=prices,
        sessions=sessions,
        connectivity=connectivity,
        plans=plans,
        notifications=notifications,
        push=push,
    )
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    entry.runtime_data.history = await async_setup_history(hass, entry, client, live)
    entry.async_on_unload(entry.add_update_listener(_async_options_updated))
    # Options changed while this setup ran are applied now (each part compares first).
    _apply_options(entry)
    return True


async def _async_options_updated(hass: HomeAssistant, entry: EvEnergyConfigEntry) -> None:
    """Apply the options in place; an entry unloading has nothing to apply them to."""
    if entry.state is ConfigEntryState.LOADED:
        _apply_options(entry)


@callback
def _apply_options(entry: EvEnergyConfigEntry) -> None:
    """Bring the running entry in step with its options: no reload, no entity unavailable.

    Called on every change of the entry (a renewed token too): each part acts only on a
    change of its own options. Notifications and the history's removal read theirs when used.
    """
    runtime = entry.runtime_data
    runtime.push.async_apply_options()
    if runtime.cheapest_window is not None:
        runtime.cheapest_window.async_apply_options()
    if runtime.history is not None:
        runtime.history.async_apply_options()


async def _async_refresh_in_turn(*coordinators: DataUpdateCoordinator[Any]) -> None:
    for coordinator in coordinators:
        await coordinator.async_refresh()


async def async_unload_entry(hass: HomeAssistant, entry: EvEnergyConfigEntry) -> bool:
    """Stop acting on webhook deliveries, then unload the platforms."""
    await entry.runtime_data.push.async_unload()
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: EvEnergyConfigEntry) -> None:
    """Forget what belongs to a removed account; keep or clear its imported statistics.

    Its vehicles' issues and the record of notifications shown go; the charging statistics
    go only if the user chose so in the options.
    """
    async_delete_entry_issues(hass, entry.entry_id)
    await async_remove_store(hass, entry.entry_id)
    await async_remove_history(hass, entry)
    await async_remove_push(hass, entry)


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: EvEnergyConfigEntry, device: dr.DeviceEntry
) -> bool:
    """Allow removing a vehicle or charger that is no longer in the ev.energy account."""
    data = entry.runtime_data.live.data
    in_account = data.vehicles.keys() | data.evses.keys() | {data.user.id}
    return not any(
        domain == DOMAIN and resource_id in in_account for domain, resource_id in device.identifiers
    )
