"""Octopus-style dispatch attributes of `charging_planned`, checked against what Predbat reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
import json
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.json import json_dumps
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.ev_energy.api import (
    ChargingMode,
    ChargingSession,
    PriceSchedule,
    ScheduleType,
    SubSession,
)
from custom_components.ev_energy.dispatches import (
    Dispatch,
    completed_dispatches,
    completed_expiry,
    planned_dispatches,
)
from custom_components.ev_energy.plan import ChargePlan, PlanSlot, Voltage, VoltageSource

from .conftest import NOW, VEHICLE_ID, MockApi, setup_integration, state_of

PLANNED = "binary_sensor.family_car_charging_planned"
LEAF_PLANNED = "binary_sensor.nissan_leaf_charging_planned"

# What Predbat reads (springfall2008/batpred v8.51.1): apps/predbat/fetch.py takes the
# attributes `completed_dispatches` and `planned_dispatches` of the entity named as
# `octopus_intelligent_slot`; apps/predbat/octopus.py `decode_octopus_slot` parses `start` and
# `end` with strptime(TIME_FORMAT) (apps/predbat/const.py), takes abs(float(charge_in_kwh)) and
# reads `source` and `location` as strings; `load_octopus_slots` and `rate_add_io_slots` count a
# slot only without a location or with AT_HOME, and never price a "bump-charge" at the low rate.
PREDBAT_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
PREDBAT_FIELDS: dict[str, type] = {
    "start": str,
    "end": str,
    "charge_in_kwh": float,
    "source": str,
    "location": str,
}
# The Octopus Energy integration's source values (BottlecapDave/HomeAssistant-OctopusEnergy,
# custom_components/octopus_energy/const.py INTELLIGENT_SOURCE_*_OPTIONS).
OCTOPUS_SOURCES = {"smart-charge", "smart", "bump-charge", "boost"}

pytestmark = pytest.mark.usefixtures("setup_credentials")


def _as_predbat_reads(dispatch: dict[str, Any]) -> tuple[datetime, datetime, float, str, str]:
    """Decode one dispatch the way Predbat does; fail on anything it could not read."""
    assert {key: type(value) for key, value in dispatch.items()} == PREDBAT_FIELDS
    start = datetime.strptime(dispatch["start"], PREDBAT_TIME_FORMAT)
    end = datetime.strptime(dispatch["end"], PREDBAT_TIME_FORMAT)
    assert dispatch["location"] in ("", "AT_HOME")
    assert dispatch["source"] in OCTOPUS_SOURCES
    return (
        start,
        end,
        abs(float(dispatch["charge_in_kwh"])),
        dispatch["source"],
        dispatch["location"],
    )


def _over_the_api(hass: HomeAssistant, entity_id: str) -> dict[str, Any]:
    """The attributes as Predbat gets them: the state serialised to JSON by Home Assistant."""
    attributes: dict[str, Any] = json.loads(json_dumps(state_of(hass, entity_id).as_dict()))[
        "attributes"
    ]
    return attributes


async def test_planned_dispatches_are_what_predbat_reads(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    """The plan's two slots, 13:00-14:00 and 22:30-23:30 at 7.6736 kW, as smart charges."""
    await setup_integration(hass, config_entry)
    attributes = _over_the_api(hass, PLANNED)

    assert [_as_predbat_reads(d) for d in attributes["planned_dispatches"]] == [
        (
            datetime(2026, 11, 22, 13, 0, tzinfo=UTC),
            datetime(2026, 11, 22, 14, 0, tzinfo=UTC),
            7.674,
            "smart-charge",
            "AT_HOME",
        ),
        (
            datetime(2026, 11, 22, 22, 30, tzinfo=UTC),
            datetime(2026, 11, 22, 23, 30, tzinfo=UTC),
            7.674,
            "smart-charge",
            "AT_HOME",
        ),
    ]
    # The family car's only recent session is still open: nothing completed yet.
    assert attributes["completed_dispatches"] == []
    assert attributes["type"] is None


async def test_completed_dispatches_are_the_last_days_sub_sessions(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    """The Leaf charged overnight: a smart stretch, then a boost, both within 24 hours."""
    await setup_integration(hass, config_entry)
    attributes = _over_the_api(hass, LEAF_PLANNED)

    assert attributes["planned_dispatches"] == []
    assert [_as_predbat_reads(d) for d in attributes["completed_dispatches"]] == [
        (
            datetime(2026, 11, 21, 22, 40, tzinfo=UTC),
            datetime(2026, 11, 22, 1, 10, tzinfo=UTC),
            15.5,
            "smart-charge",
            "AT_HOME",
        ),
        (
            datetime(2026, 11, 22, 1, 10, tzinfo=UTC),
            datetime(2026, 11, 22, 6, 55, tzinfo=UTC),
            8.0,
            "bump-charge",
            "AT_HOME",
        ),
    ]


async def test_dispatches_are_not_recorded(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    await setup_integration(hass, config_entry)
    state_info = state_of(hass, PLANNED).state_info
    assert state_info is not None
    assert {"planned_dispatches", "completed_dispatches"} <= state_info["unrecorded_attributes"]
    assert "type" not in state_info["unrecorded_attributes"]


async def test_a_new_completed_dispatch_is_written(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    """Only the sessions change (the plan and state stay): the attribute still updates."""
    await setup_integration(hass, config_entry)
    before = state_of(hass, PLANNED)
    session = mock_api.sessions[0]
    smart = session["sub_sessions"][0]
    session["sub_sessions"] = [
        {**smart, "id": "csub-BOOST", "mode": "BOOST", "end": "2026-11-22T09:00:00Z"},
        {**smart, "start": "2026-11-22T09:00:00Z"},
    ]
    session["sub_sessions"][0]["energy_delivered_watt_hours"] = 3500

    await config_entry.runtime_data.sessions.async_refresh()
    await hass.async_block_till_done()

    after = state_of(hass, PLANNED)
    assert after.state == before.state
    assert after.attributes["planned_dispatches"] == before.attributes["planned_dispatches"]
    assert after.attributes["completed_dispatches"] == [
        {
            "start": "2026-11-22T08:00:00+00:00",
            "end": "2026-11-22T09:00:00+00:00",
            "charge_in_kwh": 3.5,
            "source": "bump-charge",
            "location": "AT_HOME",
        }
    ]


def _plan(*slots: PlanSlot) -> ChargePlan:
    return ChargePlan(
        slots,
        voltage=Voltage(volts=Decimal(230), source=VoltageSource.COUNTRY),
        prices=PriceSchedule(),
        carbon_intensity=None,
    )


def _slot(start: str, end: str | None, kind: ScheduleType | None) -> PlanSlot:
    return PlanSlot(
        start=datetime.fromisoformat(start),
        end=datetime.fromisoformat(end) if end else None,
        current_milliamps=10000,
        type=kind,
    )


def test_planned_dispatches_keep_the_slot_in_progress_whole() -> None:
    """A slot in progress keeps its start and full energy: the list does not move each poll."""
    plan = _plan(
        _slot("2026-11-22T09:00:00+00:00", "2026-11-22T10:00:00+00:00", ScheduleType.SMART),
        _slot("2026-11-22T10:00:00+00:00", "2026-11-22T11:00:00+00:00", ScheduleType.SMART),
        _slot("2026-11-22T12:00:00+00:00", "2026-11-22T12:30:00+00:00", ScheduleType.BOOST),
        _slot("2026-11-22T13:00:00+00:00", "2026-11-22T14:00:00+00:00", None),
    )
    early = planned_dispatches(plan, NOW)
    assert planned_dispatches(plan, NOW + timedelta(minutes=17, seconds=3)) == early
    assert [(d["start"], d["charge_in_kwh"], d["source"]) for d in early] == [
        ("2026-11-22T10:00:00+00:00", 2.3, "smart-charge"),
        ("2026-11-22T12:00:00+00:00", 1.15, "bump-charge"),
        ("2026-11-22T13:00:00+00:00", 2.3, "smart-charge"),
    ]


def test_planned_dispatches_leave_out_what_is_no_timed_charge() -> None:
    """A boost without an end, and a V2G discharge, are no dispatch Predbat could read."""
    plan = _plan(
        _slot("2026-11-22T10:00:00+00:00", None, ScheduleType.BOOST),
    )
    assert planned_dispatches(plan, NOW) == []
    plan = _plan(
        _slot("2026-11-22T11:00:00+00:00", "2026-11-22T12:00:00+00:00", ScheduleType.V2G_DISCHARGE),
    )
    assert planned_dispatches(plan, NOW) == []


def _sub(
    start: datetime, end: datetime | None, mode: ChargingMode | None, watt_hours: int | None
) -> SubSession:
    return SubSession(
        id=None,
        start=start,
        end=end,
        mode=mode,
        energy_watt_hours=watt_hours,
        cost_minor_units=None,
        currency=None,
        co2_grams=None,
        savings_minor_units=None,
    )


def test_completed_dispatches_choose_ended_home_charging_of_the_last_day() -> None:
    hour = timedelta(hours=1)
    session = ChargingSession(
        id="cses",
        start=NOW - 30 * hour,
        end=None,
        vehicle_id=VEHICLE_ID,
        evse_id=None,
        sub_sessions=(
            # Ended 25 hours ago: too old.
            _sub(NOW - 30 * hour, NOW - 25 * hour, ChargingMode.SMART, 9000),
            # Fractional seconds are dropped: Predbat's format has none.
            _sub(
                NOW - 3 * hour,
                NOW - 2 * hour + timedelta(microseconds=5),
                ChargingMode.UNMANAGED_HOME,
                7000,
            ),
            _sub(NOW - 5 * hour, NOW - 4 * hour, ChargingMode.SMART, 4321),
            # On the go: not at home.
            _sub(NOW - 6 * hour, NOW - 5 * hour, ChargingMode.MANAGED_OTG, 5000),
            # No energy, unknown energy, unknown mode, still open.
            _sub(NOW - 2 * hour, NOW - hour, ChargingMode.SMART, 0),
            _sub(NOW - 2 * hour, NOW - hour, ChargingMode.SMART, None),
            _sub(NOW - 2 * hour, NOW - hour, None, 1000),
            _sub(NOW - hour, None, ChargingMode.SMART, 2000),
        ),
    )
    other_car = ChargingSession(
        id="other",
        start=None,
        end=None,
        vehicle_id="vhcl-other",
        evse_id=None,
        sub_sessions=(_sub(NOW - 2 * hour, NOW - hour, ChargingMode.SMART, 1000),),
    )
    assert completed_dispatches([other_car, session], VEHICLE_ID, NOW) == [
        {
            "start": "2026-11-22T05:10:00+00:00",
            "end": "2026-11-22T06:10:00+00:00",
            "charge_in_kwh": 4.321,
            "source": "smart-charge",
            "location": "AT_HOME",
        },
        {
            "start": "2026-11-22T07:10:00+00:00",
            "end": "2026-11-22T08:10:00+00:00",
            "charge_in_kwh": 7.0,
            "source": "bump-charge",
            "location": "AT_HOME",
        },
    ]


async def test_a_completed_dispatch_leaves_the_list_on_time(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """24 hours after its end a dispatch is no longer completed 'today', with no new data."""
    await setup_integration(hass, config_entry)
    first_end = datetime(2026, 11, 22, 1, 10, tzinfo=UTC)
    freezer.move_to(first_end + timedelta(hours=24, seconds=-1))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert len(state_of(hass, LEAF_PLANNED).attributes["completed_dispatches"]) == 2

    # No poll is due in these two seconds: only the entity's own timer can drop the dispatch.
    sent = len(mock_api.calls())
    freezer.tick(timedelta(seconds=2))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()

    assert len(mock_api.calls()) == sent
    completed = state_of(hass, LEAF_PLANNED).attributes["completed_dispatches"]
    assert [d["end"] for d in completed] == ["2026-11-22T06:55:00+00:00"]


def test_completed_expiry_is_24_hours_after_the_oldest_end() -> None:
    assert completed_expiry([]) is None
    dispatches: list[Dispatch] = [
        {"start": "2026-11-22T00:00:00+00:00", "end": "2026-11-22T02:00:00+00:00"},
        {"start": "2026-11-21T22:00:00+00:00", "end": "2026-11-22T01:00:00+00:00"},
    ]
    assert completed_expiry(dispatches) == datetime(2026, 11, 23, 1, tzinfo=UTC)
