"""Repair issues: what the user has to fix themselves, and how."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir

from .const import DOMAIN, SCOPES

MISSING_SCOPES = "missing_scopes"


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
