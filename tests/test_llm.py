"""Assist tools through Home Assistant's own LLM API, over a real config entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import area_registry as ar, device_registry as dr, llm
from homeassistant.setup import async_setup_component
import probatio
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    load_json_object_fixture,
)

from custom_components.ev_energy import llm as ev_llm
from custom_components.ev_energy.api import PriceInterval, PriceSchedule
from custom_components.ev_energy.assist import (
    CarName,
    CarNotFoundError,
    find_car,
    hourly_prices,
)
from custom_components.ev_energy.const import DOMAIN

from .conftest import (
    API,
    VEHICLE_ID,
    VEHICLE_PAGE2_ID,
    MockApi,
    entry_state,
    setup_integration,
)

PLAN_TOOL = "ev_energy__get_charge_plan"
STATUS_TOOL = "ev_energy__get_charging_status"
PRICES_TOOL = "ev_energy__get_prices"
SECOND_USER_ID = "user01HN2NJ9NMRZBXT1H6FT9N9999"

pytestmark = pytest.mark.usefixtures("setup_credentials")


def _context() -> llm.LLMContext:
    return llm.LLMContext(
        platform="test",
        context=Context(),
        language="en",
        assistant="conversation",
        device_id=None,
    )


async def _setup(hass: HomeAssistant, config_entry: MockConfigEntry) -> None:
    # Assist's exposure settings, which the core's own tools read.
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(hass, "llm", {})
    await setup_integration(hass, config_entry)


async def _ask(hass: HomeAssistant, mock_api: MockApi, tool: str, **args: Any) -> llm.ToolResult:
    """Call a tool as an LLM would, and check it sent no request to ev.energy."""
    api = await llm.async_get_api(hass, llm.LLM_API_ASSIST, _context())
    before = len(mock_api.calls())
    result = await api.async_call_tool(llm.ToolInput(tool_name=tool, tool_args=args))
    assert len(mock_api.calls()) == before, "a question must not cost a request"
    return result


def _answer(result: llm.ToolResult) -> dict[str, Any]:
    """A successful tool result's data (JSON, typed loosely for reading)."""
    assert not result.error, result.data
    data: dict[str, Any] = result.data
    return data


def _error(result: llm.ToolResult) -> dict[str, Any]:
    assert result.error
    data: dict[str, Any] = result.data
    return data


def _only_car(result: llm.ToolResult) -> dict[str, Any]:
    [car] = _answer(result)["cars"]
    assert isinstance(car, dict)
    return car


async def test_tools_are_offered_to_assist_while_an_entry_is_loaded(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    await _setup(hass, config_entry)
    api = await llm.async_get_api(hass, llm.LLM_API_ASSIST, _context())
    ours = {tool.name: tool for tool in api.tools if tool.integration == DOMAIN}
    assert set(ours) == {PLAN_TOOL, STATUS_TOOL, PRICES_TOOL}
    assert all(tool.annotations.read_only for tool in ours.values())
    assert ev_llm.PROMPT in api.api_prompt
    # The schema an LLM is given names the cars.
    schema = probatio.to_openapi(
        ours[PLAN_TOOL].parameters, custom_serializer=api.custom_serializer
    )
    assert schema["properties"]["car"]["type"] == "string"
    assert "Cars: Family car, Nissan Leaf, Van." in schema["properties"]["car"]["description"]
    assert "car" not in schema.get("required", [])
    # Offered to Assist only.
    assert ev_llm.async_get_tools(hass, _context(), "another_api") is None

    assert await hass.config_entries.async_unload(config_entry.entry_id)
    api = await llm.async_get_api(hass, llm.LLM_API_ASSIST, _context())
    assert not [tool for tool in api.tools if tool.integration == DOMAIN]


async def test_charge_plan_of_a_named_car(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    """Two slots, 13:00-14:00 and 22:30-23:30 UTC, told in local time (US/Pacific here)."""
    await _setup(hass, config_entry)
    car = _only_car(await _ask(hass, mock_api, PLAN_TOOL, car="  family CAR "))

    assert car["car"] == "Family car"
    assert car["plugged_in"] is True
    assert car["charging_planned_now"] is False
    assert car["next_start"] == "2026-11-22T05:00:00-08:00"
    assert car["planned_end"] == "2026-11-22T15:30:00-08:00"
    assert car["energy_kwh"] == pytest.approx(15.347)
    assert car["cost"] == pytest.approx(2.4939)
    assert car["currency"] == "GBP"
    assert car["co2_kg"] == pytest.approx(15.3472 * 182 / 1000, abs=0.001)
    assert [(slot["start"], slot["end"], slot["energy_kwh"]) for slot in car["slots"]] == [
        ("2026-11-22T05:00:00-08:00", "2026-11-22T06:00:00-08:00", 7.674),
        ("2026-11-22T14:30:00-08:00", "2026-11-22T15:30:00-08:00", 7.674),
    ]
    # The plan shows no ready-by time: whether the limit is reached is not known.
    assert car["ready_by"] is None
    assert car["reaches_charge_limit_by_ready_by"] is None
    assert car["state_of_charge"] == 63
    assert car["charge_limit"] == 80


@pytest.mark.parametrize(("limit", "needed", "reaches"), [(80, 12.75, True), (100, 27.75, False)])
async def test_charge_plan_says_whether_the_car_is_ready_in_time(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    limit: int,
    needed: float,
    reaches: bool,
) -> None:
    """Ready by 07:00: two hours at 7.67 kW and an hour at 3.84 kW before it, 19.184 kWh.

    The 75 kWh battery is at 63 %: it needs 17 % (80 % limit) or 37 % (100 %) of it.
    """
    mock_api.schedules = load_json_object_fixture("schedules_midnight.json")
    mock_api.vehicles[0]["maximum_charge_limit_percentage"] = limit
    await hass.config.async_update(time_zone="Europe/London")
    await _setup(hass, config_entry)
    car = _only_car(await _ask(hass, mock_api, PLAN_TOOL, car="Family car"))

    assert car["ready_by"] == "2026-11-23T07:00:00+00:00"
    assert car["energy_planned_by_ready_by_kwh"] == pytest.approx(19.184)
    assert car["energy_needed_kwh"] == pytest.approx(needed)
    assert car["reaches_charge_limit_by_ready_by"] is reaches


async def test_every_car_when_none_is_named(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    await _setup(hass, config_entry)
    cars = _answer(await _ask(hass, mock_api, PLAN_TOOL))["cars"]
    assert [(car["car"], car["next_start"]) for car in cars] == [
        ("Family car", "2026-11-22T05:00:00-08:00"),
        ("Nissan Leaf", None),
        ("Van", None),
    ]


async def test_cars_go_by_the_users_names_and_areas(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    device_registry: dr.DeviceRegistry,
    area_registry: ar.AreaRegistry,
) -> None:
    """A rename replaces the name; an area's name finds the car in it."""
    await _setup(hass, config_entry)
    family = device_registry.async_get_device_by_identifier(
        (DOMAIN, VEHICLE_ID), config_entry.entry_id
    )
    van = device_registry.async_get_device_by_identifier(
        (DOMAIN, VEHICLE_PAGE2_ID), config_entry.entry_id
    )
    assert family is not None
    assert van is not None
    device_registry.async_update_device(family.id, name_by_user="Tessie")
    garage = area_registry.async_create("Garage")
    device_registry.async_update_device(van.id, area_id=garage.id)

    assert _only_car(await _ask(hass, mock_api, STATUS_TOOL, car="tessie"))["car"] == "Tessie"
    assert _only_car(await _ask(hass, mock_api, STATUS_TOOL, car="GARAGE"))["car"] == "Van"

    unknown = _error(await _ask(hass, mock_api, STATUS_TOOL, car="Family car"))
    assert unknown == {
        "error": 'No car is called "Family car". The cars are: Nissan Leaf, Tessie, Van.',
        "cars": ["Nissan Leaf", "Tessie", "Van"],
    }

    device_registry.async_update_device(family.id, area_id=garage.id)
    ambiguous = _error(await _ask(hass, mock_api, PLAN_TOOL, car="garage"))
    assert ambiguous == {
        "error": '"garage" could be any of Tessie, Van: ask which one.',
        "cars": ["Tessie", "Van"],
    }


async def test_why_a_car_is_or_is_not_charging(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    await _setup(hass, config_entry)
    cars = _answer(await _ask(hass, mock_api, STATUS_TOOL))["cars"]
    by_name = {car["car"]: car for car in cars}
    assert by_name["Family car"]["status"] == "charging"
    assert by_name["Family car"]["what_to_do"] == "Nothing."
    assert by_name["Nissan Leaf"]["status"] == "vehicle_disconnected"
    assert "Reconnect the car" in by_name["Nissan Leaf"]["what_to_do"]
    assert by_name["Van"] == {
        "car": "Van",
        "status": "not_plugged_in",
        "explanation": "The car is not plugged in.",
        "what_to_do": "Plug it in.",
        "next_charge_start": None,
        "state_of_charge": None,
        "smart_charging": False,
    }


async def test_waiting_for_a_slot_tells_when(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    status = mock_api.vehicles[0]["latest_status_log"]
    status.update(is_charging=False, state="PLUGGED_IN_NOT_CHARGING")
    await hass.config.async_update(time_zone="Europe/London")
    await _setup(hass, config_entry)
    car = _only_car(await _ask(hass, mock_api, STATUS_TOOL, car="family car"))
    assert car["status"] == "waiting_for_planned_slot"
    assert car["next_charge_start"] == "2026-11-22T13:00:00+00:00"
    assert car["what_to_do"] == "Nothing; turn Boost on to charge now."


async def test_prices_today_tomorrow_and_the_cheapest_window(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    """Today's half-hourly prices as 24 hourly averages; tomorrow once it is published."""
    await hass.config.async_update(time_zone="Europe/London")
    await _setup(hass, config_entry)
    [account] = _answer(await _ask(hass, mock_api, PRICES_TOOL))["accounts"]
    assert account["account"] == "Frodo Baggins"
    assert account["currency"] == "GBP"
    assert account["unit"] == "GBP/kWh"
    assert account["current_price"] == 0.24
    today = account["today"]
    assert len(today) == 24
    assert today[0] == {
        "start": "2026-11-22T00:00:00+00:00",
        "end": "2026-11-22T01:00:00+00:00",
        "price": 0.145,
    }
    assert today[4]["price"] == 0.07
    assert today[-1]["end"] == "2026-11-23T00:00:00+00:00"
    assert account["tomorrow"] == []
    # From 10:10 on, 21:00-24:00 (19p, 18p, 16p, 15p, 14p, 13p) is the cheapest three hours.
    assert account["cheapest_window"] == {
        "start": "2026-11-22T21:00:00+00:00",
        "end": "2026-11-23T00:00:00+00:00",
        "average_price": 0.1583,
    }

    start = datetime(2026, 11, 23, tzinfo=UTC)
    mock_api.prices = [
        *mock_api.prices,
        *(
            {
                "started_at": (start + timedelta(minutes=30 * n)).isoformat(),
                "interval_seconds": 1800,
                "price_minor_units": 10,
            }
            for n in range(48)
        ),
    ]
    await config_entry.runtime_data.prices.async_refresh()
    [account] = _answer(await _ask(hass, mock_api, PRICES_TOOL, hours=1))["accounts"]
    assert account["tomorrow"] == [
        {"start": "2026-11-23T00:00:00+00:00", "end": "2026-11-24T00:00:00+00:00", "price": 0.1}
    ]
    assert account["cheapest_window"] == {
        "start": "2026-11-23T00:00:00+00:00",
        "end": "2026-11-23T01:00:00+00:00",
        "average_price": 0.1,
    }


def test_find_car() -> None:
    cars = [
        CarName(name="Family car", area="Garage"),
        CarName(name="Van", area="Drive"),
        CarName(name="Garage", area=None),
    ]
    assert find_car("family  car", cars) is cars[0]
    assert find_car(" DRIVE", cars) is cars[1]
    # A car's own name wins over an area's.
    assert find_car("garage", cars) is cars[2]
    with pytest.raises(CarNotFoundError) as err:
        find_car("Tesla", cars)
    assert err.value.cars == ["Family car", "Garage", "Van"]
    with pytest.raises(CarNotFoundError) as err:
        find_car("car", [CarName(name="Car"), CarName(name="car ")])
    assert err.value.cars == ["Car", "car "]


def test_hourly_prices_merge_equal_hours_and_skip_unknown_ones() -> None:
    midnight = datetime(2026, 11, 22, tzinfo=UTC)
    hour = timedelta(hours=1)

    def price(start: int, end: int, value: str) -> PriceInterval:
        return PriceInterval(midnight + start * hour, midnight + end * hour, Decimal(value))

    schedule = PriceSchedule([price(0, 2, "0.10"), price(2, 3, "0.2"), price(5, 6, "0.2")])
    assert hourly_prices(schedule, midnight, midnight + 6 * hour) == [
        {"start": midnight, "end": midnight + 2 * hour, "price": 0.1},
        {"start": midnight + 2 * hour, "end": midnight + 3 * hour, "price": 0.2},
        {"start": midnight + 5 * hour, "end": midnight + 6 * hour, "price": 0.2},
    ]


async def test_tools_cover_every_loaded_entry(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    device_registry: dr.DeviceRegistry,
) -> None:
    """A second account (served the same cars here) adds its cars and its prices."""
    second = MockConfigEntry(
        domain=DOMAIN, title="Samwise Gamgee", unique_id=SECOND_USER_ID, data=config_entry.data
    )
    mock_api.aioclient_mock.get(f"{API}/users/{SECOND_USER_ID}", json=mock_api.user)
    second.add_to_hass(hass)
    await _setup(hass, config_entry)
    assert entry_state(second) is ConfigEntryState.LOADED
    device = device_registry.async_get_device_by_identifier((DOMAIN, VEHICLE_ID), second.entry_id)
    assert device is not None
    device_registry.async_update_device(device.id, name_by_user="Second car")

    car = _only_car(await _ask(hass, mock_api, PLAN_TOOL, car="second car"))
    assert car["car"] == "Second car"
    assert car["next_start"] == "2026-11-22T05:00:00-08:00"
    ambiguous = _error(await _ask(hass, mock_api, STATUS_TOOL, car="van"))
    assert ambiguous["cars"] == ["Van", "Van"]
    accounts = _answer(await _ask(hass, mock_api, PRICES_TOOL))["accounts"]
    assert sorted(account["account"] for account in accounts) == ["Frodo Baggins", "Samwise Gamgee"]
