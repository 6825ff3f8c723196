"""Constants for the ev.energy integration."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from homeassistant.util.hass_dict import HassKey

DOMAIN: Final = "ev_energy"

CONF_API_URL: Final = "api_url"
# The API root configured in YAML (default https://api.ev.energy); it also moves the OAuth
# endpoints, which is how the demo points Home Assistant at the local simulator.
DATA_API_URL: HassKey[str] = HassKey(f"{DOMAIN}_api_url")

OAUTH_AUTHORIZE_PATH: Final = "/o/authorize/"
OAUTH_TOKEN_PATH: Final = "/o/token/"  # noqa: S105 (a path, not a secret)
REDIRECT_URI: Final = "https://my.home-assistant.io/redirect/oauth"
SCOPES: Final = (
    "user:read",
    "vehicle:read",
    "vehicle:write",
    "evse:read",
    "tariff:read",
    "tariff:prices:read",
    "charging_session:read",
    "charging_session:write",
    "carbon:read",
)

# Adaptive polling: every minute while a car or charger charges or was plugged in less than
# SETTLE_TIME ago; every three minutes while everything is plugged in and settled (or the car
# says it is complete); every two minutes when something is unplugged, so a plug-in shows
# within two minutes; every 15 minutes when the API's rate limit runs low.
UPDATE_INTERVAL: Final = timedelta(seconds=60)
IDLE_UPDATE_INTERVAL: Final = timedelta(minutes=2)
SETTLED_UPDATE_INTERVAL: Final = timedelta(minutes=3)
SETTLE_TIME: Final = timedelta(minutes=10)
LOW_BUDGET_UPDATE_INTERVAL: Final = timedelta(minutes=15)
# Slow down to BUDGET_GUARD_UPDATE_INTERVAL once our own requests in the last hour exceed this
# share of the limit, and to the low-budget pace when less than LOW_REMAINING_SHARE is left.
BUDGET_GUARD_UPDATE_INTERVAL: Final = timedelta(minutes=5)
HOURLY_SHARE: Final = 0.5
LOW_REMAINING_SHARE: Final = 0.1
DEFAULT_RATE_LIMIT: Final = 1000
# One failed poll (a timeout, a 5xx) keeps the last data and is retried this soon; only a
# failure that persists makes entities unavailable.
LIVE_RETRY_SOON: Final = timedelta(seconds=20)
FOLLOWER_RETRY_SOON: Final = timedelta(seconds=30)
# A slower data set that keeps failing on its own backs off, doubling up to this.
FOLLOWER_MAX_BACKOFF: Final = timedelta(hours=1)
# The user (tariff assignment, chargers) and the tariff rarely change: read hourly.
USER_REFRESH_INTERVAL: Final = timedelta(hours=1)

# The price list changes a few times a day (day-ahead publication); boundaries are local timers.
PRICE_REFRESH_INTERVAL: Final = timedelta(minutes=30)
# ... at this offset past a quarter hour, so a refresh never coincides with a price boundary.
PRICE_REFRESH_OFFSET: Final = timedelta(minutes=7)
# Rate tariffs are laid out from their daily bands for yesterday, today and tomorrow.
RATE_TARIFF_DAYS: Final = 3

CONF_WINDOW_HOURS: Final = "cheapest_window_hours"
CONF_WINDOW_END: Final = "cheapest_window_end"

# Sessions: every 10 minutes while a car charges, else every 30 (a plug or charging change
# reads them at once anyway). The car's own status already carries the energy added.
SESSIONS_REFRESH_INTERVAL: Final = timedelta(minutes=10)
SESSIONS_IDLE_REFRESH_INTERVAL: Final = timedelta(minutes=30)
# Each charger's connectivity is read hourly (less often for large fleets, so the reads stay
# within CONNECTIVITY_REQUESTS_PER_HOUR), a few chargers at a time every CONNECTIVITY_SLICE.
CONNECTIVITY_REFRESH_INTERVAL: Final = timedelta(hours=1)
CONNECTIVITY_SLICE: Final = timedelta(minutes=5)
CONNECTIVITY_REQUESTS_PER_HOUR: Final = 60
# A vehicle or charger must be missing from this many successful polls in a row before its
# device is removed, so one truncated or glitchy answer never deletes anything.
MISSING_POLLS_BEFORE_REMOVAL: Final = 3

# A plugged-in vehicle's charging plan is read when its sub-session starts or changes, and
# again once the copy is this old: at most two scheduled reads per plugged-in car per hour.
PLAN_REFRESH_INTERVAL: Final = timedelta(minutes=30)
# Timer jitter: a copy read this little less than the interval ago counts as due.
PLAN_REFRESH_SLACK: Final = timedelta(minutes=1)
# Plans and session pages grow with the fleet: they share what the live poll's guard (half
# the limit) leaves once the live poll at its 60 s pace, the connectivity reads and this
# reserve (user, tariff, prices, notifications, retries) are counted; never less than the
# minimum. Sessions get a third of it, plans the rest. A large fleet stretches these reads
# rather than slow the live poll; a small one never reaches its share.
SLOW_READS_RESERVE: Final = 20
SLOW_READS_MINIMUM: Final = 12
SESSIONS_SHARE_OF_SLOW_READS: Final = 1 / 3
# A read held back by its share is tried again no sooner than this.
SLOW_READS_RETRY: Final = timedelta(minutes=1)

# Charging history imported as long-term statistics: how far back the first import reaches,
# and whether removing the entry also deletes those statistics (kept by default).
CONF_HISTORY_DAYS: Final = "history_days"
CONF_CLEAR_HISTORY_ON_REMOVE: Final = "clear_history_on_remove"
DEFAULT_HISTORY_DAYS: Final = 90
MAX_HISTORY_DAYS: Final = 365

# ev.energy's in-app notifications are read at most this often, retries included. They are
# not urgent (tips, reconnect requests, session summaries), so two reads an hour will do.
NOTIFICATIONS_REFRESH_INTERVAL: Final = timedelta(minutes=30)
CONF_PERSISTENT_NOTIFICATIONS: Final = "persistent_notifications"
CONF_MARK_NOTIFICATIONS_READ: Final = "mark_notifications_read"

# Push updates (ev.energy's webhooks): the signing secret is an option, the webhook id entry
# data created once. While push works (an event verified in the last PUSH_ACTIVE_FOR), nothing
# plugged in is polled every PUSH_IDLE_UPDATE_INTERVAL: a plug-in arrives as an event, and a
# dropped one still shows within that time. An event reads what it changed at once; a burst
# of them reads each data set at most once per PUSH_REFRESH_WINDOW.
CONF_WEBHOOK_SECRET: Final = "webhook_secret"  # noqa: S105 (an option key, not a secret)
PUSH_IDLE_UPDATE_INTERVAL: Final = timedelta(minutes=10)
PUSH_ACTIVE_FOR: Final = timedelta(hours=24)
PUSH_REFRESH_WINDOW: Final = timedelta(seconds=10)
