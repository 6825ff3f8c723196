"""Payload fuzzing: vehicles, chargers, tariffs, prices, sessions and users from the OpenAPI spec.

Payloads are generated from the spec's component schemas (tests/fuzz_schemas.py), as they are
("schema-valid") and slightly broken ("near-valid": keys dropped, nulls, wrong types, unknown
enum strings, extra fields), and checked at two levels:

1. The API client's parsers never raise anything but EvEnergyResponseError, and what they
   return has the declared types (an `int` field holds an int, never a bool; datetimes are
   aware; prices are finite), agreeing with the payload where it is schema-valid.
2. A real config-entry setup with the HTTP mocked: each coordinator refresh either succeeds
   (always, for schema-valid payloads) or fails with the integration's mapped error
   (UpdateFailed), nothing is logged with a traceback, and every entity state is valid.

Everything is deterministic (hypothesis derandomized, no example database). The bugs the fuzzing
found are pinned by the regression tests at the end, and the generators cover their triggers.

hypothesis is required for the fuzzing tests (they skip without it); the known-bug tests need
nothing but the integration.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
import dataclasses
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
import functools
import importlib.util
import json
import logging
import math
import re
import types
from typing import TYPE_CHECKING, Any, Union, get_args, get_origin, get_type_hints
from zoneinfo import ZoneInfo

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.update_coordinator import UpdateFailed
from homeassistant.util import dt as dt_util
from jsonschema import Draft202012Validator
from jsonschema.protocols import Validator
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    load_fixture,
    load_json_object_fixture,
)
from pytest_homeassistant_custom_component.test_util.aiohttp import (
    AiohttpClientMocker,
    AiohttpClientMockResponse,
)
from yarl import URL

from custom_components.ev_energy.api import (
    ChargingSession,
    EvEnergyResponseError,
    Evse,
    EvseConnectivity,
    Tariff,
    User,
    Vehicle,
)
from custom_components.ev_energy.api.prices import (
    PriceSchedule,
    intervals_from_api,
    intervals_from_bands,
    parse_daily_prices,
)

from .conftest import API, NO_MORE_PAGES, NOW, TARIFF_ID, MockApi, setup_integration

HYPOTHESIS = importlib.util.find_spec("hypothesis") is not None
needs_hypothesis = pytest.mark.skipif(
    not HYPOTHESIS, reason="hypothesis is not installed (needed for the payload fuzzing)"
)
if HYPOTHESIS or TYPE_CHECKING:
    from hypothesis import strategies as st  # type: ignore[import-not-found, unused-ignore]

    from .fuzz_schemas import (
        INT64,
        SchemaStrategies,
        check_property,
        draw_examples,
        iso_datetimes,
        json_values,
        load_spec,
        near_valid,
    )

PARSER_EXAMPLES = 200
CHEAP_EXAMPLES = 500  # the price parsers take microseconds
HA_EXAMPLES = 25

type Parser = Callable[[object], object]

# Schema name -> (parser, how deep sub-resources are expanded). The integration asks for
# trim.model.make and model.make; sessions come with their sub-sessions.
PARSERS: dict[str, tuple[Parser, int]] = {
    "Vehicle": (Vehicle.from_api, 3),
    "EVSE": (Evse.from_api, 2),
    "TariffDetail": (Tariff.from_api, 2),
    "User": (User.from_api, 3),
    "ChargingSession": (ChargingSession.from_api, 0),
    "EVSEConnectivity": (EvseConnectivity.from_api, 1),
}

# The whole range datetime can hold: the ends are where overflow bugs live.
DATE_RANGE = (datetime(1, 1, 2), datetime(9999, 12, 30, 23, 59, 59))


# --- Checking parsed values ------------------------------------------------------------------


def _matches(value: object, hint: Any) -> bool:
    """Whether `value` has the declared type `hint` (with the integration's stricter rules)."""
    origin, args = get_origin(hint), get_args(hint)
    if origin is Union or origin is types.UnionType:
        return any(_matches(value, arg) for arg in args)
    if origin is tuple:
        return isinstance(value, tuple) and _matches_tuple(value, args)
    if (check := _STRICT_TYPES.get(hint)) is not None:
        return check(value)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return isinstance(value, hint) and not _mistyped_fields(value)
    return isinstance(value, hint)


def _matches_tuple(value: tuple[object, ...], args: tuple[Any, ...]) -> bool:
    if len(args) == 2 and args[1] is Ellipsis:
        return all(_matches(item, args[0]) for item in value)
    return len(value) == len(args) and all(map(_matches, value, args, strict=True))


# What the parsers promise beyond the annotation.
_STRICT_TYPES: dict[Any, Callable[[Any], bool]] = {
    type(None): lambda value: value is None,
    int: lambda value: type(value) is int,  # a bool is not a number
    str: lambda value: isinstance(value, str) and value != "",
    datetime: lambda value: isinstance(value, datetime) and _in_utc_range(value),
    Decimal: lambda value: isinstance(value, Decimal) and value.is_finite(),
}


def _in_utc_range(value: datetime) -> bool:
    """Aware, and an instant Home Assistant can show (its timestamps are in UTC)."""
    if value.tzinfo is None:
        return False
    try:
        value.astimezone(UTC)
    except OverflowError:
        return False
    return True


def _mistyped_fields(value: object) -> list[str]:
    hints = get_type_hints(type(value))
    return [
        f"{type(value).__name__}.{field.name}={getattr(value, field.name)!r}"
        for field in dataclasses.fields(value)  # type: ignore[arg-type]
        if not _matches(getattr(value, field.name), hints[field.name])
    ]


def _assert_well_typed(parsed: object) -> None:
    assert not (problems := _mistyped_fields(parsed)), problems


def _enum_value(value: object) -> object:
    return getattr(value, "value", value)


def _assert_agrees(schema: str, payload: dict[str, Any], parsed: Any) -> None:
    """What a parser returns for a schema-valid payload says what the payload says."""
    if schema != "EVSEConnectivity":
        assert parsed.id == payload["id"]
    if schema == "Vehicle":
        assert _enum_value(parsed.integrated) == payload["integrated"]
        assert parsed.maximum_charge_limit_percentage == payload["maximum_charge_limit_percentage"]
        assert parsed.smart_charging_enabled is payload["smart_charging_enabled"]
        assert (parsed.status is not None) == isinstance(payload.get("latest_status_log"), dict)
    elif schema == "EVSE":
        assert _enum_value(parsed.lock_mode) == payload.get("lock_mode")
        assert _enum_value(parsed.lifecycle_state) == payload.get("lifecycle_state")
    elif schema == "TariffDetail":
        assert _enum_value(parsed.type) == payload.get("type")
        assert parsed.current_price_minor_units == payload.get("current_price")
    elif schema == "ChargingSession":
        subs = payload.get("sub_sessions", [])
        assert len(parsed.sub_sessions) == sum(isinstance(sub, dict) for sub in subs)
    elif schema == "EVSEConnectivity":
        assert parsed.connection_reliability_30d == payload["connection_reliability_30d"]
    elif schema == "User" and isinstance(location := payload.get("default_location"), dict):
        tariff = location.get("tariff")
        if isinstance(tariff, dict):
            assert parsed.tariff_id == tariff["id"]


def _parse_or_reject(parse: Parser, payload: object) -> None:
    """Parse; EvEnergyResponseError is the one allowed failure, anything else escapes."""
    try:
        parsed = parse(payload)
    except EvEnergyResponseError:
        return
    _assert_well_typed(parsed)


def _assert_intervals_sound(items: list[Any], currency: str) -> None:
    intervals = intervals_from_api(items, currency)
    assert len(intervals) <= len(items)
    for interval in intervals:
        assert interval.start.utcoffset() == timedelta(0)
        assert interval.start < interval.end
        assert interval.price.is_finite()


def _assert_bands_sound(raw: object) -> None:
    bands = parse_daily_prices(raw)
    assert [band.name for band in bands] == [
        name for name in ("peak", "mid_peak", "off_peak") if any(b.name == name for b in bands)
    ]
    for band in bands:
        _assert_well_typed(band)
        assert all(isinstance(t, time) for period in band.times for t in period)


# --- Generators ------------------------------------------------------------------------------


@functools.cache
def _strategies(*, near_now: bool = False) -> SchemaStrategies:
    """Schema strategies; `near_now` narrows them to what Home Assistant can be fed.

    Home Assistant's test HTTP mock serializes JSON with orjson (64-bit integers only), and
    date-times within days of the frozen test clock make prices and sessions current.
    """
    if near_now:
        naive = NOW.replace(tzinfo=None)
        strategies = SchemaStrategies(
            load_spec(),
            datetimes=iso_datetimes(naive - timedelta(days=3), naive + timedelta(days=3)),
            int_bounds=INT64,
        )
    else:
        strategies = SchemaStrategies(load_spec(), datetimes=iso_datetimes(*DATE_RANGE))
    strategies.override(
        "#/components/schemas/Price/properties/interval_seconds",
        st.sampled_from([900, 1800, 3600])
        | st.integers(
            min_value=INT64[0] if near_now else None, max_value=INT64[1] if near_now else None
        ),
    )
    # A daily band's price is a string holding major units ("0.10"), so mostly one of those.
    decimals = (
        st.decimals(min_value=-100, max_value=100, places=4)
        if near_now
        else st.decimals(allow_nan=False, allow_infinity=False)
    )
    strategies.override(
        "#/components/schemas/PriceSummary/properties/price",
        decimals.map(str) | st.text(max_size=8),
    )
    return strategies


# Realistic payloads to mutate besides generated ones: the spec's examples, the fixtures.
FIXTURE_SEEDS: dict[str, tuple[str, ...]] = {
    "Vehicle": ("vehicles.json", "vehicles_page2.json"),
    "EVSE": ("evses.json",),
    "TariffDetail": ("tariff.json",),
    "User": ("user.json", "users.json"),
    "ChargingSession": ("charging_sessions.json",),
    "EVSEConnectivity": ("connectivity.json",),
    "Price": ("prices.json",),
}


@functools.cache
def _validator(schema: str) -> Validator:
    spec = load_spec()
    return Draft202012Validator(
        {"$ref": f"#/components/schemas/{schema}", "components": spec["components"]}
    )


@functools.cache
def _seeds(schema: str, *, valid_only: bool = False) -> tuple[Any, ...]:
    """The spec's examples of `schema` and the recorded fixtures of it (or the valid ones).

    Not all fixtures are schema-valid (e.g. a null charge limit, an empty sub-session list).
    """
    if valid_only:
        return tuple(seed for seed in _seeds(schema) if _validator(schema).is_valid(seed))
    schemas = load_spec()["components"]["schemas"]
    seeds = list(schemas[schema].get("examples", []))
    if schema == "DailyPrices":
        seeds += [
            tariff["daily_prices"] for tariff in _seeds("TariffDetail") if "daily_prices" in tariff
        ]
    for name in FIXTURE_SEEDS.get(schema, ()):
        data = json.loads(load_fixture(name))
        seeds.extend(data if isinstance(data, list) else [data])
    return tuple(seeds)


def _realistic(
    schema: str, depth: int = 2, *, near_now: bool = False, valid: bool = False
) -> st.SearchStrategy[Any]:
    """Generated payloads of `schema`, and now and then one of its (valid) seeds."""
    generated = _strategies(near_now=near_now).payloads(schema, depth=depth)
    seeds = _seeds(schema, valid_only=valid)
    return generated | st.sampled_from(seeds) if seeds else generated


def _walk(node: object) -> Iterator[object]:
    yield node
    if isinstance(node, dict):
        for child in node.values():
            yield from _walk(child)
    elif isinstance(node, list):
        for child in node:
            yield from _walk(child)


# --- Parser fuzzing --------------------------------------------------------------------------


@needs_hypothesis
@pytest.mark.parametrize("schema", [*PARSERS, "Price", "DailyPrices"])
def test_generated_payloads_match_the_spec(schema: str) -> None:
    """The generator's own check: what it produces validates against the spec's schema."""
    validator = _validator(schema)
    strategy = _strategies().payloads(schema, depth=PARSERS.get(schema, (None, 2))[1])

    def check(payload: Any) -> None:
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(payload)]
        assert not errors, errors

    check_property(strategy, check, examples=50)


@needs_hypothesis
@pytest.mark.parametrize("schema", list(PARSERS))
def test_parser_reads_schema_valid_payloads(schema: str) -> None:
    """Every schema-valid payload parses, well typed, into what it says."""
    parse, depth = PARSERS[schema]

    def check(payload: dict[str, Any]) -> None:
        parsed = parse(payload)
        _assert_well_typed(parsed)
        _assert_agrees(schema, payload, parsed)

    check_property(_realistic(schema, depth, valid=True), check, examples=PARSER_EXAMPLES)


@needs_hypothesis
@pytest.mark.parametrize("schema", list(PARSERS))
def test_parser_survives_near_valid_payloads(schema: str) -> None:
    """Broken payloads parse (well typed) or raise EvEnergyResponseError, nothing else."""
    parse, depth = PARSERS[schema]
    payloads = near_valid(_realistic(schema, depth))

    def check(payload: Any) -> None:
        _parse_or_reject(parse, payload)

    check_property(payloads | json_values(nan=True), check, examples=PARSER_EXAMPLES)


def _representable_end(item: dict[str, Any]) -> bool:
    """Whether the interval's end fits in datetime (past year 9999 it is skipped)."""
    start = datetime.fromisoformat(item["started_at"]).astimezone(UTC)
    try:
        start + timedelta(seconds=item["interval_seconds"])
    except OverflowError:
        return False
    return True


@needs_hypothesis
def test_price_parsers_read_schema_valid_payloads() -> None:
    """Price lists and a tariff's daily bands from the spec parse into sound intervals/bands."""
    strategies = _strategies()
    currencies = st.sampled_from(["GBP", "JPY", "KWD", "usd"]) | st.text(max_size=4)

    def check(case: tuple[list[Any], str, Any]) -> None:
        items, currency, daily = case
        _assert_intervals_sound(items, currency)
        assert len(intervals_from_api(items, currency)) == sum(
            item["interval_seconds"] > 0 and _representable_end(item) for item in items
        )
        _assert_bands_sound(daily)

    check_property(
        st.tuples(
            st.lists(strategies.payloads("Price"), max_size=6),
            currencies,
            strategies.payloads("DailyPrices"),
        ),
        check,
        examples=PARSER_EXAMPLES,
    )


@needs_hypothesis
def test_price_list_parser_survives_near_valid_payloads() -> None:
    """Broken price lists: unreadable items are skipped, the rest parse; nothing raises."""
    prices = near_valid(st.lists(_realistic("Price"), min_size=1, max_size=6))

    def check(items: Any) -> None:
        # The client only ever passes a page's list (it rejects any other page).
        if isinstance(items, list):
            _assert_intervals_sound(items, "GBP")

    check_property(prices, check, examples=CHEAP_EXAMPLES)


@needs_hypothesis
def test_daily_prices_parser_survives_near_valid_payloads() -> None:
    """Broken daily bands: unreadable bands and periods are skipped; nothing raises."""
    daily = near_valid(_realistic("DailyPrices")) | json_values(nan=True)
    check_property(daily, _assert_bands_sound, examples=CHEAP_EXAMPLES)


# --- Home Assistant fuzzing ------------------------------------------------------------------

VEHICLE_IDS = tuple(f"vhcl01FUZZVEHICLE{index:013d}" for index in range(4))
EVSE_IDS = tuple(f"evse01FUZZCHARGER{index:013d}" for index in range(3))
# A fuzzed id may name any charger or tariff (or even another path): answer them all.
CONNECTIVITY_ANY = re.compile(r"^https://api\.ev\.energy/.*/connectivity$")
PRICES_ANY = re.compile(r"^https://api\.ev\.energy/.*/prices(\?.*)?$")


@dataclasses.dataclass(frozen=True)
class Account:
    """What the mocked API answers in one fuzzing step."""

    vehicles: Any
    evses: Any
    tariff: Any
    prices: Any
    sessions: Any
    connectivity: Any


def _with_ids(ids: tuple[str, ...]) -> Callable[[Any], st.SearchStrategy[list[Any]]]:
    """Give the listed resources distinct ids from a small pool (so devices get reused)."""

    def assign(items: list[dict[str, Any]]) -> st.SearchStrategy[list[Any]]:
        return st.permutations(ids).map(
            lambda chosen: [{**item, "id": id_} for item, id_ in zip(items, chosen, strict=False)]
        )

    return assign


def _account_parts(*, valid: bool) -> dict[str, st.SearchStrategy[Any]]:
    realistic = functools.partial(_realistic, near_now=True, valid=valid)
    session = st.tuples(realistic("ChargingSession", 0), st.sampled_from(VEHICLE_IDS))
    return {
        "vehicles": st.lists(realistic("Vehicle", 3), max_size=3).flatmap(_with_ids(VEHICLE_IDS)),
        "evses": st.lists(realistic("EVSE", 2), max_size=3).flatmap(_with_ids(EVSE_IDS)),
        # The user's location names TARIFF_ID, so that is the tariff asked for.
        "tariff": realistic("TariffDetail", 1).map(lambda tariff: {**tariff, "id": TARIFF_ID}),
        "prices": st.lists(realistic("Price"), max_size=6),
        # Sessions belong to the fuzzed vehicles, so their session entities show them.
        "sessions": st.lists(
            session.map(lambda pair: {**pair[0], "vehicle": f"{API}/vehicles/{pair[1]}"}),
            max_size=3,
        ),
        "connectivity": realistic("EVSEConnectivity", 1),
    }


def _valid_accounts() -> st.SearchStrategy[Account]:
    return st.builds(Account, **_account_parts(valid=True))


def _near_valid_accounts() -> st.SearchStrategy[Account]:
    """Each part valid or broken, independently: most steps break some parts, not all."""
    parts = {
        name: strategy | near_valid(strategy, int_bounds=INT64)
        for name, strategy in _account_parts(valid=False).items()
    }
    return st.builds(Account, **parts)


def _mock_any_id(aioclient_mock: AiohttpClientMocker, mock_api: MockApi) -> None:
    """Answer every charger's connectivity and every tariff's prices, not only the defaults."""

    async def connectivity(method: str, url: URL, data: Any) -> AiohttpClientMockResponse:
        return AiohttpClientMockResponse(method, url, json=mock_api.connectivity)

    async def prices(method: str, url: URL, data: Any) -> AiohttpClientMockResponse:
        return AiohttpClientMockResponse(
            method, url, json=mock_api.prices, headers={"Link": NO_MORE_PAGES}
        )

    aioclient_mock.get(CONNECTIVITY_ANY, side_effect=connectivity)
    aioclient_mock.get(PRICES_ANY, side_effect=prices)


def _is_number(value: str) -> bool:
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False


def _invalid_states(hass: HomeAssistant, entry: MockConfigEntry) -> list[str]:
    """Entity states that are not what their kind of entity may show."""
    problems = []
    for entity in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id):
        if entity.disabled_by is not None:
            continue
        state = hass.states.get(entity.entity_id)
        if state is None:
            problems.append(f"{entity.entity_id} has no state")
            continue
        value: object = state.state
        attributes = state.attributes
        if not isinstance(value, str):
            problems.append(f"{entity.entity_id}: {value!r} is not a string")
            continue
        if value in (STATE_UNKNOWN, STATE_UNAVAILABLE):
            continue
        device_class = attributes.get("device_class")
        if entity.domain in ("binary_sensor", "switch"):
            valid = value in ("on", "off")
        elif entity.domain == "number":
            valid = _is_number(value)
        elif device_class == "enum":
            valid = value in attributes.get("options", ())
        elif device_class == "timestamp":
            valid = dt_util.parse_datetime(value) is not None
        elif "state_class" in attributes or "unit_of_measurement" in attributes:
            valid = _is_number(value)
        else:
            valid = True
        if not valid:
            problems.append(f"{entity.entity_id}: invalid state {value!r} ({dict(attributes)})")
    return problems


def _unexpected_errors(records: list[logging.LogRecord], *, allow_mapped: bool) -> list[str]:
    """Errors logged other than a coordinator's mapped failure (when allowed)."""
    return [
        record.getMessage() + (f" [{record.exc_info[1]!r}]" if record.exc_info else "")
        for record in records
        if record.levelno >= logging.ERROR
        if not (
            allow_mapped
            and not record.exc_info
            and record.getMessage().startswith(("Error fetching ev_energy", "Error requesting"))
        )
    ]


def _describe(index: int, account: Account) -> str:
    return f"example {index}: " + json.dumps(dataclasses.asdict(account), default=str)[:4000]


async def _feed_accounts(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    aioclient_mock: AiohttpClientMocker,
    caplog: pytest.LogCaptureFixture,
    accounts: list[Account],
    *,
    valid: bool,
) -> None:
    """Set the entry up, then answer each account in turn and refresh every coordinator."""
    _mock_any_id(aioclient_mock, mock_api)
    mock_api.vehicles_page2 = []
    await setup_integration(hass, config_entry)
    assert config_entry.state is ConfigEntryState.LOADED
    runtime = config_entry.runtime_data
    # The order of a real start-up: the live poll first, then what depends on it.
    coordinators = (runtime.live, runtime.prices, runtime.sessions, runtime.connectivity)
    for index, account in enumerate(accounts):
        mock_api.vehicles = account.vehicles
        mock_api.evses = account.evses
        mock_api.tariff = account.tariff
        mock_api.prices = account.prices
        mock_api.sessions = account.sessions
        mock_api.connectivity = account.connectivity
        caplog.clear()
        for coordinator in coordinators:
            await coordinator.async_refresh()
        await hass.async_block_till_done()
        context = _describe(index, account)
        for coordinator in coordinators:
            if valid:
                assert coordinator.last_update_success, (coordinator.name, context)
            elif not coordinator.last_update_success:
                # The one way a poll may fail: the integration's own, translated error.
                assert type(coordinator.last_exception) is UpdateFailed, (
                    coordinator.name,
                    repr(coordinator.last_exception),
                    context,
                )
        assert not (errors := _unexpected_errors(caplog.records, allow_mapped=not valid)), (
            errors,
            context,
        )
        assert not (problems := _invalid_states(hass, config_entry)), (problems, context)
        assert config_entry.state is ConfigEntryState.LOADED


@needs_hypothesis
@pytest.mark.usefixtures("setup_credentials", "entity_registry_enabled_by_default")
async def test_coordinator_with_schema_valid_payloads(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    aioclient_mock: AiohttpClientMocker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Schema-valid payloads always update, with valid entity states and no error logged."""
    # @given cannot wrap phcc's async tests: the examples are drawn up front, deterministically.
    accounts: list[Account] = draw_examples(_valid_accounts(), HA_EXAMPLES)
    await _feed_accounts(hass, config_entry, mock_api, aioclient_mock, caplog, accounts, valid=True)


@needs_hypothesis
@pytest.mark.usefixtures("setup_credentials", "entity_registry_enabled_by_default")
async def test_coordinator_with_near_valid_payloads(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    aioclient_mock: AiohttpClientMocker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Broken payloads update or fail with the mapped error; states stay valid."""
    accounts: list[Account] = draw_examples(_near_valid_accounts(), HA_EXAMPLES)
    await _feed_accounts(
        hass, config_entry, mock_api, aioclient_mock, caplog, accounts, valid=False
    )


# --- Regressions -----------------------------------------------------------------------------
# Each is the smallest failing example of a bug the fuzzing above found (or reading the code it
# exercises), kept so the bug cannot come back unnoticed.


def _tariff(**changes: Any) -> dict[str, Any]:
    return {**load_json_object_fixture("tariff.json"), **changes}


@pytest.mark.parametrize("times", [5, 1.5, True])
def test_daily_prices_with_times_not_a_list(times: object) -> None:
    daily_prices = {"peak": {"price": "0.10", "times": times}}
    _parse_or_reject(Tariff.from_api, _tariff(type="DUAL_RATE", daily_prices=daily_prices))


@pytest.mark.usefixtures("setup_credentials")
async def test_poll_with_daily_prices_times_not_a_list(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    mock_api.vehicles_page2 = []
    await setup_integration(hass, config_entry)
    coordinator = config_entry.runtime_data.live
    mock_api.tariff = _tariff(
        type="DUAL_RATE", daily_prices={"peak": {"price": "0.10", "times": 5}}
    )

    await coordinator.async_refresh()

    assert coordinator.last_update_success or type(coordinator.last_exception) is UpdateFailed


@pytest.mark.parametrize(
    "item",
    [
        {"started_at": "2026-11-22T10:00:00Z", "interval_seconds": 10**12},
        {"started_at": "9999-12-31T23:30:00Z", "interval_seconds": 3600},
        {"started_at": "0001-01-01T00:30:00+01:00", "interval_seconds": 1800},
    ],
    ids=["long-interval", "ends-after-9999", "starts-before-year-1-in-utc"],
)
def test_price_interval_out_of_range(item: dict[str, Any]) -> None:
    _assert_intervals_sound([{**item, "price_minor_units": 24}], "GBP")


@pytest.mark.parametrize(
    ("parse", "payload"),
    [
        (
            Vehicle.from_api,
            {"id": "vhcl1", "latest_status_log": {"sampled_at": "0001-01-01T00:00:00+01:00"}},
        ),
        (
            Evse.from_api,
            {"id": "evse1", "latest_status_log": {"sampled_at": "9999-12-31T23:59:59-01:00"}},
        ),
        (ChargingSession.from_api, {"id": "cses1", "start": "0001-01-01T00:00:00+00:01"}),
    ],
    ids=["vehicle", "charger", "session"],
)
def test_parsers_keep_far_date_times(parse: Parser, payload: dict[str, Any]) -> None:
    _assert_well_typed(parse(payload))


@pytest.mark.usefixtures("setup_credentials")
async def test_timestamp_sensor_with_far_date_time(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    caplog: pytest.LogCaptureFixture,
) -> None:
    mock_api.vehicles_page2 = []
    mock_api.vehicles[0]["latest_status_log"]["sampled_at"] = "9999-12-31T23:59:59-01:00"

    await setup_integration(hass, config_entry)

    assert not _unexpected_errors(caplog.records, allow_mapped=False)
    assert not _invalid_states(hass, config_entry)


def test_daily_band_time_with_an_offset() -> None:
    bands = parse_daily_prices(
        {"peak": {"price": "0.10", "times": [{"start": "10:00:00Z", "end": "11:00:00"}]}}
    )
    intervals_from_bands(bands, ZoneInfo("Europe/London"), date(2026, 11, 21), 3)


def test_huge_daily_price() -> None:
    bands = parse_daily_prices(
        {"peak": {"price": "1e30", "times": [{"start": "00:00:00", "end": "00:00:00"}]}}
    )
    schedule = PriceSchedule(intervals_from_bands(bands, ZoneInfo("UTC"), date(2026, 11, 21), 3))
    schedule.summary(NOW - timedelta(hours=10), NOW + timedelta(hours=14))
