"""Push updates: ev.energy's webhooks make Home Assistant fast; polling keeps it correct.

ev.energy (through Svix) posts `charging_sub_session.created` / `.ended` to this entry's
webhook. A delivery is acted upon only once its signature checks out with the endpoint's
signing secret (api/webhooks.py), so nobody else can make the integration send a single
request to ev.energy. A verified event updates the vehicle's session at once and reads the
live poll and the sessions right away, each at most once per PUSH_REFRESH_WINDOW however many
events arrive; the plan follows the sessions. Each delivery id is acted upon once, across
restarts too.

Answers: 405 to anything but POST (Home Assistant's webhook component), 413 to a body over
1 MiB, 400 to a delivery without usable svix-id/svix-timestamp headers or a signed body that
is no event, 401 to anything unsigned, signed with another secret or sent more than five
minutes from now (and to everything while no secret is set), 200 to everything verified: an
event applied, a repeated delivery, an unknown event type or a vehicle not in this entry
(the last three ignored). 503 while the entry unloads: Svix delivers it again later.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from http import HTTPStatus
import logging
import time
from typing import Any, Final

from aiohttp import StreamReader, web
from homeassistant.components import cloud, webhook
from homeassistant.const import CONF_WEBHOOK_ID
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.network import NoURLAvailableError
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util
from homeassistant.util.aiohttp import MockStreamReader

from .api.webhooks import (
    BadSignatureError,
    MalformedEventError,
    MalformedHeadersError,
    SubSessionEvent,
    UnsignedError,
    WebhookError,
    parse_event,
    parse_headers,
    parse_secret,
    verify,
)
from .coalesce import Coalescer
from .const import CONF_WEBHOOK_SECRET, DOMAIN, PUSH_ACTIVE_FOR, PUSH_REFRESH_WINDOW
from .coordinator import EvEnergyLiveCoordinator
from .entity import account_device_info
from .followers import EvEnergySessionsCoordinator
from .lifecycle import Lifecycle
from .runtime import EvEnergyConfigEntry

_LOGGER = logging.getLogger(__name__)

MAX_BODY_BYTES: Final = 1024 * 1024
STORE_VERSION: Final = 1
STORE_SAVE_DELAY: Final = 2
# Svix retries a delivery for about 28 hours: its id is remembered a little longer, and only
# the newest ids are kept should a flood of distinct ones ever arrive.
DELIVERY_MEMORY: Final = timedelta(hours=36)
MAX_REMEMBERED_DELIVERIES: Final = 2000
# Bad signatures in a row, over at least this long with no good one, mean the secret was
# rotated in the portal: a repair asks for the new one. The warning is logged once an hour.
BAD_SIGNATURES_FOR_ISSUE: Final = 3
BAD_SIGNATURES_SPAN: Final = timedelta(minutes=5)
BAD_SIGNATURE_LOG_EVERY: Final = timedelta(hours=1)
SECRET_REJECTED = "webhook_secret_rejected"  # noqa: S105 (an issue key, not a secret)


def secret_rejected_issue_id(entry_id: str) -> str:
    """Return the id of an entry's "paste the new signing secret" repair."""
    return f"{entry_id}_{SECRET_REJECTED}"


@callback
def async_ensure_webhook_id(hass: HomeAssistant, entry: EvEnergyConfigEntry) -> str:
    """Return the entry's webhook id, created once: the URL registered with ev.energy stays."""
    if (webhook_id := entry.data.get(CONF_WEBHOOK_ID)) is None:
        webhook_id = webhook.async_generate_id()
        hass.config_entries.async_update_entry(
            entry, data={**entry.data, CONF_WEBHOOK_ID: webhook_id}
        )
    return str(webhook_id)


def _store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    return Store(hass, STORE_VERSION, f"{DOMAIN}.{entry_id}.push")


async def async_webhook_url(hass: HomeAssistant, webhook_id: str) -> str | None:
    """Return where ev.energy can reach this entry's webhook; None when nowhere.

    A Home Assistant Cloud webhook while subscribed, else the external URL: ev.energy posts
    from the internet, so an internal URL would never be reached.
    """
    if "cloud" in hass.config.components and cloud.async_active_subscription(hass):
        try:
            return await cloud.async_get_or_create_cloudhook(hass, webhook_id)
        except cloud.CloudNotAvailable:
            _LOGGER.debug("Home Assistant Cloud is not connected; offering the external URL")
    try:
        return webhook.async_generate_url(hass, webhook_id, allow_internal=False)
    except NoURLAvailableError:
        return None


async def async_remove_push(hass: HomeAssistant, entry: EvEnergyConfigEntry) -> None:
    """Forget a removed entry's deliveries and delete its cloud webhook, if any."""
    await _store(hass, entry.entry_id).async_remove()
    webhook_id = entry.data.get(CONF_WEBHOOK_ID)
    if webhook_id and "cloud" in hass.config.components:
        try:
            await cloud.async_delete_cloudhook(hass, webhook_id)
        except cloud.CloudNotAvailable, ValueError:
            _LOGGER.debug("No cloud webhook to delete")


async def _read_bounded(content: StreamReader | MockStreamReader) -> bytes | None:
    """Read the body; None once it grows over MAX_BODY_BYTES (the rest is never read)."""
    body = b""
    while chunk := await content.read(MAX_BODY_BYTES + 1 - len(body)):
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return None
    return body


class EvEnergyPush:
    """An entry's webhook: verifies deliveries, applies events, tells whether push works."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: EvEnergyConfigEntry,
        live: EvEnergyLiveCoordinator,
        sessions: EvEnergySessionsCoordinator,
    ) -> None:
        """Serve the webhook of `entry`; events update `sessions` and read `live` again."""
        self.hass = hass
        self.entry = entry
        self.live = live
        self.sessions = sessions
        self.webhook_id: str = entry.data[CONF_WEBHOOK_ID]
        # The options' secret and its key; async_apply_options follows a change.
        self._secret: str | None = entry.options.get(CONF_WEBHOOK_SECRET)
        # The options flow and the repair only store a valid secret.
        self._key = parse_secret(self._secret) if self._secret else None
        self.timers = Lifecycle(hass, entry.async_on_unload, f"{DOMAIN} push")
        self._refresh = Coalescer(self.timers, "refresh", PUSH_REFRESH_WINDOW, self._async_refresh)
        self._store = _store(hass, entry.entry_id)
        # Delivery ids acted upon, oldest first, with when (POSIX seconds).
        self._seen: dict[str, float] = {}
        self.last_event: datetime | None = None
        self._listeners: list[CALLBACK_TYPE] = []
        # Bad signatures since the last good delivery: how many, since when, last warning.
        self._bad = 0
        self._bad_since = 0.0
        self._bad_logged_at: float | None = None

    @property
    def configured(self) -> bool:
        """Whether a signing secret is set (push is on)."""
        return self._key is not None

    @property
    def active(self) -> bool:
        """Whether push is on and an event was verified in the last PUSH_ACTIVE_FOR."""
        return (
            self.configured
            and self.last_event is not None
            and dt_util.utcnow() - self.last_event < PUSH_ACTIVE_FOR
        )

    async def async_start(self) -> None:
        """Load the deliveries already acted upon, then listen."""
        stored = await self._store.async_load() or {}
        now = time.time()
        seen = stored.get("seen", {})
        self._seen = {
            str(message_id): float(at)
            for message_id, at in seen.items()
            if isinstance(at, int | float) and now - at < DELIVERY_MEMORY.total_seconds()
        }
        if isinstance(last := stored.get("last_event"), str):
            self.last_event = dt_util.parse_datetime(last)
        # Bad signatures are counted afresh: a repair raised by an earlier count is moot.
        self._forget_bad_signatures()
        self._arm_expiry()
        webhook.async_register(
            self.hass,
            DOMAIN,
            "ev.energy",
            self.webhook_id,
            self._async_handle,
            allowed_methods=["POST"],
        )
        self.entry.async_on_unload(self._unregister)

    @callback
    def async_apply_options(self) -> None:
        """Verify deliveries with the secret now in the options, from the next one on.

        A new secret (or none) also makes bad signatures counted against the old one moot.
        """
        secret = self.entry.options.get(CONF_WEBHOOK_SECRET)
        if secret == self._secret:
            return
        self._secret = secret
        self._key = parse_secret(secret) if secret else None
        self._forget_bad_signatures()
        # `configured`, and so `active`, may have changed.
        self._notify()

    @callback
    def _forget_bad_signatures(self) -> None:
        self._bad = 0
        self._bad_logged_at = None
        ir.async_delete_issue(self.hass, DOMAIN, secret_rejected_issue_id(self.entry.entry_id))

    @callback
    def _unregister(self) -> None:
        webhook.async_unregister(self.hass, self.webhook_id)

    async def async_unload(self) -> None:
        """Stop acting on deliveries, stop listening, and keep what was acted upon."""
        self.timers.stop()
        self._unregister()
        await self._store.async_save(self._stored())

    @callback
    def async_add_listener(self, update: CALLBACK_TYPE) -> CALLBACK_TYPE:
        """Call `update` when the last event's time or `active` changes."""
        self._listeners.append(update)
        return lambda: self._listeners.remove(update)

    @callback
    def _notify(self) -> None:
        for update in list(self._listeners):
            update()

    @callback
    def _arm_expiry(self) -> None:
        """Tell listeners when `active` runs out."""
        expires = self.last_event + PUSH_ACTIVE_FOR if self.last_event else None
        self.timers.at("expiry", expires, self._notify)

    def _stored(self) -> dict[str, Any]:
        return {
            "seen": self._seen,
            "last_event": self.last_event.isoformat() if self.last_event else None,
        }

    async def _async_handle(
        self, hass: HomeAssistant, webhook_id: str, request: web.Request
    ) -> web.Response:
        """Answer one delivery (see the module's docstring for the statuses)."""
        body = await _read_bounded(request.content)
        if body is None:
            return web.Response(status=HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
        if self.timers.stopped:
            return web.Response(status=HTTPStatus.SERVICE_UNAVAILABLE)
        return web.Response(status=self._receive(request.headers, body))

    @callback
    def _receive(self, headers: Mapping[str, str], body: bytes) -> HTTPStatus:
        """Verify a delivery and act on it; return the status to answer."""
        now = time.time()
        try:
            delivery = parse_headers(headers)
            if self._key is None:
                raise UnsignedError("push updates are off (no secret)")
            verify(self._key, delivery, body, now)
        except BadSignatureError:
            self._bad_signature(now)
            return HTTPStatus.UNAUTHORIZED
        except WebhookError as err:
            _LOGGER.debug("Refused a webhook delivery: %s", err)
            if isinstance(err, MalformedHeadersError):
                return HTTPStatus.BAD_REQUEST
            return HTTPStatus.UNAUTHORIZED
        # From here on the delivery is ev.energy's.
        self._good_signature()
        return self._act(delivery.message_id, body, now)

    @callback
    def _act(self, message_id: str, body: bytes, now: float) -> HTTPStatus:
        """Act on a verified delivery, unless it was already."""
        if message_id in self._seen:
            _LOGGER.debug("Delivery %s was already acted upon", message_id)
            return HTTPStatus.OK
        try:
            event = parse_event(body)
        except MalformedEventError as err:
            _LOGGER.warning("ev.energy sent a webhook event that cannot be read: %s", err)
            return HTTPStatus.BAD_REQUEST
        self._remember(message_id, now)
        if event is None:
            _LOGGER.debug("Ignoring an event type this integration does not use")
        else:
            self._apply(event)
        return HTTPStatus.OK

    @callback
    def _remember(self, message_id: str, now: float) -> None:
        """Note the delivery as acted upon and the time push last worked."""
        self._seen[message_id] = now
        horizon = now - DELIVERY_MEMORY.total_seconds()
        for old_id, at in list(self._seen.items()):
            if at >= horizon and len(self._seen) <= MAX_REMEMBERED_DELIVERIES:
                break
            del self._seen[old_id]
        self._store.async_delay_save(self._stored, STORE_SAVE_DELAY)
        self.last_event = dt_util.utcnow()
        self._arm_expiry()
        self._notify()

    @callback
    def _apply(self, event: SubSessionEvent) -> None:
        """Show what the event tells at once, then read what it changed."""
        vehicle_id = event.sub_session.vehicle_id
        if vehicle_id not in self.live.data.vehicles:
            _LOGGER.debug("Ignoring an event of vehicle %s, not in this entry", vehicle_id)
            return
        _LOGGER.debug("%s: sub-session %s of %s", event.type, event.sub_session.id, vehicle_id)
        self.sessions.async_apply_sub_session(event)
        self._refresh.request()

    async def _async_refresh(self) -> None:
        """Read the live poll, then the sessions unless a plug change in it already did."""
        sessions_started = self.sessions.refreshes_started
        await self.live.async_refresh()
        if self.sessions.refreshes_started == sessions_started:
            await self.sessions.async_refresh()

    @callback
    def _bad_signature(self, now: float) -> None:
        if self._bad == 0:
            self._bad_since = now
        self._bad += 1
        log_every = BAD_SIGNATURE_LOG_EVERY.total_seconds()
        if self._bad_logged_at is None or now - self._bad_logged_at >= log_every:
            self._bad_logged_at = now
            _LOGGER.warning(
                "Refused a webhook delivery whose signature does not match the signing secret "
                "(logged at most hourly); if the secret was rotated in ev.energy's webhook "
                "portal, enter the new one under the integration's options, Push updates"
            )
        if (
            self._bad >= BAD_SIGNATURES_FOR_ISSUE
            and now - self._bad_since >= BAD_SIGNATURES_SPAN.total_seconds()
        ):
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                secret_rejected_issue_id(self.entry.entry_id),
                is_fixable=True,
                is_persistent=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key=SECRET_REJECTED,
                data={"entry_id": self.entry.entry_id},
            )

    @callback
    def _good_signature(self) -> None:
        if self._bad:
            self._bad = 0
            ir.async_delete_issue(self.hass, DOMAIN, secret_rejected_issue_id(self.entry.entry_id))


class EvEnergyPushEntity(Entity):
    """An entity of the account device that follows the entry's push updates."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(self, push: EvEnergyPush, description: EntityDescription) -> None:
        """Attach to the account's device."""
        self.push = push
        self.entity_description = description
        user_id = push.live.data.user.id
        self._attr_unique_id = f"{user_id}_{description.key}"
        self._attr_device_info = account_device_info(user_id)

    async def async_added_to_hass(self) -> None:
        """Write the state whenever push news arrives."""
        self.async_on_remove(self.push.async_add_listener(self.async_write_ha_state))
