"""Event: ev.energy's in-app notifications, on the account device."""

from __future__ import annotations

from typing import Any

from homeassistant.components.event import EventEntity, EventEntityDescription
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .api import Notification, NotificationCategory
from .entity import EvEnergyFollowerEntity, account_device_info
from .notifications import EvEnergyNotificationsCoordinator
from .runtime import EvEnergyConfigEntry

PARALLEL_UPDATES = 0

NOTIFICATION_EVENTS = EventEntityDescription(
    key="notifications",
    translation_key="notifications",
    event_types=[category.value.lower() for category in NotificationCategory],
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: EvEnergyConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Create the account's notification event entity."""
    async_add_entities(
        [NotificationEventEntity(entry.runtime_data.notifications, NOTIFICATION_EVENTS)]
    )


def _event_data(notification: Notification) -> dict[str, Any]:
    return {
        "notification_id": notification.id,
        "message_id": notification.message_id,
        "title": notification.title,
        "message": notification.body,
        "detail_title": notification.detail_title,
        "detail": notification.detail_body,
        "link": notification.external_link,
        "link_label": notification.external_button_label,
        "event_time": notification.event_time.isoformat() if notification.event_time else None,
    }


class NotificationEventEntity(
    EvEnergyFollowerEntity[EvEnergyNotificationsCoordinator], EventEntity
):
    """Fires once for each notification ev.energy shows for the first time, typed by category."""

    def __init__(
        self, coordinator: EvEnergyNotificationsCoordinator, description: EventEntityDescription
    ) -> None:
        """Attach to the account's device."""
        user_id = coordinator.live.data.user.id
        super().__init__(coordinator, user_id, account_device_info(user_id), description)
        self._delivered = 0

    async def async_added_to_hass(self) -> None:
        """Fire what the read at setup found, once the entity's state can be written."""
        await super().async_added_to_hass()
        # States written while the entity is still being added are dropped.
        self.hass.async_create_task(self._async_deliver(), eager_start=False)

    async def _async_deliver(self) -> None:
        self._deliver()

    @callback
    def _handle_coordinator_update(self) -> None:
        self._deliver()
        super()._handle_coordinator_update()

    @callback
    def _deliver(self) -> None:
        """Fire each new notification of a read not delivered yet, oldest first."""
        refresh, fresh = self.coordinator.new
        if refresh == self._delivered:
            return
        self._delivered = refresh
        for notification in fresh:
            if notification.category is None:
                continue  # an undocumented category (logged by the parser) has no event type
            self._trigger_event(notification.category.value.lower(), _event_data(notification))
            self.async_write_ha_state()
