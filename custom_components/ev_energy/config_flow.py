"""Config flow: OAuth2 sign-in, reauth and reconfigure for ev.energy."""

from __future__ import annotations

from collections.abc import Mapping
import logging
from typing import Any

from homeassistant.config_entries import (
    SOURCE_REAUTH,
    SOURCE_RECONFIGURE,
    ConfigEntryState,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.core import callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.config_entry_oauth2_flow import AbstractOAuth2FlowHandler
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
    TimeSelector,
)
import probatio

from .api import EvEnergyClient, EvEnergyError, StaticTokenAuth
from .api.webhooks import parse_secret
from .application_credentials import api_url
from .const import (
    CONF_CLEAR_HISTORY_ON_REMOVE,
    CONF_HISTORY_DAYS,
    CONF_MARK_NOTIFICATIONS_READ,
    CONF_PERSISTENT_NOTIFICATIONS,
    CONF_WEBHOOK_SECRET,
    CONF_WINDOW_END,
    CONF_WINDOW_HOURS,
    DEFAULT_HISTORY_DAYS,
    DOMAIN,
    MAX_HISTORY_DAYS,
    SCOPES,
)
from .push import async_ensure_webhook_id, async_webhook_url
from .runtime import EvEnergyConfigEntry

_LOGGER = logging.getLogger(__name__)


class EvEnergyFlowHandler(AbstractOAuth2FlowHandler, domain=DOMAIN):
    """Sign in to ev.energy; the account's user id is the entry's unique id."""

    DOMAIN = DOMAIN
    VERSION = 1

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: EvEnergyConfigEntry) -> EvEnergyOptionsFlow:
        """Options: cheapest window, charging history, notifications and push updates."""
        return EvEnergyOptionsFlow()

    @property
    def logger(self) -> logging.Logger:
        """Log under the integration's logger."""
        return _LOGGER

    @property
    def extra_authorize_data(self) -> dict[str, Any]:
        """Ask for every scope the entities and actions need."""
        return {"scope": " ".join(SCOPES)}

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """Start over when the refresh token stopped working."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Explain why the user has to sign in again."""
        if user_input is None:
            return self.async_show_form(step_id="reauth_confirm")
        return await self.async_step_user()

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Sign in again (e.g. with new credentials) keeping devices and entities."""
        return await self.async_step_user()

    async def async_oauth_create_entry(self, data: dict[str, Any]) -> ConfigFlowResult:
        """Identify the account, then create or update the entry."""
        client = EvEnergyClient(
            async_get_clientsession(self.hass),
            StaticTokenAuth(data["token"]["access_token"]),
            api_url(self.hass),
        )
        try:
            user = await client.async_get_current_user()
        except EvEnergyError as err:
            _LOGGER.warning("Could not identify the ev.energy account: %s", err)
            return self.async_abort(reason="cannot_connect")

        await self.async_set_unique_id(user.id)
        if self.source == SOURCE_REAUTH:
            self._abort_if_unique_id_mismatch(reason="wrong_account")
            return self._update_and_reload(self._get_reauth_entry(), data)
        if self.source == SOURCE_RECONFIGURE:
            self._abort_if_unique_id_mismatch(reason="wrong_account")
            return self._update_and_reload(self._get_reconfigure_entry(), data)
        self._abort_if_unique_id_configured()
        return self.async_create_entry(title=user.full_name or user.email or "ev.energy", data=data)

    def _update_and_reload(
        self, entry: EvEnergyConfigEntry, data: dict[str, Any]
    ) -> ConfigFlowResult:
        """Store the new sign-in and restart the entry with it (its polls stop on a failed one).

        Not async_update_reload_and_abort: Home Assistant wants an entry with an update listener
        to reload from there, and this one's applies options in place, never reloading.
        """
        # data_updates keeps the webhook id, and so the URL registered with ev.energy.
        result = self.async_update_and_abort(entry, data_updates=data)
        self.hass.config_entries.async_schedule_reload(entry.entry_id)
        return result


OPTIONS_SCHEMA = probatio.Schema(
    {
        probatio.Required(CONF_WINDOW_HOURS, default=0): NumberSelector(
            NumberSelectorConfig(
                min=0, max=12, step=0.5, unit_of_measurement="h", mode=NumberSelectorMode.BOX
            )
        ),
        probatio.Required(CONF_WINDOW_END, default="07:00:00"): TimeSelector(),
        probatio.Required(CONF_HISTORY_DAYS, default=DEFAULT_HISTORY_DAYS): NumberSelector(
            NumberSelectorConfig(
                min=0,
                max=MAX_HISTORY_DAYS,
                step=1,
                unit_of_measurement="d",
                mode=NumberSelectorMode.BOX,
            )
        ),
        probatio.Required(CONF_CLEAR_HISTORY_ON_REMOVE, default=False): BooleanSelector(),
        probatio.Required(CONF_PERSISTENT_NOTIFICATIONS, default=False): BooleanSelector(),
        probatio.Required(CONF_MARK_NOTIFICATIONS_READ, default=False): BooleanSelector(),
    }
)


PUSH_SCHEMA = probatio.Schema(
    {
        probatio.Optional(CONF_WEBHOOK_SECRET, default=""): TextSelector(
            TextSelectorConfig(type=TextSelectorType.PASSWORD)
        ),
    }
)


class EvEnergyOptionsFlow(OptionsFlow):
    """Settings (cheapest window, charging history, notifications) and push updates."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Choose what to set up."""
        return self.async_show_menu(step_id="init", menu_options=["settings", "push"])

    async def async_step_settings(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show or store the options; the running entry applies them in place."""
        if user_input is not None:
            return self.async_create_entry(data={**self.config_entry.options, **user_input})
        return self.async_show_form(
            step_id="settings",
            data_schema=self.add_suggested_values_to_schema(
                OPTIONS_SCHEMA, self.config_entry.options
            ),
        )

    async def async_step_push(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show the webhook URL and a portal link; store the signing secret (empty: off)."""
        errors: dict[str, str] = {}
        if user_input is not None:
            secret = str(user_input.get(CONF_WEBHOOK_SECRET, "")).strip()
            try:
                if secret:
                    parse_secret(secret)
            except ValueError:
                errors[CONF_WEBHOOK_SECRET] = "invalid_secret"
            else:
                options = dict(self.config_entry.options)
                options.pop(CONF_WEBHOOK_SECRET, None)
                if secret:
                    options[CONF_WEBHOOK_SECRET] = secret
                return self.async_create_entry(data=options)
        entry: EvEnergyConfigEntry = self.config_entry
        url = await async_webhook_url(self.hass, async_ensure_webhook_id(self.hass, entry))
        portal = None
        try:
            # Only a loaded entry has a client (one that is retrying has none).
            if entry.state is ConfigEntryState.LOADED:
                portal = await entry.runtime_data.client.async_get_webhook_portal()
        except EvEnergyError as err:
            _LOGGER.warning("Could not get a link to ev.energy's webhook portal: %s", err)
        if portal is None:
            errors.setdefault("base", "portal_unavailable")
        if url is None:
            # Without a URL ev.energy can reach, nothing else on the page helps.
            errors["base"] = "no_webhook_url"
        return self.async_show_form(
            step_id="push",
            data_schema=self.add_suggested_values_to_schema(PUSH_SCHEMA, entry.options),
            description_placeholders={"webhook_url": url or "-", "portal_url": portal or "-"},
            errors=errors,
        )
