"""Contract checks of the client's constants against ev.energy's OpenAPI description.

The spec is located by `tests.openapi_spec` (``$EV_ENERGY_OPENAPI`` or the shared folder): without
it these tests skip, except under CI=true.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import pytest
import yaml

from custom_components.ev_energy.api import (
    IntegrationStatus,
    LockMode,
    NotificationCategory,
    ScheduleType,
    TariffType,
    VehicleState,
    client as client_module,
)
from tests.openapi_spec import require_spec_path

from .test_prices import SPEC_DAILY_PRICES


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    """The parsed OpenAPI document."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with require_spec_path().open(encoding="utf-8") as file:
        document: dict[str, Any] = yaml.load(file, Loader=loader)  # noqa: S506
    return document


def _resolve(spec: dict[str, Any], ref: str) -> dict[str, Any]:
    node: Any = spec
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    result: dict[str, Any] = node
    return result


@pytest.mark.parametrize(
    ("schema", "field", "enum"),
    [
        ("VehicleStatusLog", "state", VehicleState),
        ("Vehicle", "integrated", IntegrationStatus),
        ("EVSE", "lock_mode", LockMode),
        ("TariffBase", "type", TariffType),
        ("ScheduleInterval", "schedule_type", ScheduleType),
        ("Notification", "category", NotificationCategory),
    ],
)
def test_enums_match_the_spec(
    spec: dict[str, Any], schema: str, field: str, enum: type[StrEnum]
) -> None:
    """Every documented value is known, so none is reported as unknown."""
    documented = spec["components"]["schemas"][schema]["properties"][field]["enum"]
    assert {value for value in documented if value is not None} == {m.value for m in enum}


@pytest.mark.parametrize(
    ("path", "method", "expand"),
    [
        ("/vehicles", "get", client_module.VEHICLE_EXPAND),
        ("/vehicles/{vehicle_id}", "patch", client_module.VEHICLE_EXPAND),
        ("/evses", "get", client_module.EVSE_EXPAND),
        ("/users/{user_id}", "get", ("default_location.tariff",)),
    ],
)
def test_expand_values_are_documented(
    spec: dict[str, Any], path: str, method: str, expand: tuple[str, ...]
) -> None:
    """The client only asks for expansions the operation declares, as an exploded array."""
    parameters = [
        _resolve(spec, p["$ref"]) if "$ref" in p else p
        for p in spec["paths"][path][method]["parameters"]
    ]
    (parameter,) = [p for p in parameters if p["name"] == "expand"]
    assert parameter["explode"] is True
    assert set(expand) <= set(parameter["schema"]["items"]["enum"])


def test_page_size_is_within_the_documented_maximum(spec: dict[str, Any]) -> None:
    """page_size=100 is the largest page the API accepts."""
    page_size = spec["components"]["parameters"]["page_size"]["schema"]
    assert page_size["maximum"] == client_module.PAGE_SIZE


def test_version_header_value(spec: dict[str, Any]) -> None:
    """The EvEnergy-Version the client sends is the one the spec declares."""
    header = spec["components"]["parameters"]["version-2"]
    assert header["name"] == "EvEnergy-Version"
    assert [str(v) for v in header["schema"]["enum"]] == [client_module.API_VERSION]


def test_charge_limit_range_matches_the_patch_schema(spec: dict[str, Any]) -> None:
    """The client-side validation uses the bounds of PATCH /vehicles/{id}."""
    body = spec["paths"]["/vehicles/{vehicle_id}"]["patch"]["requestBody"]
    field = body["content"]["application/json"]["schema"]["properties"][
        "maximum_charge_limit_percentage"
    ]
    assert field["type"] == "integer"
    limits = client_module.CHARGE_LIMIT_RANGE
    assert (limits.start, limits.stop - 1) == (field["minimum"], field["maximum"])


def test_spec_daily_prices_example_is_current(spec: dict[str, Any]) -> None:
    """The price tests' copy of the TariffDetail example's bands is the spec's."""
    (example,) = spec["components"]["schemas"]["TariffDetail"]["examples"]
    assert example["daily_prices"] == SPEC_DAILY_PRICES
