"""ev.energy's in-app notifications: events, persistent notifications, mark read, restarts."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
import itertools
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components import persistent_notification
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.ev_energy.api import Notification
from custom_components.ev_energy.const import DOMAIN
from custom_components.ev_energy.notifications import notification_message

from .conftest import (
    NOTIFICATIONS_URL,
    Fault,
    InPlace,
    MockApi,
    setup_integration,
    state_of,
    submit_settings,
)

EVENT = "event.ev_energy_account_notifications"
ACTIONABLE = "notf01HTHKTXVB77901324BCQPF1RB"
SERVICE = "notf01HTHKTXVB77901324BCQPF2SC"
NEW = "notf01HTHKTXVB77901324BCQPF4UE"
LATER = "notf01HTHKTXVB77901324BCQPF5VF"
LAST = "notf01HTHKTXVB77901324BCQPF6WG"

pytestmark = pytest.mark.usefixtures("setup_credentials")


def _new_notification() -> dict[str, Any]:
    return {
        "id": NEW,
        "url": f"https://api.ev.energy/notifications/{NEW}",
        "message_id": "RTY0001",
        "category": "RETRY",
        "event_time": "2026-11-22T10:20:00Z",
        "short_text_title": "Retrying your charge",
        "short_text_body": "Your car did not respond",
        "detail_page_title": "We are retrying",
        "detail_page_body": "We will try again in a few minutes.",
        "external_link": None,
        "external_button_label": "OK",
    }


class Fired:
    """Every event the notifications entity fires, as (event type, notification id).

    Coming back from unavailable (a reload) restores the last event: that is no new event.
    """

    def __init__(self, hass: HomeAssistant) -> None:
        self.events: list[tuple[str, str]] = []

        @callback
        def record(event: Event[EventStateChangedData]) -> None:
            state, old = event.data["new_state"], event.data["old_state"]
            restored = old is None or old.state == STATE_UNAVAILABLE
            if state is not None and not restored and state.state != STATE_UNAVAILABLE:
                self.events.append(
                    (state.attributes["event_type"], state.attributes["notification_id"])
                )

        async_track_state_change_event(hass, EVENT, record)


class Shown:
    """Persistent notifications added, by id, with their title and message."""

    def __init__(self, hass: HomeAssistant) -> None:
        self.added: dict[str, tuple[str | None, str]] = {}

        @callback
        def record(
            update_type: persistent_notification.UpdateType,
            notifications: dict[str, persistent_notification.Notification],
        ) -> None:
            if update_type is persistent_notification.UpdateType.ADDED:
                for key, item in notifications.items():
                    self.added[key] = (item["title"], item["message"])

        persistent_notification.async_register_callback(hass, record)


async def _after(hass: HomeAssistant, freezer: FrozenDateTimeFactory, delta: timedelta) -> None:
    freezer.tick(delta)
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


def _reads(mock_api: MockApi) -> int:
    return len(mock_api.calls(NOTIFICATIONS_URL))


async def test_unread_notifications_fire_once_oldest_first(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    """The two unread ones fire (by category); the one read in the app does not."""
    fired = Fired(hass)
    await setup_integration(hass, config_entry)
    assert fired.events == [("service", SERVICE), ("actionable", ACTIONABLE)]
    state = state_of(hass, EVENT)
    assert state.attributes["event_types"] == [
        "actionable",
        "service",
        "retry",
        "marketing",
        "internal",
    ]
    assert state.attributes["title"] == "Your car is disconnected"
    assert state.attributes["link"] == "https://example.com/reconnect"
    assert state.attributes["event_time"] == "2026-11-22T09:30:00+00:00"
    # Asked for in Home Assistant's language.
    assert mock_api.calls(NOTIFICATIONS_URL)[0][3]["Accept-Language"] == hass.config.language


async def test_repeated_and_new_notifications(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Read every 30 minutes: the same list fires nothing; a new notification fires once."""
    fired = Fired(hass)
    await setup_integration(hass, config_entry)
    fired.events.clear()
    await _after(hass, freezer, timedelta(minutes=15))
    assert _reads(mock_api) == 1
    await _after(hass, freezer, timedelta(minutes=15))
    assert _reads(mock_api) == 2
    assert fired.events == []

    mock_api.notifications.insert(0, _new_notification())
    await _after(hass, freezer, timedelta(minutes=30))
    await _after(hass, freezer, timedelta(minutes=30))
    assert fired.events == [("retry", NEW)]


async def test_nothing_fires_again_after_a_restart(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    """What was shown is stored: a reload (as a restart) fires only what is new since."""
    fired = Fired(hass)
    await setup_integration(hass, config_entry)
    assert len(fired.events) == 2
    fired.events.clear()

    mock_api.notifications.append(_new_notification())
    assert await hass.config_entries.async_reload(config_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert fired.events == [("retry", NEW)]


async def test_stored_ids_from_an_earlier_run_are_not_shown(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    hass_storage: dict[str, Any],
) -> None:
    """Home Assistant starts with ids stored by an earlier run: they stay quiet."""
    hass_storage[f"{DOMAIN}.{config_entry.entry_id}.notifications"] = {
        "version": 1,
        "data": {"shown": [ACTIONABLE, SERVICE]},
    }
    fired = Fired(hass)
    await setup_integration(hass, config_entry)
    assert fired.events == []
    assert state_of(hass, EVENT).state == STATE_UNKNOWN


async def test_forbidden_notifications(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
    issue_registry: ir.IssueRegistry,
) -> None:
    """A 403: the entity is unavailable, the permission repair names the feature, and
    ev.energy is not asked again sooner than every 30 minutes."""
    mock_api.fail(NOTIFICATIONS_URL, Fault(status=403), times=3)
    await setup_integration(hass, config_entry)
    assert state_of(hass, EVENT).state == STATE_UNAVAILABLE
    issue = issue_registry.async_get_issue(
        DOMAIN, f"{config_entry.entry_id}_forbidden_notifications"
    )
    assert issue is not None
    assert state_of(hass, "sensor.family_car_charging_status").state == "charging"

    for _ in range(80):
        await _after(hass, freezer, timedelta(seconds=30))
    # 40 minutes: the setup read and one retry at 30 minutes.
    assert _reads(mock_api) == 2


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_at_most_every_30_minutes_also_when_failing(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
    status: int,
) -> None:
    """A failing read is retried on the 30-minute cadence, never sooner: 2 reads an hour."""
    await setup_integration(hass, config_entry)
    mock_api.fail(NOTIFICATIONS_URL, Fault(status=status), times=10)
    read_at = [dt_util.utcnow()]
    for _ in range(120):
        await _after(hass, freezer, timedelta(seconds=30))
        if _reads(mock_api) > len(read_at):
            read_at.append(dt_util.utcnow())
    gaps = [later - earlier for earlier, later in itertools.pairwise(read_at)]
    assert len(read_at) == 3
    assert min(gaps) >= timedelta(minutes=30)


async def test_persistent_notifications_and_mark_read(
    hass: HomeAssistant, mock_api: MockApi, config_entry: MockConfigEntry
) -> None:
    """Shown in Home Assistant too; dismissing one marks it read in ev.energy."""
    shown = Shown(hass)
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=config_entry.title,
        unique_id=config_entry.unique_id,
        data=config_entry.data,
        options={"persistent_notifications": True, "mark_notifications_read": True},
    )
    await setup_integration(hass, entry)
    assert set(shown.added) == {f"ev_energy_{ACTIONABLE}", f"ev_energy_{SERVICE}"}
    title, message = shown.added[f"ev_energy_{ACTIONABLE}"]
    assert title == "Your car is disconnected"
    assert message.startswith("We need to reconnect to keep smart charging\n\nYour car has been")
    assert message.endswith("[More info](<https://example.com/reconnect>)")

    persistent_notification.async_dismiss(hass, f"ev_energy_{ACTIONABLE}")
    persistent_notification.async_dismiss(hass, "someone_else")
    await hass.async_block_till_done(wait_background_tasks=True)
    assert set(mock_api.notifications_read) == {ACTIONABLE}
    assert mock_api.notifications_read[ACTIONABLE] == {"read_at": "2026-11-22T10:10:00+00:00"}


async def test_dismissing_does_not_mark_read_unless_asked(
    hass: HomeAssistant, mock_api: MockApi, config_entry: MockConfigEntry
) -> None:
    shown = Shown(hass)
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=config_entry.title,
        unique_id=config_entry.unique_id,
        data=config_entry.data,
        options={"persistent_notifications": True, "mark_notifications_read": False},
    )
    await setup_integration(hass, entry)
    assert len(shown.added) == 2
    persistent_notification.async_dismiss(hass, f"ev_energy_{ACTIONABLE}")
    await hass.async_block_till_done(wait_background_tasks=True)
    assert mock_api.notifications_read == {}


async def test_notification_options_switch_in_place(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Each option acts from the next notification or dismissal on, without a reload."""
    shown = Shown(hass)
    await setup_integration(hass, config_entry)
    watch = InPlace(hass, config_entry)

    async def arrives(notification_id: str) -> None:
        mock_api.notifications.insert(0, {**_new_notification(), "id": notification_id})
        await _after(hass, freezer, timedelta(minutes=30))

    async def dismiss(notification_id: str) -> None:
        persistent_notification.async_dismiss(hass, f"ev_energy_{notification_id}")
        await hass.async_block_till_done(wait_background_tasks=True)

    await submit_settings(
        hass, config_entry, persistent_notifications=True, mark_notifications_read=True
    )
    await arrives(NEW)
    assert set(shown.added) == {f"ev_energy_{NEW}"}
    await dismiss(NEW)
    assert set(mock_api.notifications_read) == {NEW}

    await submit_settings(
        hass, config_entry, persistent_notifications=True, mark_notifications_read=False
    )
    await arrives(LATER)
    assert f"ev_energy_{LATER}" in shown.added
    await dismiss(LATER)
    assert set(mock_api.notifications_read) == {NEW}

    await submit_settings(
        hass, config_entry, persistent_notifications=False, mark_notifications_read=True
    )
    await arrives(LAST)
    assert f"ev_energy_{LAST}" not in shown.added
    watch.check()


async def test_no_persistent_notifications_by_default(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    shown = Shown(hass)
    await setup_integration(hass, config_entry)
    assert shown.added == {}


async def test_mark_read_failure_is_logged(
    hass: HomeAssistant,
    mock_api: MockApi,
    config_entry: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=config_entry.title,
        unique_id=config_entry.unique_id,
        data=config_entry.data,
        options={"persistent_notifications": True, "mark_notifications_read": True},
    )
    await setup_integration(hass, entry)
    mock_api.fail(f"{NOTIFICATIONS_URL}/", Fault(status=404))
    persistent_notification.async_dismiss(hass, f"ev_energy_{SERVICE}")
    await hass.async_block_till_done(wait_background_tasks=True)
    assert f"Could not mark ev.energy notification {SERVICE} read" in caplog.text


def test_message_without_a_safe_link() -> None:
    """Only an http(s) link becomes a Markdown link; brackets cannot break out of its label."""
    notification = Notification.from_api(
        {
            "id": NEW,
            "short_text_body": "Body",
            "external_link": "javascript:alert(1)",
            "external_button_label": "x",
        }
    )
    assert notification_message(notification) == "Body"
    labelled = Notification.from_api(
        {"id": NEW, "external_link": "https://example.com", "external_button_label": "a](b"}
    )
    assert notification_message(labelled) == "[a(b](<https://example.com>)"
    assert notification_message(Notification.from_api({"id": NEW})) == NEW


def _many(count: int, first: int = 0) -> list[dict[str, Any]]:
    """`count` unread notifications, newest first as ev.energy lists them."""
    return [
        {
            **_new_notification(),
            "id": f"notf{index:026d}",
            "event_time": f"2026-11-{1 + index // 1440:02d}T{index // 60 % 24:02d}:"
            f"{index % 60:02d}:00Z",
        }
        for index in reversed(range(first, first + count))
    ]


async def test_a_long_list_fires_each_notification_once(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    """However many ev.energy lists, each fires once over reads and a restart; what it
    no longer lists is forgotten."""
    key = f"{DOMAIN}.{config_entry.entry_id}.notifications"
    mock_api.notifications = _many(600)
    fired = Fired(hass)
    await setup_integration(hass, config_entry)
    assert len(fired.events) == 600

    # The list changes between reads: new ones at the top, the oldest dropped.
    mock_api.notifications = _many(600, first=1)
    await _after(hass, freezer, timedelta(minutes=30))
    mock_api.notifications = _many(601, first=1)
    await _after(hass, freezer, timedelta(minutes=30))
    assert _reads(mock_api) == 3

    mock_api.notifications = _many(601, first=2)
    assert await hass.config_entries.async_reload(config_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)

    fired_times = Counter(notification_id for _, notification_id in fired.events)
    assert sum(times > 1 for times in fired_times.values()) == 0
    assert len(fired_times) == 603
    assert set(hass_storage[key]["data"]["shown"]) == {n["id"] for n in mock_api.notifications}


async def test_undocumented_category_fires_no_event(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    """A category ev.energy adds later has no event type: the others still fire."""
    mock_api.notifications.append({**_new_notification(), "category": "SURVEY"})
    fired = Fired(hass)
    await setup_integration(hass, config_entry)
    assert fired.events == [("service", SERVICE), ("actionable", ACTIONABLE)]
