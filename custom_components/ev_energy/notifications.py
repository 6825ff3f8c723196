"""ev.energy's in-app notifications: read every 30 minutes, each shown once, also across restarts.

A notification is news once: the first read that finds it unread and unresolved shows it (as
an event, and as a persistent notification if the user wants), and its id is stored before it
is shown, so a restart never shows it again. An id is kept as long as ev.energy lists it (its
list bounds the memory) and forgotten once it does not. Dismissing such a persistent
notification marks it read in ev.energy only when the user turned that on.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import logging
import re
from typing import Any

from homeassistant.components import persistent_notification
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.storage import Store
from homeassistant.helpers.update_coordinator import UpdateFailed
from homeassistant.util import dt as dt_util

from .api import EvEnergyClient, EvEnergyError, Notification
from .const import (
    CONF_MARK_NOTIFICATIONS_READ,
    CONF_PERSISTENT_NOTIFICATIONS,
    DOMAIN,
    NOTIFICATIONS_REFRESH_INTERVAL,
)
from .coordinator import EvEnergyLiveCoordinator
from .followers import FollowerCoordinator
from .runtime import EvEnergyConfigEntry

_LOGGER = logging.getLogger(__name__)

STORE_VERSION = 1
_HTTP_LINK = re.compile(r"https?://[^\s<>]+", re.IGNORECASE)
# A label cannot close the Markdown link it is written in.
_NO_BRACKETS = str.maketrans("", "", "[]")


def _store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    return Store(hass, STORE_VERSION, f"{DOMAIN}.{entry_id}.notifications")


async def async_remove_store(hass: HomeAssistant, entry_id: str) -> None:
    """Forget the shown notifications of a removed account."""
    await _store(hass, entry_id).async_remove()


def persistent_id(notification_id: str) -> str:
    """Return the persistent notification id that shows an ev.energy notification."""
    return f"{DOMAIN}_{notification_id}"


def notification_message(notification: Notification) -> str:
    """Return the persistent notification's text: short text, help text and link."""
    parts = [text for text in (notification.body, notification.detail_body) if text]
    link = notification.external_link
    if link and _HTTP_LINK.fullmatch(link):
        label = (notification.external_button_label or link).translate(_NO_BRACKETS)
        parts.append(f"[{label}](<{link}>)")
    return "\n\n".join(parts) or notification.id


class EvEnergyNotificationsCoordinator(FollowerCoordinator[list[Notification]]):
    """The user's current notifications; `new` holds those the last read showed first."""

    feature = "notifications"

    def __init__(
        self,
        hass: HomeAssistant,
        entry: EvEnergyConfigEntry,
        client: EvEnergyClient,
        live: EvEnergyLiveCoordinator,
    ) -> None:
        """Read notifications through `client`; show them as the entry's options say."""
        super().__init__(
            hass, entry, client, live, name="notifications", interval=NOTIFICATIONS_REFRESH_INTERVAL
        )
        # No quick retry either: the cadence is a promise.
        self.retry_soon = NOTIFICATIONS_REFRESH_INTERVAL
        self._store = _store(hass, entry.entry_id)
        # Ids of the listed notifications, each already shown or not news.
        self._shown: set[str] | None = None
        # (refresh number, notifications shown for the first time by that refresh)
        self.new: tuple[int, list[Notification]] = (0, [])
        # Always followed: whether a dismissal marks read is the options' say at that moment.
        entry.async_on_unload(
            persistent_notification.async_register_callback(hass, self._on_dismissed)
        )

    @property
    def _persistent(self) -> bool:
        """Whether news is also shown as persistent notifications (the options, as of now)."""
        return bool(self.config_entry.options.get(CONF_PERSISTENT_NOTIFICATIONS, False))

    @property
    def _marks_read(self) -> bool:
        """Whether dismissing one of them marks it read in ev.energy (the options, as of now)."""
        options = self.config_entry.options
        return self._persistent and bool(options.get(CONF_MARK_NOTIFICATIONS_READ, False))

    def _failure_interval(self, err: EvEnergyError) -> timedelta:
        return max(super()._failure_interval(err), self.base_interval)

    async def _async_update_data(self) -> list[Notification]:
        try:
            return await super()._async_update_data()
        except UpdateFailed as err:
            # A 429's Retry-After only ever delays the next read, never brings it forward.
            if err.retry_after is not None:
                err.retry_after = max(err.retry_after, self.base_interval.total_seconds())
            raise

    @callback
    def _on_live_update(self) -> None:
        """Never catch up early after an outage: read at most every 30 minutes."""

    async def _async_fetch(self) -> list[Notification]:
        if self._shown is None:
            stored = await self._store.async_load() or {}
            self._shown = {str(i) for i in stored.get("shown", [])}
        notifications = await self.client.async_get_notifications(self.hass.config.language)
        fresh = sorted(
            (
                notification
                for notification in notifications
                if notification.id not in self._shown
                # Read in the app, or already resolved: not news any more.
                and notification.read_at is None
                and notification.resolved_at is None
            ),
            key=lambda n: n.event_time or datetime.min.replace(tzinfo=UTC),
        )
        listed = list(dict.fromkeys(n.id for n in notifications))
        if set(listed) != self._shown:
            # Every listed id is kept, however many, or it would be news again on the next
            # read; one ev.energy no longer lists can be forgotten.
            self._shown = set(listed)
            # Stored before anything is shown: a crash may lose one, a restart never repeats one.
            await self._store.async_save({"shown": listed})
        self.new = (self.refreshes_started, fresh)
        if self._persistent:
            for notification in fresh:
                persistent_notification.async_create(
                    self.hass,
                    notification_message(notification),
                    title=notification.title or notification.detail_title,
                    notification_id=persistent_id(notification.id),
                )
        return notifications

    @callback
    def _on_dismissed(
        self,
        update_type: persistent_notification.UpdateType,
        dismissed: dict[str, persistent_notification.Notification],
    ) -> None:
        """Mark read in ev.energy what the user dismissed in Home Assistant."""
        if update_type is not persistent_notification.UpdateType.REMOVED or not self._marks_read:
            return
        current = {notification.id: notification for notification in self.data or []}
        for key in dismissed:
            notification = current.get(key.removeprefix(f"{DOMAIN}_"))
            if key.startswith(f"{DOMAIN}_") and notification and notification.read_at is None:
                self.timers.spawn(self._async_mark_read(notification.id), "mark read")

    async def _async_mark_read(self, notification_id: str) -> None:
        try:
            await self.client.async_mark_notification_read(notification_id, dt_util.utcnow())
        except EvEnergyError as err:
            _LOGGER.warning(
                "Could not mark ev.energy notification %s read: %s", notification_id, err
            )
