"""Diagnostics download, with personal data and secrets redacted."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from .runtime import EvEnergyConfigEntry

TO_REDACT = {
    "access_token",
    "refresh_token",
    "email",
    "full_name",
    "description",
    "title",
    "address_1",
    "address_2",
    "postal_code",
    "city",
    "coordinates",
    "latitude",
    "longitude",
    "iccid",
    "ip_address",
    "cpid",
    # Push updates: the signing secret, and the webhook id that is part of its URL.
    "webhook_secret",
    "webhook_id",
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: EvEnergyConfigEntry
) -> dict[str, Any]:
    """Return the entry and the last snapshot, redacted."""
    live = entry.runtime_data.live
    client = entry.runtime_data.client
    prices = entry.runtime_data.prices
    sessions = entry.runtime_data.sessions.data or {}
    connectivity = entry.runtime_data.connectivity.data or {}
    plans = entry.runtime_data.plans
    push = entry.runtime_data.push
    return {
        "entry": async_redact_data(entry.as_dict(), TO_REDACT),
        "data": async_redact_data(
            {
                **asdict(live.data),
                "ids_with_device": sorted(live.data.ids_with_device),
            },
            TO_REDACT,
        ),
        "sessions": async_redact_data(
            {vehicle_id: asdict(session) for vehicle_id, session in sessions.items()}, TO_REDACT
        ),
        "connectivity": async_redact_data(
            {evse_id: asdict(item) for evse_id, item in connectivity.items()}, TO_REDACT
        ),
        "polling": {
            "last_update_success": live.last_update_success,
            "update_interval_seconds": (
                live.update_interval.total_seconds() if live.update_interval else None
            ),
            "requests_total": client.request_count,
            "requests_last_hour": client.requests_last_hour,
            "rate_limit_limit": client.rate_limit_limit,
            "rate_limit_remaining": client.rate_limit_remaining,
        },
        "prices": {
            "last_update_success": prices.last_update_success,
            "intervals": len(prices.data.intervals) if prices.data else 0,
            "known_until": (
                known.isoformat() if prices.data and (known := prices.data.known_until) else None
            ),
        },
        "push": {
            "configured": push.configured,
            "active": push.active,
            "last_event": push.last_event.isoformat() if push.last_event else None,
        },
        "plans": {
            "last_update_success": plans.last_update_success,
            "vehicles": {
                vehicle_id: asdict(plan) for vehicle_id, plan in (plans.data or {}).items()
            },
        },
    }
