"""Actions: `get_prices` returns the known tariff prices, `get_charge_plan` the plans."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, ServiceCall, ServiceResponse, SupportsResponse
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.util import dt as dt_util
import probatio

from .const import DOMAIN
from .plan import SlotEstimate
from .plan_coordinator import EvEnergyPlanCoordinator
from .runtime import EvEnergyConfigEntry

ATTR_CONFIG_ENTRY = "config_entry"
ATTR_START = "start"
ATTR_END = "end"
ATTR_DEVICE_ID = "device_id"

GET_PRICES_SCHEMA = probatio.Schema(
    {
        probatio.Required(ATTR_CONFIG_ENTRY): cv.string,
        probatio.Optional(ATTR_START): cv.datetime,
        probatio.Optional(ATTR_END): cv.datetime,
    }
)

GET_CHARGE_PLAN_SCHEMA = probatio.Schema(
    {
        probatio.Required(ATTR_CONFIG_ENTRY): cv.string,
        probatio.Optional(ATTR_DEVICE_ID): cv.string,
    }
)


def _loaded_entry(hass: HomeAssistant, entry_id: str) -> EvEnergyConfigEntry:
    entry = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_found",
            translation_placeholders={"entry_id": entry_id},
        )
    if entry.state is not ConfigEntryState.LOADED:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_loaded",
            translation_placeholders={"title": entry.title},
        )
    return entry


def _aware(value: datetime | None) -> datetime | None:
    """Read a naive date-time as Home Assistant's local time."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt_util.get_default_time_zone())
    return dt_util.as_utc(value)


async def _get_prices(call: ServiceCall) -> ServiceResponse:
    entry = _loaded_entry(call.hass, call.data[ATTR_CONFIG_ENTRY])
    start, end = _aware(call.data.get(ATTR_START)), _aware(call.data.get(ATTR_END))
    if start is not None and end is not None and start >= end:
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="invalid_period")
    tariff = entry.runtime_data.live.data.tariff
    currency = tariff.currency if tariff else None
    schedule = entry.runtime_data.prices.data
    # Tells "no prices in that period" apart from "not published yet".
    known_until = schedule.known_until if schedule else None
    return {
        "currency": currency,
        "unit": f"{currency}/kWh" if currency else None,
        "known_until": known_until.isoformat() if known_until else None,
        "prices": schedule.as_list(start, end) if schedule else [],
    }


def _number(value: Decimal | None, places: int) -> float | None:
    return float(round(value, places)) if value is not None else None


def _slot(estimate: SlotEstimate, zone: tzinfo) -> dict[str, Any]:
    return {
        "start": estimate.start.astimezone(zone).isoformat(),
        "end": estimate.end.astimezone(zone).isoformat() if estimate.end else None,
        "power_w": _number(estimate.power_w, 0),
        "energy_kwh": _number(estimate.energy_kwh, 3),
        "price": _number(estimate.price, 6),
        "cost": _number(estimate.cost, 4),
        "type": estimate.type.value.lower() if estimate.type else None,
    }


def _vehicle_ids(
    hass: HomeAssistant, entry: EvEnergyConfigEntry, device_id: str | None
) -> list[str]:
    """Return the entry's vehicles, or the vehicle `device_id` is (else a validation error)."""
    vehicles = entry.runtime_data.live.data.vehicles
    if device_id is None:
        return sorted(vehicles)
    device = dr.async_get(hass).async_get(device_id)
    vehicle_id = next(
        (
            resource_id
            for domain, resource_id in (device.identifiers if device else ())
            if domain == DOMAIN and resource_id in vehicles
        ),
        None,
    )
    if device is None or vehicle_id is None or device.config_entry_id != entry.entry_id:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="device_not_vehicle",
            translation_placeholders={"device_id": device_id, "title": entry.title},
        )
    return [vehicle_id]


def charge_plan_answer(
    plans: EvEnergyPlanCoordinator, vehicle_id: str, now: datetime, zone: tzinfo = UTC
) -> dict[str, Any]:
    """Return what remains of a vehicle's plan from `now`, times in `zone`.

    The `get_charge_plan` action's answer per vehicle (in UTC); Assist's tools tell the same.
    """
    plan = plans.plan_for(vehicle_id)
    totals = plan.totals(now)
    return {
        "slots": [_slot(estimate, zone) for estimate in plan.remaining(now)],
        "energy_kwh": _number(totals.energy_kwh, 3),
        "cost": _number(totals.cost, 4),
        "currency": plans.currency,
        "co2_kg": _number(totals.co2_kg, 3),
        "ready_by": plan.ready_by.astimezone(zone).isoformat() if plan.ready_by else None,
    }


async def _get_charge_plan(call: ServiceCall) -> ServiceResponse:
    entry = _loaded_entry(call.hass, call.data[ATTR_CONFIG_ENTRY])
    vehicles = entry.runtime_data.live.data.vehicles
    now = dt_util.utcnow()
    response: dict[str, Any] = {}
    for vehicle_id in _vehicle_ids(call.hass, entry, call.data.get(ATTR_DEVICE_ID)):
        response[vehicle_id] = {
            "name": vehicles[vehicle_id].display_name,
            **charge_plan_answer(entry.runtime_data.plans, vehicle_id, now),
        }
    return {"vehicles": response}


def async_setup_services(hass: HomeAssistant) -> None:
    """Register the integration's actions."""
    hass.services.async_register(
        DOMAIN,
        "get_prices",
        _get_prices,
        schema=GET_PRICES_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
    hass.services.async_register(
        DOMAIN,
        "get_charge_plan",
        _get_charge_plan,
        schema=GET_CHARGE_PLAN_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
