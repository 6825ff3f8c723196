"""Repair issues: what the user has to fix themselves, and how."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir

from .api import IntegrationStatus, Vehicle
from .const import DOMAIN, SCOPES

MISSING_SCOPES = "missing_scopes"
VEHICLE_INACTIVE_PREFIX = "vehicle_inactive_"


def _issue_id(entry_id: str, key: str) -> str:
    return f"{entry_id}_{key}"


@callback
def _set_issue(
    hass: HomeAssistant,
    issue_id: str,
    active: bool,
    *,
    translation_key: str,
    placeholders: dict[str, str] | None = None,
) -> None:
    if not active:
        ir.async_delete_issue(hass, DOMAIN, issue_id)
        return
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id,
        is_fixable=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key=translation_key,
        translation_placeholders=placeholders,
    )


@callback
def async_check_scopes(hass: HomeAssistant, entry_id: str, token: Mapping[str, Any]) -> None:
    """Raise a repair issue when ev.energy granted fewer scopes than the entities need."""
    granted = token.get("scope")
    missing = sorted(set(SCOPES) - set(granted.split())) if isinstance(granted, str) else []
    _set_issue(
        hass,
        _issue_id(entry_id, MISSING_SCOPES),
        bool(missing),
        translation_key="missing_scopes",
        placeholders={"scopes": ", ".join(missing)},
    )


@callback
def async_set_permission_issue(
    hass: HomeAssistant, entry_id: str, feature: str, denied: bool
) -> None:
    """Raise (or clear) an issue when ev.energy answers 403 for a feature."""
    _set_issue(
        hass,
        _issue_id(entry_id, f"forbidden_{feature}"),
        denied,
        translation_key="permission_denied",
        placeholders={"feature": feature},
    )


def vehicle_issue_id(vehicle_id: str) -> str:
    """Return the id of a vehicle's reconnect issue (vehicle ids are unique everywhere)."""
    return f"{VEHICLE_INACTIVE_PREFIX}{vehicle_id}"


@callback
def async_update_vehicle_issues(
    hass: HomeAssistant,
    entry_id: str,
    vehicles: Mapping[str, Vehicle],
    with_device: Collection[str],
) -> None:
    """Raise a fixable issue per INACTIVE vehicle; clear it once the vehicle is reconnected.

    A vehicle missing from one poll keeps its issue until its device is removed.
    """
    inactive = {
        vehicle_id: vehicle
        for vehicle_id, vehicle in vehicles.items()
        if vehicle.integrated is IntegrationStatus.INACTIVE
    }
    for domain, issue_id in list(ir.async_get(hass).issues):
        vehicle_id = issue_id.removeprefix(VEHICLE_INACTIVE_PREFIX)
        if (
            domain == DOMAIN
            and issue_id.startswith(VEHICLE_INACTIVE_PREFIX)
            and vehicle_id not in inactive
            and (vehicle_id in vehicles or vehicle_id not in with_device)
            and _issue_entry(hass, issue_id) == entry_id
        ):
            ir.async_delete_issue(hass, DOMAIN, issue_id)
    for vehicle_id, vehicle in inactive.items():
        name = vehicle.display_name or vehicle_id
        ir.async_create_issue(
            hass,
            DOMAIN,
            vehicle_issue_id(vehicle_id),
            is_fixable=True,
            # Worked out afresh from every poll, so nothing to restore after a restart.
            is_persistent=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key="vehicle_inactive",
            translation_placeholders={"vehicle": name},
            data={"entry_id": entry_id, "vehicle_id": vehicle_id, "vehicle": name},
        )


@callback
def async_delete_entry_issues(hass: HomeAssistant, entry_id: str) -> None:
    """Remove the vehicle issues of a removed config entry."""
    for domain, issue_id in list(ir.async_get(hass).issues):
        if domain == DOMAIN and _issue_entry(hass, issue_id) == entry_id:
            ir.async_delete_issue(hass, DOMAIN, issue_id)


def _issue_entry(hass: HomeAssistant, issue_id: str) -> object:
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    return (issue.data or {}).get("entry_id") if issue else None
