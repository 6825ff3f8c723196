"""Charge finish time: a timestamp from the car's time to full, steady between polls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import math
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ev_energy.api import VehicleStatus
from custom_components.ev_energy.charge_finish import (
    finish_estimate,
    steady_finish,
    time_to_full_hours,
)

from .conftest import VEHICLE_ID, MockApi, move_to, setup_integration, state_of

FINISH = "sensor.family_car_charge_finish_time"
TIME_TO_FULL = "sensor.family_car_time_to_full"

pytestmark = pytest.mark.usefixtures("setup_credentials")


def _status(mock_api: MockApi) -> dict[str, Any]:
    status: dict[str, Any] = mock_api.vehicles[0]["latest_status_log"]
    return status


async def test_finish_time_is_the_sample_time_plus_time_to_full(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    """Sampled 09:58 with 105 minutes to go: full at 11:43; unknown for cars not charging."""
    await setup_integration(hass, config_entry)
    finish = state_of(hass, FINISH)
    assert finish.state == "2026-11-22T11:43:00+00:00"
    assert finish.attributes["device_class"] == "timestamp"
    assert state_of(hass, "sensor.van_charge_finish_time").state == STATE_UNKNOWN
    assert state_of(hass, "sensor.nissan_leaf_charge_finish_time").state == STATE_UNKNOWN


async def test_finish_time_is_steady_across_polls(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A revision of a minute or two writes nothing; a real change moves it; a stop clears it."""
    await setup_integration(hass, config_entry)
    written = state_of(hass, FINISH).last_reported

    # 10:10:40 + 94 min = 11:44:40, read as 11:45: two minutes off, so 11:43 stays.
    _status(mock_api).update(sampled_at="2026-11-22T10:10:40Z", minutes_to_full_charge=94)
    await move_to(hass, freezer, datetime(2026, 11, 22, 10, 11, 5, tzinfo=UTC))
    status = config_entry.runtime_data.live.data.vehicles[VEHICLE_ID].status
    assert status is not None
    assert status.sampled_at == datetime(2026, 11, 22, 10, 10, 40, tzinfo=UTC), "it was polled"
    finish = state_of(hass, FINISH)
    assert finish.state == "2026-11-22T11:43:00+00:00"
    assert finish.last_reported == written, "nothing new was written"

    # The charge slowed down: 150 minutes from 10:11:40 is 12:41:40, shown as 12:42.
    _status(mock_api).update(sampled_at="2026-11-22T10:11:40Z", minutes_to_full_charge=150)
    await move_to(hass, freezer, datetime(2026, 11, 22, 10, 12, 10, tzinfo=UTC))
    assert state_of(hass, FINISH).state == "2026-11-22T12:42:00+00:00"

    _status(mock_api).update(
        sampled_at="2026-11-22T10:12:40Z", is_charging=False, state="PLUGGED_IN_NOT_CHARGING"
    )
    await move_to(hass, freezer, datetime(2026, 11, 22, 10, 13, 15, tzinfo=UTC))
    assert state_of(hass, FINISH).state == STATE_UNKNOWN


@pytest.mark.parametrize(
    ("sampled", "minutes", "finish_utc", "finish_local"),
    [
        # 25 October 2026: 02:00 BST becomes 01:00 GMT. Sampled 01:30 BST, 90 minutes to go:
        # 02:00 GMT, not the 03:00 that adding 90 minutes to the local clock time would say.
        ("2026-10-25T00:30:00Z", 90, "2026-10-25T02:00:00+00:00", "2026-10-25T02:00:00+00:00"),
        # 28 March 2027: 01:00 GMT becomes 02:00 BST. Sampled 00:30 GMT, an hour to go.
        ("2027-03-28T00:30:00Z", 60, "2027-03-28T01:30:00+00:00", "2027-03-28T02:30:00+01:00"),
    ],
)
async def test_finish_time_across_a_dst_change(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
    sampled: str,
    minutes: int,
    finish_utc: str,
    finish_local: str,
) -> None:
    await hass.config.async_update(time_zone="Europe/London")
    freezer.move_to(datetime.fromisoformat(sampled) + timedelta(seconds=20))
    _status(mock_api).update(sampled_at=sampled, minutes_to_full_charge=minutes)
    await setup_integration(hass, config_entry)

    state = state_of(hass, FINISH).state
    assert state == finish_utc
    finish = dt_util.parse_datetime(state)
    assert finish is not None
    assert dt_util.as_local(finish).isoformat() == finish_local


def _frontend_minutes(state: str, unit: str) -> int:
    """Minutes the frontend shows for a duration sensor's state.

    Home Assistant's frontend (hass_frontend 20260930.5, the duration formatting in
    frontend_latest/21360.*.js) shows a duration in min, h or d as floor(value) of that unit
    and floor(60 x fraction) of the next smaller one: 219 min as "219m", 3.65 h as "3h 38m".
    """
    value = float(state)
    whole = math.floor(value)
    if unit == "min":
        return whole
    assert unit == "h"
    return whole * 60 + math.floor(60 * (value - whole))


async def test_time_to_full_reads_in_hours_and_minutes(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    """219 minutes show as 3 h 39 min: the frontend's reading of the state gives 219 again."""
    _status(mock_api)["minutes_to_full_charge"] = 219
    await setup_integration(hass, config_entry)
    state = state_of(hass, TIME_TO_FULL)
    assert state.attributes["unit_of_measurement"] == "h"
    assert state.attributes["device_class"] == "duration"
    assert _frontend_minutes(state.state, "h") == 219
    # 219 / 60 itself, a float just under 3.65, would read a minute short.
    assert _frontend_minutes(str(219 / 60), "h") == 218


def test_every_time_to_full_reads_back_as_its_minutes() -> None:
    """Each whole minute up to two days reads back exactly; a negative one is no estimate."""
    for minutes in range(2 * 24 * 60):
        hours = time_to_full_hours(minutes)
        assert hours is not None
        assert _frontend_minutes(str(hours), "h") == minutes
        assert abs(hours * 60 - minutes) <= 0.53
    assert time_to_full_hours(-5) is None
    assert time_to_full_hours(None) is None


def _charging(
    sampled: datetime, minutes: int | None, charging: bool | None = True
) -> VehicleStatus:
    return VehicleStatus(
        sampled_at=sampled,
        state_of_charge_percentage=50,
        is_charging=charging,
        is_plugged_in=True,
        charge_rate_watts=7000,
        minutes_to_full_charge=minutes,
        state=None,
        target_charge_level_percentage=80,
        odometer_meters=None,
        charge_level_watt_hours=None,
        charge_energy_added_watt_hours=None,
        is_complete=False,
    )


def test_finish_estimate_rounds_to_the_minute() -> None:
    sampled = datetime(2026, 11, 22, 9, 58, 29, tzinfo=UTC)
    assert finish_estimate(_charging(sampled, 105)) == datetime(2026, 11, 22, 11, 43, tzinfo=UTC)
    later = sampled + timedelta(seconds=1)
    assert finish_estimate(_charging(later, 105)) == datetime(2026, 11, 22, 11, 44, tzinfo=UTC)
    assert finish_estimate(_charging(sampled, 0)) == datetime(2026, 11, 22, 9, 58, tzinfo=UTC)
    assert finish_estimate(_charging(sampled, None)) is None
    assert finish_estimate(_charging(sampled, -5)) is None
    assert finish_estimate(_charging(sampled, 10**15)) is None
    assert finish_estimate(_charging(datetime.max.replace(tzinfo=UTC), 105)) is None
    assert finish_estimate(_charging(sampled, 105, charging=False)) is None
    assert finish_estimate(_charging(sampled, 105, charging=None)) is None
    assert finish_estimate(None) is None


def test_steady_finish_keeps_the_shown_time_within_five_minutes() -> None:
    shown = datetime(2026, 11, 22, 11, 43, tzinfo=UTC)
    minute = timedelta(minutes=1)
    assert steady_finish(shown, shown + 5 * minute) == shown
    assert steady_finish(shown, shown - 5 * minute) == shown
    assert steady_finish(shown, shown + 6 * minute) == shown + 6 * minute
    assert steady_finish(shown, shown - 6 * minute) == shown - 6 * minute
    assert steady_finish(None, shown) == shown
    assert steady_finish(shown, None) is None
