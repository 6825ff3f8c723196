"""Diagnostics: useful for support, with secrets and personal data redacted."""

from __future__ import annotations

import json
from typing import Any, cast

from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from .conftest import MockApi, setup_integration


@pytest.mark.usefixtures("setup_credentials")
async def test_diagnostics(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    mock_api: MockApi,
    snapshot: SnapshotAssertion,
) -> None:
    """The download matches the snapshot and contains no secret or personal value.

    `config_entry` comes before `hass_client` so the client's token is issued at the test's
    fixed time, not before it.
    """
    await setup_integration(hass, config_entry)
    diagnostics = cast(
        "dict[str, Any]", await get_diagnostics_for_config_entry(hass, hass_client, config_entry)
    )

    text = json.dumps(diagnostics)
    secrets = ("access-1", "refresh-1", "frodo@example.com", "Frodo Baggins", "Family car")
    for secret in (*secrets, "SHIR100001", "8944110000001234567", "10.193.28.42"):
        assert secret not in text, secret
    assert diagnostics["polling"]["requests_total"] == len(mock_api.calls())
    assert diagnostics["connectivity"]["evse01HSH04KDEWF6Z4DB2J77J74K5"]["iccid"] == "**REDACTED**"
    assert len(diagnostics["sessions"]) == 2
    assert diagnostics == snapshot(
        exclude=props("created_at", "modified_at", "entry_id", "expires_at")
    )
