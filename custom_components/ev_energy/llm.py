"""Assist tools: when a car will charge, what it will cost, why it is (not) charging, prices.

Home Assistant's `llm` integration asks every loaded integration for tools. These answer from
what the coordinators already hold, across every loaded ev.energy entry: a question never
costs a request to ev.energy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any, override

from homeassistant.components.llm import LLMTools
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import (
    area_registry as ar,
    config_validation as cv,
    device_registry as dr,
)
from homeassistant.helpers.llm import (
    LLM_API_ASSIST,
    LLMContext,
    Tool,
    ToolAnnotations,
    ToolInput,
    ToolResult,
)
from homeassistant.util import dt as dt_util
from homeassistant.util.json import JsonValueType
import probatio

from .assist import (
    STATUS_HINTS,
    CarName,
    CarNotFoundError,
    find_car,
    hourly_prices,
    ready_by_check,
)
from .const import DOMAIN
from .runtime import EvEnergyConfigEntry
from .services import charge_plan_answer
from .status import explain

PROMPT = (
    "For questions about an electric car's charging (when it will charge, what it will cost, "
    "why it is or is not charging) or about electricity prices, use the ev_energy tools."
)
ATTR_CAR = "car"
ATTR_HOURS = "hours"
DEFAULT_WINDOW_HOURS = 3.0
_READ_ONLY = ToolAnnotations(read_only=True, destructive=False, idempotent=True, open_world=False)


@dataclass(frozen=True, kw_only=True, slots=True)
class Car(CarName):
    """A vehicle of a loaded entry, with the names a user may call it by."""

    entry: EvEnergyConfigEntry
    vehicle_id: str


def _cars(hass: HomeAssistant) -> list[Car]:
    """Every vehicle of every loaded entry, named as the user sees its device."""
    devices, areas = dr.async_get(hass), ar.async_get(hass)
    cars: list[Car] = []
    entries: list[EvEnergyConfigEntry] = hass.config_entries.async_loaded_entries(DOMAIN)
    for entry in entries:
        for vehicle_id, vehicle in entry.runtime_data.live.data.vehicles.items():
            device = devices.async_get_device_by_identifier((DOMAIN, vehicle_id), entry.entry_id)
            name = (device.name_by_user or device.name) if device else None
            area = areas.async_get_area(device.area_id) if device and device.area_id else None
            cars.append(
                Car(
                    name=name or vehicle.display_name or vehicle_id,
                    area=area.name if area else None,
                    entry=entry,
                    vehicle_id=vehicle_id,
                )
            )
    return sorted(cars, key=lambda car: car.name.casefold())


def _when(value: datetime | None) -> str | None:
    """Return an instant in Home Assistant's time zone, as ISO 8601 with its offset."""
    return dt_util.as_local(value).isoformat() if value is not None else None


def _number(value: Decimal | None, places: int) -> float | None:
    return float(round(value, places)) if value is not None else None


def _car_parameter(cars: list[Car]) -> dict[Any, Any]:
    names = ", ".join(car.name for car in cars)
    return {
        probatio.Optional(
            ATTR_CAR,
            description=(
                f"The car's name (or its area's) as the user says it; leave out for every car. "
                f"Cars: {names}."
            ),
        ): cv.string
    }


class _CarTool(Tool):
    """A tool about one car, or every car when none is named."""

    integration = DOMAIN
    annotations = _READ_ONLY

    def __init__(self, cars: list[Car]) -> None:
        """Offer the cars known now."""
        self.parameters = probatio.Schema(_car_parameter(cars))

    @override
    async def async_call(
        self, hass: HomeAssistant, tool_input: ToolInput, llm_context: LLMContext
    ) -> ToolResult:
        """Answer for the car asked for (the cars are looked up again: they may have changed)."""
        data = self.parameters(tool_input.tool_args)
        cars = _cars(hass)
        if (query := data.get(ATTR_CAR)) is not None:
            try:
                cars = [find_car(query, cars)]
            except CarNotFoundError as err:
                cars_told: list[JsonValueType] = [*err.cars]
                return ToolResult(data={"error": str(err), "cars": cars_told}, error=True)
        now = dt_util.utcnow()
        return ToolResult(
            data={"cars": [{"car": car.name, **self._answer(car, now)} for car in cars]}
        )

    def _answer(self, car: Car, now: datetime) -> dict[str, Any]:
        """Return what the tool tells about one car."""
        raise NotImplementedError


class ChargePlanTool(_CarTool):
    """When a car will charge, how much, at what cost and CO2, and whether it will be ready."""

    name = f"{DOMAIN}__get_charge_plan"
    title = "Get an electric car's charging plan"
    description = (
        "Tells when an electric car will charge and what it will cost: the next start, the "
        "planned end, energy (kWh), cost (in the currency given), CO2 (kg) and each planned "
        "slot of what remains of ev.energy's plan, and whether the car reaches its charge "
        "limit by the ready-by time when that is known. Times are ISO 8601 in local time."
    )

    def _answer(self, car: Car, now: datetime) -> dict[str, Any]:
        runtime = car.entry.runtime_data
        vehicle = runtime.live.data.vehicles[car.vehicle_id]
        plan = runtime.plans.plan_for(car.vehicle_id)
        status = vehicle.status
        check = ready_by_check(
            plan,
            now,
            state_of_charge=status.state_of_charge_percentage if status else None,
            limit=vehicle.maximum_charge_limit_percentage,
            battery_watt_hours=vehicle.battery_size_watt_hours,
        )
        return {
            "plugged_in": status.is_plugged_in if status else None,
            "charging_planned_now": plan.active(now) is not None,
            "next_start": _when(plan.next_start(now)),
            "planned_end": _when(plan.planned_end(now)),
            **charge_plan_answer(
                runtime.plans, car.vehicle_id, now, dt_util.get_default_time_zone()
            ),
            "state_of_charge": status.state_of_charge_percentage if status else None,
            "charge_limit": vehicle.maximum_charge_limit_percentage,
            "reaches_charge_limit_by_ready_by": check.reaches_limit if check else None,
            "energy_needed_kwh": _number(check.needed_kwh, 3) if check else None,
            "energy_planned_by_ready_by_kwh": _number(check.planned_kwh, 3) if check else None,
        }


class ChargingStatusTool(_CarTool):
    """Why a car is or is not charging, and what to do about it."""

    name = f"{DOMAIN}__get_charging_status"
    title = "Get why an electric car is or is not charging"
    description = (
        "Tells why an electric car is or is not charging (ev.energy's charging status), with "
        "what the user can do about it, and the next planned start while it waits for one."
    )

    def _answer(self, car: Car, now: datetime) -> dict[str, Any]:
        runtime = car.entry.runtime_data
        data = runtime.live.data
        vehicle = data.vehicles[car.vehicle_id]
        explanation = explain(
            vehicle,
            session=(runtime.sessions.data or {}).get(car.vehicle_id),
            evses=data.evses,
            plan=runtime.plans.plan_for(car.vehicle_id),
            now=now,
        )
        state = explanation.state if explanation else None
        meaning, advice = STATUS_HINTS[state]
        return {
            "status": state.value if state else "unknown",
            "explanation": meaning,
            "what_to_do": advice,
            "next_charge_start": _when(explanation.next_charge_start if explanation else None),
            "state_of_charge": (
                vehicle.status.state_of_charge_percentage if vehicle.status else None
            ),
            "smart_charging": vehicle.smart_charging_enabled,
        }


class PricesTool(Tool):
    """Today's and tomorrow's prices per hour, the price now and the cheapest window ahead."""

    name = f"{DOMAIN}__get_prices"
    title = "Get electricity prices"
    description = (
        "Tells the electricity tariff's price now, today's and tomorrow's prices per hour "
        "(neighbouring hours of one price merged; tomorrow is empty until published) and the "
        "cheapest window of the given length among the known prices ahead. Prices are per kWh "
        "in the currency given; times are ISO 8601 in local time."
    )
    integration = DOMAIN
    annotations = _READ_ONLY
    parameters = probatio.Schema(
        {
            probatio.Optional(
                ATTR_HOURS,
                default=DEFAULT_WINDOW_HOURS,
                description="Length of the cheapest window to find, in hours.",
            ): probatio.All(probatio.Coerce(float), probatio.Range(min=0.5, max=24))
        }
    )

    @override
    async def async_call(
        self, hass: HomeAssistant, tool_input: ToolInput, llm_context: LLMContext
    ) -> ToolResult:
        """Answer for every loaded entry with a tariff."""
        window = timedelta(hours=self.parameters(tool_input.tool_args)[ATTR_HOURS])
        entries: list[EvEnergyConfigEntry] = hass.config_entries.async_loaded_entries(DOMAIN)
        return ToolResult(
            data={
                "accounts": [
                    _prices(entry, window)
                    for entry in entries
                    if entry.runtime_data.live.data.tariff is not None
                ]
            }
        )


def _prices(entry: EvEnergyConfigEntry, window: timedelta) -> dict[str, Any]:
    view = entry.runtime_data.prices.view
    schedule = view.schedule
    # The tariff's local days, as the price sensors count them (23 or 25 hours on DST days).
    day = view.at.astimezone(view.zone).date()
    today, tomorrow, after = (
        datetime.combine(day + timedelta(days=offset), time(), view.zone).astimezone(UTC)
        for offset in range(3)
    )
    cheapest = (
        schedule.cheapest_window(window, view.at, known_until)
        if (known_until := schedule.known_until) is not None
        else None
    )
    tariff = view.tariff
    return {
        "account": entry.title,
        "currency": tariff.currency if tariff else None,
        "unit": view.unit,
        "current_price": _number(view.current_price, 4),
        "today": _spans(hourly_prices(schedule, today, tomorrow)),
        "tomorrow": _spans(hourly_prices(schedule, tomorrow, after)),
        "cheapest_window": {
            "start": _when(cheapest.start),
            "end": _when(cheapest.end),
            "average_price": _number(cheapest.average, 4),
        }
        if cheapest
        else None,
    }


def _spans(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**span, "start": _when(span["start"]), "end": _when(span["end"])} for span in spans]


@callback
def async_get_tools(hass: HomeAssistant, llm_context: LLMContext, api_id: str) -> LLMTools | None:
    """Offer the tools to Assist while an ev.energy entry is loaded."""
    if api_id != LLM_API_ASSIST or not hass.config_entries.async_loaded_entries(DOMAIN):
        return None
    cars = _cars(hass)
    return LLMTools(
        tools=[ChargePlanTool(cars), ChargingStatusTool(cars), PricesTool()], prompt=PROMPT
    )
