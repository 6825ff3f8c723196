"""Pytest plugin for runs against a newer Home Assistant than phcc pins (`scripts/test --ha`).

phcc 0.13.375 is Home Assistant 2026.10's test harness; a newer release needs these fixes to it.
Loaded with `-p tests.ha_compat`, before the installed plugins (phcc among them). Each step only
acts where the installed Home Assistant differs, so on the pinned version this changes nothing.
"""

from typing import Any

import attrs
import homeassistant  # noqa: F401  # before phcc, see below
from homeassistant.components import logger
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotSerializer

# 2026.11 aliases `httpx` to `httpx2` when `homeassistant` is first imported and refuses if
# `httpx` came first; phcc's plugin imports respx (hence httpx) before Home Assistant.

# phcc's helpers import `logger._clear_logger_overwrites`, which 2026.11 moved to `helpers`.
if not hasattr(logger, "_clear_logger_overwrites"):
    from homeassistant.components.logger import helpers

    logger._clear_logger_overwrites = helpers._clear_logger_overwrites  # type: ignore[attr-defined]

# 2026.11 adds `compat_name` to registry entries, a backwards-compatibility field of the registry
# migration next to `compat_aliases`, which phcc already leaves out of snapshots: leave it out too.
if "compat_name" in attrs.fields_dict(er.RegistryEntry):
    _serialize_entry = HomeAssistantSnapshotSerializer._serializable_entity_registry_entry

    def _without_compat_name(data: er.RegistryEntry) -> Any:
        serialized = _serialize_entry(data)
        serialized.pop("compat_name")
        return serialized

    HomeAssistantSnapshotSerializer._serializable_entity_registry_entry = staticmethod(  # type: ignore[method-assign]
        _without_compat_name
    )
