"""Session energy in Home Assistant's long-term statistics (the Energy dashboard).

Every test runs the recorder for real: the sensor's states are recorded, 5-minute and hourly
statistics are compiled from them, and the compiled `sum` must equal the energy delivered since
statistics began (the first figure is the zero point), whatever happened in between.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial
from http import HTTPStatus
from typing import Any, cast

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder.core import Recorder
from homeassistant.components.recorder.statistics import (
    get_last_short_term_statistics,
    statistics_during_period,
)
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import restore_state
from homeassistant.helpers.recorder import get_instance
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_mock_load_restore_state_from_storage,
    async_mock_restore_state_shutdown_restart,
    load_json_array_fixture,
)
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
    do_adhoc_statistics,
)

from .conftest import (
    API,
    NO_MORE_PAGES,
    NOW,
    SESSIONS_URL,
    VEHICLE_ID,
    Fault,
    MockApi,
    setup_integration,
    state_of,
)

ENERGY = "sensor.family_car_session_energy"
SESSION_A = "cses01HSH04KDEWF6Z4DB2J77J7AAA"
SESSION_B = "cses01HSH04KDEWF6Z4DB2J77J7DDD"
A_START = "2026-11-22T08:00:00+00:00"
OUTAGES = ["sessions_failing", "reload", "restart"]

type Outage = Callable[[], Awaitable[None]]


def _session(session_id: str, start: str | None, *watt_hours: int) -> dict[str, Any]:
    """A family-car session with one sub-session per energy figure."""
    template = cast("dict[str, Any]", load_json_array_fixture("charging_sessions.json")[0])
    sub = template["sub_sessions"][0]
    return {
        **template,
        "id": session_id,
        "start": start,
        "sub_sessions": [
            {**sub, "id": f"csub{session_id[4:-1]}{index}", "energy_delivered_watt_hours": wh}
            for index, wh in enumerate(watt_hours)
        ],
    }


def _family_car(mock_api: MockApi, *sessions: dict[str, Any]) -> None:
    """Make `sessions` the family car's only ones; other vehicles keep theirs."""
    others = [s for s in mock_api.sessions if not s["vehicle"].endswith(VEHICLE_ID)]
    mock_api.sessions[:] = [*sessions, *others]


class Timeline:
    """Drives one test: 5-minute periods, each read mid-way and then compiled."""

    def __init__(
        self,
        hass: HomeAssistant,
        freezer: FrozenDateTimeFactory,
        entry: MockConfigEntry,
        mock_api: MockApi,
    ) -> None:
        """Start at the test instant NOW (a 5-minute boundary)."""
        self.hass, self.freezer, self.entry, self.mock_api = hass, freezer, entry, mock_api
        self.sums: list[float] = []

    async def period(self, *, read: bool = True) -> None:
        """Let one period pass: sessions are read 2 minutes in, then its statistics compiled."""
        start = dt_util.utcnow()
        assert (start.minute % 5, start.second, start.microsecond) == (0, 0, 0)
        self.freezer.tick(timedelta(minutes=2))
        if read:
            await self.entry.runtime_data.sessions.async_refresh()
            await self.hass.async_block_till_done()
        self.freezer.move_to(start + timedelta(minutes=5))
        do_adhoc_statistics(self.hass, start=start)
        await async_wait_recording_done(self.hass)
        self.sums.append(await self.last_sum())

    async def last_sum(self) -> float:
        """The sum of the latest compiled 5-minute statistics."""
        stats = await get_instance(self.hass).async_add_executor_job(
            get_last_short_term_statistics, self.hass, 1, ENERGY, True, {"sum"}
        )
        return round(stats[ENERGY][0]["sum"] or 0.0, 3)

    async def outage(self, kind: str) -> None:
        """One period in which sessions cannot be read, ended by setting the entry up again."""
        if kind == "sessions_failing":
            # Failing for the whole period, catch-up reads included.
            self.mock_api.fail(SESSIONS_URL, Fault(status=HTTPStatus.BAD_GATEWAY), times=10)
            await self.period()
            assert state_of(self.hass, ENERGY).state == "unavailable"
            del self.mock_api.faults[SESSIONS_URL]
            return
        if kind == "reload":
            # A reload restores from memory (and reads sessions at once).
            await self.period(read=False)
            assert await self.hass.config_entries.async_reload(self.entry.entry_id)
            await self.hass.async_block_till_done()
            return
        # A restart: Home Assistant is down for a period, then restores from storage.
        assert await self.hass.config_entries.async_unload(self.entry.entry_id)
        await self.hass.async_block_till_done()
        await self.period(read=False)
        await async_mock_restore_state_shutdown_restart(self.hass)
        assert await self.hass.config_entries.async_setup(self.entry.entry_id)
        await self.hass.async_block_till_done()

    async def finish(self) -> float:
        """Run idle periods past 11:00 and return the 10:00-11:00 hourly sum."""
        while dt_util.utcnow() < NOW.replace(hour=11):
            await self.period()
        stats = await get_instance(self.hass).async_add_executor_job(
            partial(
                statistics_during_period,
                self.hass,
                NOW.replace(minute=0),
                NOW.replace(hour=11),
                {ENERGY},
                "hour",
                None,
                {"sum"},
            )
        )
        (hour,) = stats[ENERGY]
        return round(hour["sum"] or 0.0, 3)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(
    recorder_mock: Recorder, enable_custom_integrations: None
) -> None:
    """Start the recorder before Home Assistant (it must), then load ev_energy."""


@pytest.fixture(autouse=True)
def no_charging_history(mock_api: MockApi) -> None:
    """With the recorder running the history import lists sub-sessions: here there are none."""
    mock_api._endpoint(
        "get", f"{API}/charging_sub_sessions", lambda *_: ([], {"Link": NO_MORE_PAGES})
    )


@pytest.fixture
async def timeline(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> Timeline:
    """The integration set up with session A at 12.4 kWh: the statistics' zero point."""
    _family_car(mock_api, _session(SESSION_A, A_START, 12400))
    await setup_integration(hass, config_entry)
    line = Timeline(hass, freezer, config_entry, mock_api)
    await line.period()
    _family_car(mock_api, _session(SESSION_A, A_START, 12400, 2600))
    await line.period()
    assert line.sums == [0.0, 2.6]
    return line


def _last_reset(hass: HomeAssistant) -> datetime | None:
    value = state_of(hass, ENERGY).attributes.get("last_reset")
    return dt_util.parse_datetime(value) if value else None


@pytest.mark.usefixtures("setup_credentials")
@pytest.mark.parametrize("outage", OUTAGES)
async def test_missed_session_start_counts_the_whole_session(
    hass: HomeAssistant, timeline: Timeline, mock_api: MockApi, outage: str
) -> None:
    """A session first seen at 16 kWh, just above the last one's 15 kWh, adds 16 kWh."""
    _family_car(
        mock_api,
        _session(SESSION_B, "2026-11-22T10:21:00Z", 16000),
        {**_session(SESSION_A, A_START, 12400, 2600), "end": "2026-11-22T10:20:00Z"},
    )
    await timeline.outage(outage)
    await timeline.period()
    assert state_of(hass, ENERGY).state == "16.0"
    assert _last_reset(hass) == datetime.fromisoformat("2026-11-22T10:21:00Z")
    _family_car(mock_api, _session(SESSION_B, "2026-11-22T10:21:00Z", 16000, 4000))
    await timeline.period()

    assert timeline.sums == [0.0, 2.6, 2.6, 18.6, 22.6]
    assert await timeline.finish() == 22.6


@pytest.mark.usefixtures("setup_credentials")
@pytest.mark.parametrize("outage", OUTAGES)
async def test_late_lower_figure_ignored_after_outage(
    hass: HomeAssistant, timeline: Timeline, mock_api: MockApi, outage: str
) -> None:
    """After a reload or restart, the same session's lower figure neither drops nor resets."""
    _family_car(mock_api, _session(SESSION_A, A_START, 12400))
    await timeline.outage(outage)
    await timeline.period()
    assert state_of(hass, ENERGY).state == "15.0"
    assert _last_reset(hass) == datetime.fromisoformat(A_START)
    _family_car(mock_api, _session(SESSION_A, A_START, 12400, 3600))
    await timeline.period()

    assert timeline.sums == [0.0, 2.6, 2.6, 2.6, 3.6]
    assert await timeline.finish() == 3.6


@pytest.mark.usefixtures("setup_credentials")
async def test_session_without_start_keeps_its_cycle_across_restart(
    hass: HomeAssistant, timeline: Timeline, mock_api: MockApi
) -> None:
    """A session with no start begins its cycle when first seen, and keeps it on restart."""
    _family_car(mock_api, _session(SESSION_B, None, 14000))
    await timeline.period()
    first_seen = _last_reset(hass)
    assert first_seen == NOW + timedelta(minutes=12)
    await timeline.outage("restart")
    _family_car(mock_api, _session(SESSION_B, None, 14000, 1000))
    await timeline.period()
    assert state_of(hass, ENERGY).state == "15.0"
    assert _last_reset(hass) == first_seen

    assert timeline.sums == [0.0, 2.6, 16.6, 16.6, 17.6]
    assert await timeline.finish() == 17.6


@pytest.mark.usefixtures("setup_credentials")
async def test_older_session_reappearing_is_not_counted_again(
    hass: HomeAssistant, timeline: Timeline, mock_api: MockApi
) -> None:
    """If the newest session briefly vanishes from the list, the older one is not re-added."""
    session_b = _session(SESSION_B, "2026-11-22T10:21:00Z", 2000)
    session_a = {**_session(SESSION_A, A_START, 12400, 2600), "end": "2026-11-22T10:20:00Z"}
    _family_car(mock_api, session_b, session_a)
    await timeline.period()
    _family_car(mock_api, session_a)
    await timeline.period()
    assert state_of(hass, ENERGY).state == "2.0"
    _family_car(mock_api, _session(SESSION_B, "2026-11-22T10:21:00Z", 3000), session_a)
    await timeline.period()

    assert timeline.sums == [0.0, 2.6, 4.6, 4.6, 5.6]
    assert await timeline.finish() == 5.6


@pytest.mark.usefixtures("setup_credentials")
@pytest.mark.parametrize(
    ("extra_data", "state", "last_reset"),
    [
        (
            {
                "session_id": SESSION_A,
                "session_start": A_START,
                "cycle_start": A_START,
                "energy_watt_hours": 16000,
            },
            "16.0",
            A_START,
        ),
        ({"native_value": 16.0, "native_unit_of_measurement": "kWh"}, "12.4", A_START),
    ],
    ids=["restored", "unreadable"],
)
async def test_start_from_restored_meter(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    extra_data: dict[str, Any],
    state: str,
    last_reset: str,
) -> None:
    """Home Assistant starts with the stored meter; data it cannot read starts afresh."""
    # Stored the way Home Assistant saves it at shutdown and loaded by its own loader, which
    # indexes stored states differently across versions (by registry entry from 2026.11).
    hass_storage[restore_state.STORAGE_KEY] = {
        "version": restore_state.STORAGE_VERSION,
        "key": restore_state.STORAGE_KEY,
        "data": [
            {
                "state": State(ENERGY, "16.0").as_dict(),
                "extra_data": extra_data,
                "last_seen": dt_util.utcnow().isoformat(),
            }
        ],
    }
    await async_mock_load_restore_state_from_storage(hass)
    await setup_integration(hass, config_entry)
    assert state_of(hass, ENERGY).state == state
    assert state_of(hass, ENERGY).attributes["last_reset"] == last_reset
