"""Tolerant parsing of ev.energy payloads into typed models."""

from __future__ import annotations

from dataclasses import asdict, fields
from datetime import UTC, datetime, timedelta, timezone
import logging
from typing import Any

import pytest

from custom_components.ev_energy.api import (
    ControlPilot,
    EvEnergyResponseError,
    Evse,
    EvseStatus,
    IntegrationStatus,
    LifecycleState,
    LockMode,
    Problem,
    Tariff,
    TariffType,
    User,
    Vehicle,
    VehicleState,
    VehicleStatus,
)
from custom_components.ev_energy.api.models import id_from_reference, parse_problem

from .fake_api import load_fixture

TARIFF_ID = "tari01HN2NJ9NMRZBXT1H6FT9N7735"
TARIFF_URL = f"https://api.ev.energy/v2/tariffs/{TARIFF_ID}"

VEHICLE_STATUS_FIELDS = {
    "sampled_at": "2026-11-22T09:58:00Z",
    "state_of_charge_percentage": 63,
    "is_charging": True,
    "is_plugged_in": True,
    "charge_rate_watts": 7200,
    "minutes_to_full_charge": 105,
    "state": "PLUGGED_IN_CHARGING",
    "target_charge_level_percentage": 80,
    "odometer_meters": 48213000,
    "charge_level_watt_hours": 47250,
    "charge_energy_added_watt_hours": 12000,
    "is_complete": False,
}
VEHICLE_FIELDS = {
    "description": "Family car",
    "integrated": "ACTIVE",
    "maximum_charge_limit_percentage": 80,
    "smart_charging_enabled": True,
    "disabled": False,
    "battery_size_watt_hours": 75000,
}
EVSE_STATUS_FIELDS = {
    "sampled_at": "2026-11-22T09:59:00Z",
    "is_plugged_in": True,
    "is_charging": True,
    "charge_rate_watts": 7180,
    "meter_reading_watt_hours": 1523456,
    "voltage_millivolts": 239800,
    "control_pilot_status": "C",
    "mode": "Charge",
    "signal_strength_rssi_dbm": -67,
    "is_enabled": True,
    "max_current_rating_milliamps": 32000,
    "cable_current_rating_milliamps": 32000,
}
TARIFF_FIELDS = {
    "name": "Agile Octopus",
    "currency": "GBP",
    "type": "DYNAMIC",
    "current_price": 24,
    "timezone_name": "Europe/London",
}


# --- the sample payloads --------------------------------------------------------------------


def test_vehicle_fixture_with_everything_expanded() -> None:
    """Every field of a fully expanded vehicle and its status log."""
    vehicle = Vehicle.from_api(load_fixture("vehicles.json")[0])
    assert vehicle == Vehicle(
        id="vhcl01HRFF3SEVSCRAV9B3CHVDFN0H",
        description="Family car",
        make="Tesla",
        model="Model 3",
        trim="Long Range AWD",
        integrated=IntegrationStatus.ACTIVE,
        maximum_charge_limit_percentage=80,
        smart_charging_enabled=True,
        disabled=False,
        battery_size_watt_hours=75000,
        status=VehicleStatus(
            sampled_at=datetime(2026, 11, 22, 9, 58, tzinfo=UTC),
            state_of_charge_percentage=63,
            is_charging=True,
            is_plugged_in=True,
            charge_rate_watts=7200,
            minutes_to_full_charge=105,
            state=VehicleState.PLUGGED_IN_CHARGING,
            target_charge_level_percentage=80,
            odometer_meters=48213000,
            charge_level_watt_hours=47250,
            charge_energy_added_watt_hours=12000,
            is_complete=False,
        ),
    )
    assert vehicle.display_name == "Family car"


def test_vehicle_fixture_with_null_status_and_empty_description() -> None:
    """`latest_status_log: null` gives no status; an empty description falls back."""
    vehicle = Vehicle.from_api(load_fixture("vehicles.json")[1])
    assert vehicle.status is None
    assert vehicle.description is None
    assert vehicle.display_name == "Nissan Leaf"
    assert vehicle.trim == "e+ N-Connecta"
    assert vehicle.integrated is IntegrationStatus.INACTIVE
    assert vehicle.maximum_charge_limit_percentage is None
    assert vehicle.smart_charging_enabled is False


def test_vehicle_fixture_with_unexpanded_trim() -> None:
    """A trim given as a URL means no make, model or trim names."""
    vehicle = Vehicle.from_api(load_fixture("vehicles_page2.json")[0])
    assert (vehicle.make, vehicle.model, vehicle.trim) == (None, None, None)
    assert vehicle.display_name == "Van"
    assert vehicle.integrated is IntegrationStatus.UNINTEGRATED
    assert vehicle.status is not None
    assert vehicle.status.state is VehicleState.UNKNOWN
    assert vehicle.status.is_plugged_in is False
    assert vehicle.status.state_of_charge_percentage is None
    assert vehicle.status.is_charging is None


def test_evse_fixture() -> None:
    """Every field of a fully expanded charger; `display_name` wins over `name`."""
    evse = Evse.from_api(load_fixture("evses.json")[0])
    assert evse == Evse(
        id="evse01HSH04KDEWF6Z4DB2J77J74K5",
        cpid="SHIR100001",
        make="Hypervolt",
        model="Home 3.0",
        lock_mode=LockMode.SMART,
        lifecycle_state=LifecycleState.COMMISSIONED,
        status=EvseStatus(
            sampled_at=datetime(2026, 11, 22, 9, 59, tzinfo=UTC),
            is_plugged_in=True,
            is_charging=True,
            charge_rate_watts=7180,
            meter_reading_watt_hours=1523456,
            voltage_millivolts=239800,
            control_pilot_status=ControlPilot.C,
            mode="Charge",
            signal_strength_rssi_dbm=-67,
            is_enabled=True,
            max_current_rating_milliamps=32000,
            cable_current_rating_milliamps=32000,
        ),
    )


def test_tariff_fixture() -> None:
    """Every field of a tariff."""
    assert Tariff.from_api(load_fixture("tariff.json")) == Tariff(
        id=TARIFF_ID,
        name="Agile Octopus",
        currency="GBP",
        type=TariffType.DYNAMIC,
        current_price_minor_units=24,
        timezone_name="Europe/London",
    )


def test_user_fixture_with_expanded_tariff() -> None:
    """The single-user GET expands the tariff object and has the location details."""
    assert User.from_api(load_fixture("user.json")) == User(
        id="user01HN2NJ9NMRZBXT1H6FT9N7735",
        email="frodo@example.com",
        full_name="Frodo Baggins",
        tariff_id=TARIFF_ID,
        country_code="GB",
        carbon_intensity_grams_per_kilowatt_hour=182,
        evse_ids=("evse01HSH04KDEWF6Z4DB2J77J74K5",),
    )


@pytest.mark.parametrize(
    ("evses", "expected"),
    [([], ()), (None, None), ("nonsense", None), (["https://x/v2/evses/evse1/", 7], ("evse1",))],
)
def test_user_lists_chargers(evses: object, expected: tuple[str, ...] | None) -> None:
    """The user's chargers: none listed, not said, or unreadable items skipped."""
    raw = {**load_fixture("user.json"), "evses": evses}
    if evses is None:
        del raw["evses"]
    assert User.from_api(raw).evse_ids == expected


def test_user_fixture_with_tariff_url() -> None:
    """The user list gives the tariff as a URL and no carbon intensity."""
    user = User.from_api(load_fixture("users.json")[0])
    assert user.tariff_id == TARIFF_ID
    assert user.carbon_intensity_grams_per_kilowatt_hour is None


@pytest.mark.parametrize(
    ("location", "tariff_id"),
    [
        ({"tariff": None}, None),
        ({"tariff": TARIFF_URL + "/"}, TARIFF_ID),
        ({"tariff": {"id": TARIFF_ID, "name": "x"}}, TARIFF_ID),
        ({"tariff": {"name": "expanded without id"}}, None),
        ({}, None),
        (None, None),
        ("https://api.ev.energy/v2/locations/loca1", None),
    ],
    ids=["null", "url-slash", "object", "object-no-id", "missing", "no-location", "location-url"],
)
def test_user_tariff_id(location: Any, tariff_id: str | None) -> None:
    """The tariff id comes from a URL or an expanded object, else None."""
    assert User.from_api({"id": "user1", "default_location": location}).tariff_id == tariff_id


# --- nulls, missing keys and wrong types ----------------------------------------------------


@pytest.mark.parametrize("present", [True, False], ids=["null", "missing"])
def test_every_vehicle_field_may_be_null(present: bool) -> None:
    """Nulls and missing keys become None, never an error."""
    raw: dict[str, Any] = {"id": "vhcl1", "latest_status_log": {}}
    if present:
        raw |= dict.fromkeys((*VEHICLE_FIELDS, "trim"))
        raw["latest_status_log"] = dict.fromkeys(VEHICLE_STATUS_FIELDS)

    vehicle = Vehicle.from_api(raw)

    assert asdict(vehicle) == {
        **{field.name: None for field in fields(Vehicle)},
        "id": "vhcl1",
        "status": {field.name: None for field in fields(VehicleStatus)},
    }
    assert vehicle.display_name is None


def test_every_evse_field_may_be_null() -> None:
    """A charger with nothing but an id, and a status log of nulls."""
    raw = {
        "id": "evse1",
        "cpid": None,
        "model": None,
        "lock_mode": None,
        "lifecycle_state": None,
        "latest_status_log": dict.fromkeys(EVSE_STATUS_FIELDS),
    }
    assert Evse.from_api(raw) == Evse(
        id="evse1",
        cpid=None,
        make=None,
        model=None,
        lock_mode=None,
        lifecycle_state=None,
        status=EvseStatus(**dict.fromkeys(EVSE_STATUS_FIELDS, None)),
    )


def test_every_tariff_field_may_be_null() -> None:
    """A tariff of nulls."""
    assert Tariff.from_api({"id": "tari1", **dict.fromkeys(TARIFF_FIELDS)}) == Tariff(
        id="tari1", name=None, currency=None, type=None, current_price_minor_units=None,
        timezone_name=None,
    )  # fmt: skip


def test_every_user_field_may_be_null() -> None:
    """A user of nulls."""
    raw = {"id": "user1", "email": None, "full_name": None, "default_location": None}
    assert User.from_api(raw) == User(
        id="user1",
        email=None,
        full_name=None,
        tariff_id=None,
        country_code=None,
        carbon_intensity_grams_per_kilowatt_hour=None,
    )


def test_null_evse_model_and_unexpanded_make() -> None:
    """A model without an expanded make still gives the model name."""
    evse = Evse.from_api({"id": "e", "model": {"name": "EVWC2S22", "make": "https://x/1"}})
    assert (evse.make, evse.model) == (None, "EVWC2S22")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ({"display_name": "Home 3.0", "name": "EVWC2S22"}, "Home 3.0"),
        ({"display_name": None, "name": "EVWC2S22"}, "EVWC2S22"),
        ({"display_name": "", "name": "EVWC2S22"}, "EVWC2S22"),
        ({"display_name": 7, "name": "EVWC2S22"}, "EVWC2S22"),
        ({"display_name": None, "name": None}, None),
        ({}, None),
    ],
)
def test_names_prefer_display_name(name: dict[str, Any], expected: str | None) -> None:
    """Make and model names use `display_name`, then `name`."""
    evse = Evse.from_api({"id": "e", "model": {**name, "make": name}})
    assert (evse.make, evse.model) == (expected, expected)


VEHICLE_WRONG_TYPES: list[tuple[str, Any]] = [
    ("maximum_charge_limit_percentage", True),
    ("maximum_charge_limit_percentage", "80"),
    ("maximum_charge_limit_percentage", 80.0),
    ("battery_size_watt_hours", False),
    ("battery_size_watt_hours", [75000]),
    ("smart_charging_enabled", 1),
    ("smart_charging_enabled", "true"),
    ("disabled", 0),
    ("description", 42),
    ("description", {"text": "car"}),
    ("integrated", 1),
    ("integrated", ["ACTIVE"]),
]
STATUS_WRONG_TYPES: list[tuple[str, Any]] = [
    ("state_of_charge_percentage", True),
    ("state_of_charge_percentage", 63.5),
    ("state_of_charge_percentage", "63"),
    ("charge_rate_watts", False),
    ("minutes_to_full_charge", {}),
    ("odometer_meters", "48213000"),
    ("is_charging", "yes"),
    ("is_charging", 1),
    ("is_plugged_in", 0),
    ("sampled_at", 1763805480),
    ("sampled_at", "yesterday"),
    ("sampled_at", True),
    ("state", 3),
    ("state", "plugged_in_charging"),
]


@pytest.mark.parametrize(("field", "value"), VEHICLE_WRONG_TYPES)
def test_vehicle_wrong_types_become_none(field: str, value: Any) -> None:
    """A value of the wrong type is dropped (bool is not an int, int is not a bool)."""
    raw = {**load_fixture("vehicles.json")[0], field: value}
    vehicle = Vehicle.from_api(raw)
    assert getattr(vehicle, field) is None
    # The rest of the vehicle is unaffected.
    assert vehicle.status is not None
    assert vehicle.status.state_of_charge_percentage == 63


@pytest.mark.parametrize(("field", "value"), STATUS_WRONG_TYPES)
def test_vehicle_status_wrong_types_become_none(field: str, value: Any) -> None:
    """Status fields of the wrong type are dropped one by one."""
    raw = load_fixture("vehicles.json")[0]
    raw["latest_status_log"][field] = value
    status = Vehicle.from_api(raw).status
    assert status is not None
    assert getattr(status, field) is None
    assert status.charge_rate_watts == (None if field == "charge_rate_watts" else 7200)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("is_enabled", "true"),
        ("voltage_millivolts", True),
        ("signal_strength_rssi_dbm", -67.5),
        ("control_pilot_status", 3),
        ("mode", ""),
        ("meter_reading_watt_hours", "1523456"),
    ],
)
def test_evse_status_wrong_types_become_none(field: str, value: Any) -> None:
    """Charger status fields of the wrong type are dropped."""
    raw = load_fixture("evses.json")[0]
    raw["latest_status_log"][field] = value
    status = Evse.from_api(raw).status
    assert status is not None
    assert getattr(status, field) is None


@pytest.mark.parametrize(
    ("field", "value", "attribute"),
    [
        ("current_price", 24.5, "current_price_minor_units"),
        ("current_price", "24", "current_price_minor_units"),
        ("current_price", True, "current_price_minor_units"),
        ("currency", 826, "currency"),
        ("currency", "", "currency"),
        ("name", ["Agile"], "name"),
        ("timezone_name", 0, "timezone_name"),
    ],
)
def test_tariff_wrong_types_become_none(field: str, value: Any, attribute: str) -> None:
    """Tariff fields of the wrong type are dropped."""
    tariff = Tariff.from_api({**load_fixture("tariff.json"), field: value})
    assert getattr(tariff, attribute) is None


@pytest.mark.parametrize(
    "raw",
    [
        {"id": "v", "trim": ["not", "an", "object"], "latest_status_log": "https://x/log"},
        {"id": "v", "trim": {"model": 5}, "latest_status_log": 0},
        {"id": "v", "trim": {}, "latest_status_log": []},
    ],
)
def test_unexpected_shapes_of_related_resources(raw: dict[str, Any]) -> None:
    """Related resources that are neither objects nor URLs are treated as not expanded."""
    vehicle = Vehicle.from_api(raw)
    assert (vehicle.make, vehicle.model, vehicle.trim, vehicle.status) == (None, None, None, None)


def test_negative_and_zero_numbers_are_kept() -> None:
    """Zero and negative integers are values, not missing data."""
    raw = load_fixture("evses.json")[0]
    raw["latest_status_log"]["charge_rate_watts"] = 0
    raw["latest_status_log"]["is_charging"] = False
    status = Evse.from_api(raw).status
    assert status is not None
    assert (status.charge_rate_watts, status.is_charging) == (0, False)
    assert status.signal_strength_rssi_dbm == -67


def test_lowercase_currency_is_normalised() -> None:
    """Currency codes are upper-cased."""
    assert Tariff.from_api({**load_fixture("tariff.json"), "currency": "gbp"}).currency == "GBP"


@pytest.mark.parametrize(
    "raw",
    [None, [], "vhcl1", 5, {}, {"id": None}, {"id": ""}, {"id": 5}, {"url": "https://x/v"}],
)
@pytest.mark.parametrize("model", [Vehicle, Evse, User, Tariff])
def test_resources_need_an_id(raw: Any, model: Any) -> None:
    """Only an object with a non-empty string id is a resource."""
    with pytest.raises(EvEnergyResponseError):
        model.from_api(raw)


# --- datetimes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-22T09:58:00Z", datetime(2026, 11, 22, 9, 58, tzinfo=UTC)),
        ("2026-11-22T09:58:00.123456+00:00", datetime(2026, 11, 22, 9, 58, 0, 123456, UTC)),
        (
            "2026-11-22T10:58:00+01:00",
            datetime(2026, 11, 22, 10, 58, tzinfo=timezone(timedelta(hours=1))),
        ),
        ("2026-11-22T09:58:00", None),
        ("2026-11-22", None),
        ("", None),
        ("22/11/2026 09:58", None),
    ],
    ids=["zulu", "micro", "offset", "naive", "date-only", "empty", "garbage"],
)
def test_sampled_at(value: str, expected: datetime | None) -> None:
    """Only timezone-aware ISO 8601 datetimes are accepted, as the same instant in UTC."""
    raw = load_fixture("vehicles.json")[0]
    raw["latest_status_log"]["sampled_at"] = value
    status = Vehicle.from_api(raw).status
    assert status is not None
    assert status.sampled_at == expected
    if expected is not None:
        assert status.sampled_at is not None
        assert status.sampled_at.utcoffset() == timedelta(0)


# --- unknown enum values ------------------------------------------------------------------


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "custom_components.ev_energy.api.models"
        and record.levelno == logging.WARNING
    ]


def test_unknown_enum_value_is_none_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    """A new enum value becomes None with one warning per (field, value), however often seen."""
    raw = load_fixture("vehicles.json")[0]
    raw["latest_status_log"]["state"] = "TELEPORTING"
    raw["integrated"] = "PAUSED"

    for _ in range(3):
        vehicle = Vehicle.from_api(raw)
        assert vehicle.integrated is None
        assert vehicle.status is not None
        assert vehicle.status.state is None

    assert _warnings(caplog) == [
        "Unknown integrated value 'PAUSED' from ev.energy; shown as unknown",
        "Unknown state value 'TELEPORTING' from ev.energy; shown as unknown",
    ]

    caplog.clear()
    raw["latest_status_log"]["state"] = "FLYING"
    Vehicle.from_api(raw)
    assert _warnings(caplog) == ["Unknown state value 'FLYING' from ev.energy; shown as unknown"]


def test_same_unknown_value_in_another_field_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    """The once-only memory is per field: the same value elsewhere is reported again."""
    Evse.from_api({"id": "e", "lock_mode": "MYSTERY"})
    Tariff.from_api({"id": "t", "type": "MYSTERY"})
    Tariff.from_api({"id": "t", "type": "MYSTERY"})
    assert _warnings(caplog) == [
        "Unknown lock_mode value 'MYSTERY' from ev.energy; shown as unknown",
        "Unknown type value 'MYSTERY' from ev.energy; shown as unknown",
    ]


def test_known_and_null_enum_values_are_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    """Known values parse to members; null is simply None."""
    assert Evse.from_api({"id": "e", "lock_mode": "LOCKED"}).lock_mode is LockMode.LOCKED
    assert Evse.from_api({"id": "e", "lock_mode": None}).lock_mode is None
    assert Tariff.from_api({"id": "t", "type": "FLAT_RATE"}).type is TariffType.FLAT_RATE
    assert _warnings(caplog) == []


@pytest.mark.parametrize("state", list(VehicleState))
def test_every_vehicle_state_parses(state: VehicleState) -> None:
    """Every documented state maps to its member."""
    status = Vehicle.from_api({"id": "v", "latest_status_log": {"state": state.value}}).status
    assert status is not None
    assert status.state is state


# --- display names and references -----------------------------------------------------------


@pytest.mark.parametrize(
    ("description", "make", "model", "expected"),
    [
        ("Family car", "Tesla", "Model 3", "Family car"),
        ("", "Tesla", "Model 3", "Tesla Model 3"),
        (None, "Tesla", "Model 3", "Tesla Model 3"),
        (None, "Tesla", None, "Tesla"),
        (None, None, "Leaf", "Leaf"),
        (None, None, None, None),
    ],
)
def test_display_name(
    description: str | None, make: str | None, model: str | None, expected: str | None
) -> None:
    """The user's description, else make and model, else nothing."""
    raw = {
        "id": "v",
        "description": description,
        "trim": {"name": "Trim", "model": {"name": model, "make": {"name": make}}},
    }
    assert Vehicle.from_api(raw).display_name == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (TARIFF_URL, TARIFF_ID),
        (TARIFF_URL + "/", TARIFF_ID),
        (TARIFF_ID, TARIFF_ID),
        ({"id": TARIFF_ID, "url": TARIFF_URL}, TARIFF_ID),
        ({"url": TARIFF_URL}, None),
        ({"id": ""}, None),
        ({"id": 7}, None),
        ("", None),
        ("/", None),
        (None, None),
        (7, None),
        ([TARIFF_URL], None),
    ],
)
def test_id_from_reference(value: object, expected: str | None) -> None:
    """Ids come from expanded objects or the last URL path segment."""
    assert id_from_reference(value) == expected


# --- problems -----------------------------------------------------------------------------


def test_parse_problem_full() -> None:
    """All RFC 9457 members and ev.energy's field_errors are read."""
    body = {
        "type": "https://api.ev.energy/v2/problems/validation-failed-create-vehicle/",
        "title": "Request failed validation.",
        "status": 400,
        "detail": "Error on fields: user, trim",
        "instance": "https://api.ev.energy/v2/vehicles",
        "field_errors": {
            "user": ["This field is required."],
            "trim": ["Invalid hyperlink - Object does not exist.", "Really."],
        },
    }
    problem = parse_problem(400, body)
    assert problem == Problem(
        status=400,
        title="Request failed validation.",
        detail="Error on fields: user, trim",
        type="https://api.ev.energy/v2/problems/validation-failed-create-vehicle/",
        field_errors={
            "user": ["This field is required."],
            "trim": ["Invalid hyperlink - Object does not exist.", "Really."],
        },
    )
    assert problem.message == (
        "user: This field is required.; trim: Invalid hyperlink - Object does not exist. Really."
    )


@pytest.mark.parametrize(
    ("field_errors", "expected"),
    [
        ({"a": "single string"}, {"a": ["single string"]}),
        ({"a": [1, None]}, {"a": ["1", "None"]}),
        ({"a": {"nested": ["x"]}, "b": 5, "c": ["ok"]}, {"c": ["ok"]}),
        (["not", "a", "mapping"], {}),
        ("oops", {}),
        (None, {}),
    ],
)
def test_parse_problem_field_errors(field_errors: Any, expected: dict[str, list[str]]) -> None:
    """Field errors are normalised to lists of strings; unusable shapes are dropped."""
    assert parse_problem(400, {"field_errors": field_errors}).field_errors == expected


@pytest.mark.parametrize("body", [None, [], "Bad gateway", 42, {"title": 5, "detail": ""}])
def test_parse_problem_unreadable_body(body: object) -> None:
    """Anything that is not a problem object still yields a Problem with the status."""
    problem = parse_problem(502, body)
    assert problem == Problem(status=502)
    assert problem.message == "HTTP 502"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"title": "T", "detail": "D", "field_errors": {"f": ["E"]}}, "f: E"),
        ({"title": "T", "detail": "D", "field_errors": {}}, "D"),
        ({"title": "T"}, "T"),
        ({"status": 418}, "HTTP 409"),
    ],
)
def test_problem_message_precedence(body: dict[str, Any], message: str) -> None:
    """Field errors, then detail, then title, then the HTTP status (from the response)."""
    assert parse_problem(409, body).message == message
