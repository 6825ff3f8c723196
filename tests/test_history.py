"""Charging history in HA's real recorder: hour-exact, idempotent, revisable, within budget."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import logging
import time
from typing import Any, cast
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder.core import Recorder
from homeassistant.components.recorder.models import StatisticMetaData
from homeassistant.components.recorder.statistics import (
    list_statistic_ids,
    statistics_during_period,
)
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers.recorder import get_instance
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    load_json_array_fixture,
    load_json_object_fixture,
)
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)
from yarl import URL

from custom_components.ev_energy.const import (
    CONF_CLEAR_HISTORY_ON_REMOVE,
    CONF_HISTORY_DAYS,
)
from custom_components.ev_energy.history import ChargingHistory

from .conftest import (
    API,
    NO_MORE_PAGES,
    VEHICLE_ID,
    Fault,
    InPlace,
    MockApi,
    setup_integration,
    submit_settings,
)

SUBS_URL = f"{API}/charging_sub_sessions"
OVERNIGHT = "csub01HSH04KDEWF6Z4DB2J77J7BB1"
OPEN = "csub01HSH04KDEWF6Z4DB2J77J7AA1"
STAT = f"ev_energy:{VEHICLE_ID.lower()}_charging_"
ENERGY, METER, COST, SAVINGS, CO2 = (
    STAT + suffix for suffix in ("energy", "meter_energy", "cost", "savings", "co2")
)
COST_EUR, SAVINGS_EUR = COST + "_eur", SAVINGS + "_eur"
# Billed in euros; its id is the newest of the vehicle's sub-sessions.
EURO = "csub01HSH04KDEWF6Z4DB2J77J7EE1"


@pytest.fixture
def mock_recorder_before_hass(async_test_recorder: object) -> None:
    """Prepare the recorder's database before `hass` starts (phcc's documented hook)."""


def _iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@dataclass
class HistoryApi:
    """Sub-sessions and their energy usage on top of MockApi; requests are timed."""

    mock_api: MockApi
    subs: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[datetime, str, dict[str, str]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        """Answer the list, paging by 100 with Link headers like the API."""
        self.mock_api._endpoint("get", SUBS_URL, self._list)

    def _list(self, url: URL, _: object) -> tuple[Any, dict[str, str]]:
        query = dict(url.query)
        self.requests.append((dt_util.utcnow(), "list", query))
        items = sorted(self.subs, key=lambda s: s["id"], reverse=True)
        if "end__gt" in query:
            since = _utc(query["end__gt"])
            items = [s for s in items if s["end"] and _utc(s["end"]) > since]
        if "is_finished" in query:
            finished = query["is_finished"] == "true"
            items = [s for s in items if (s["end"] is not None) == finished]
        if after := query.get("page_after"):
            items = [s for s in items if s["id"] < after]
        page = items[:100]
        if len(items) > 100:
            link = f'<{url.update_query(page_after=page[-1]["id"])}>; rel="next"'
            return page, {"Link": link}
        return page, {"Link": NO_MORE_PAGES}

    def add(self, sub: dict[str, Any], usage: dict[str, Any]) -> None:
        """Publish a sub-session and its energy usage."""
        if sub["id"] not in self.usage:
            url = f"{SUBS_URL}/{sub['id']}/energy_usage"
            self.mock_api._endpoint("get", url, self._usage_of(sub["id"]))
        self.subs = [s for s in self.subs if s["id"] != sub["id"]] + [sub]
        self.usage[sub["id"]] = usage

    def _usage_of(self, sub_id: str) -> Callable[[URL, object], tuple[Any, dict[str, str]]]:
        def answer(url: URL, _: object) -> tuple[Any, dict[str, str]]:
            self.requests.append((dt_util.utcnow(), sub_id, {}))
            return self.usage[sub_id], {}

        return answer

    def usage_fetches(self, sub_id: str | None = None) -> int:
        """How many energy usage requests were sent (for one sub-session)."""
        return sum(1 for _, what, _ in self.requests if what != "list" and sub_id in (None, what))


def _fixture_subs() -> dict[str, dict[str, Any]]:
    subs = cast("list[dict[str, Any]]", load_json_array_fixture("charging_sub_sessions.json"))
    return {sub["id"]: sub for sub in subs}


def _interval(start: datetime, wh: int, price: str = "10", alt: int | None = None) -> Any:
    return {
        "interval_seconds": 1800,
        "started_at": _iso(start),
        "total_energy_delivered_watt_hours": wh,
        "meter_usage_watt_hours": None,
        "alt_usage_watt_hours": alt,
        "percentage_import": 100,
        "electricity_cost_sub_unit": price,
    }


def _usage(sub_id: str, intervals: list[Any]) -> dict[str, Any]:
    return {
        "url": f"{SUBS_URL}/{sub_id}/energy_usage",
        "currency": "GBP",
        "charging_sub_session": f"{SUBS_URL}/{sub_id}",
        "intervals": intervals,
        "last_updated_at": None,
    }


def _open_usage(until: datetime, charging_until: datetime) -> dict[str, Any]:
    """The open sub-session from 08:00: 3.5 kWh per half hour while charging."""
    start = datetime(2026, 11, 22, 8, tzinfo=UTC)
    count = int((until - start) / timedelta(minutes=30))
    return _usage(
        OPEN,
        [
            _interval(
                start + k * timedelta(minutes=30),
                3500 if start + k * timedelta(minutes=30) < charging_until else 0,
            )
            for k in range(count)
        ],
    )


def _finished(sub_id: str, start: datetime, end: datetime, **fields: Any) -> dict[str, Any]:
    """A finished sub-session of the vehicle, like the overnight one, with these fields."""
    return {
        **_fixture_subs()[OVERNIGHT],
        "id": sub_id,
        "start": _iso(start),
        "end": _iso(end),
        **fields,
    }


@pytest.fixture
def history_api(mock_api: MockApi) -> HistoryApi:
    """The overnight sub-session (from the fixtures) and the open one charging since 08:00."""
    api = HistoryApi(mock_api)
    subs = _fixture_subs()
    api.add(subs[OVERNIGHT], cast("dict[str, Any]", load_json_object_fixture("energy_usage.json")))
    open_usage = _open_usage(
        datetime(2026, 11, 22, 10, tzinfo=UTC), datetime(2026, 11, 23, tzinfo=UTC)
    )
    api.add({**subs[OPEN], "energy_delivered_watt_hours": 14000}, open_usage)
    return api


async def _hours(hass: HomeAssistant, statistic_id: str) -> dict[str, tuple[float, float]]:
    """The recorder's hourly rows: UTC 'DD HH' -> (state, sum), rounded."""
    await async_wait_recording_done(hass)
    rows = await get_instance(hass).async_add_executor_job(
        statistics_during_period,
        hass,
        datetime(2026, 1, 1, tzinfo=UTC),
        None,
        {statistic_id},
        "hour",
        None,
        {"state", "sum"},
    )
    return {
        dt_util.utc_from_timestamp(row["start"]).strftime("%m-%d %H"): (
            round(row["state"] or 0, 6),
            round(row["sum"] or 0, 6),
        )
        for row in rows.get(statistic_id, [])
    }


async def _statistics(hass: HomeAssistant) -> dict[str, dict[str, Any]]:
    """The recorder's statistics of the vehicle, by id."""
    await async_wait_recording_done(hass)
    listed = await get_instance(hass).async_add_executor_job(list_statistic_ids, hass)
    return {s["statistic_id"]: s for s in listed if s["statistic_id"].startswith(STAT)}


def _bill(api: HistoryApi, currency: str, cost: int) -> None:
    """Publish the EURO sub-session: 3 kWh at 50 minor units from 02:00 on 20 November."""
    start = datetime(2026, 11, 20, 2, tzinfo=UTC)
    interval = {**_interval(start, 3000, price="50", alt=5000), "interval_seconds": 3600}
    api.add(
        _finished(
            EURO,
            start,
            start + timedelta(hours=1),
            energy_delivered_watt_hours=3000,
            cost=cost,
            currency=currency,
        ),
        {**_usage(EURO, [interval]), "currency": currency},
    )


# Listed together, fetched in this order (newest id first).
BATCH = (
    "csub01HSH04KDEWF6Z4DB2J77J7CC3",
    "csub01HSH04KDEWF6Z4DB2J77J7CC2",
    "csub01HSH04KDEWF6Z4DB2J77J7CC1",
)


def _charge(api: HistoryApi, sub_id: str, start: datetime, wh: int) -> None:
    """Publish a finished sub-session delivering `wh` in the hour from `start`."""
    api.add(
        _finished(sub_id, start, start + timedelta(hours=1), energy_delivered_watt_hours=wh),
        _usage(sub_id, [{**_interval(start, wh), "interval_seconds": 3600}]),
    )


async def _hold_mid_batch(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, mock_api: MockApi, api: HistoryApi
) -> tuple[str, asyncio.Event]:
    """Let a tick of the interval timer list BATCH; hold the second one's answer.

    Return its URL and the event releasing it (the first one is fetched by then).
    """
    for k, sub_id in enumerate(BATCH):
        _charge(api, sub_id, datetime(2026, 11, 20, 1 + k, tzinfo=UTC), 1000)
    url = f"{SUBS_URL}/{BATCH[1]}/energy_usage"
    gate = mock_api.hold(url)
    await async_wait_recording_done(hass)
    freezer.tick(timedelta(minutes=30))
    async_fire_time_changed(hass)
    await mock_api.wait_held(url)
    assert api.usage_fetches(BATCH[0]) == 1
    return url, gate


async def _tick(hass: HomeAssistant, freezer: FrozenDateTimeFactory, minutes: int = 5) -> None:
    # Ticks are minutes apart: the recorder has long written the previous tick's rows.
    await async_wait_recording_done(hass)
    freezer.tick(timedelta(minutes=minutes))
    async_fire_time_changed(hass)
    # The interval timer runs the tick as a background task.
    await hass.async_block_till_done(wait_background_tasks=True)


OVERNIGHT_ENERGY = {
    "11-21 21": (0.0, 0.0),
    "11-21 22": (3.5, 3.5),
    "11-21 23": (7.0, 10.5),
    "11-22 00": (7.0, 17.5),
    "11-22 01": (7.0, 24.5),
    **{f"11-22 {h:02}": (0.0, 24.5) for h in range(2, 7)},
}


@pytest.mark.usefixtures("setup_credentials")
async def test_overnight_session_lands_in_its_hours(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    history_api: HistoryApi,
) -> None:
    """Energy, meter energy, cost, savings and CO2 land hour by hour across midnight."""
    await setup_integration(hass, config_entry)

    assert await _hours(hass, ENERGY) == {
        # Before midnight: nothing flowed 21:00-22:30 (smart charging waited for 7.5p).
        **OVERNIGHT_ENERGY,
        # The open sub-session, charging since 08:00.
        "11-22 08": (7.0, 31.5),
        "11-22 09": (7.0, 38.5),
    }
    meter = await _hours(hass, METER)
    assert meter["11-21 22"] == (3.85, 3.85)
    assert meter["11-22 01"] == (7.7, 26.95)
    assert "11-22 08" not in meter  # the open sub-session reports no meter energy
    cost = await _hours(hass, COST)
    assert [cost[h] for h in ("11-21 22", "11-21 23", "11-22 00", "11-22 01")] == [
        (0.2625, 0.2625),
        (0.525, 0.7875),
        (0.525, 1.3125),
        (0.525, 1.8375),  # = the sub-session's 184 p, unrounded
    ]
    # Charging at once would have cost 23p/kWh from 21:00; it charged later at 7.5p.
    savings = await _hours(hass, SAVINGS)
    assert [savings[h][0] for h in ("11-21 21", "11-21 22", "11-21 23", "11-22 00")] == [
        1.61,
        0.805,
        0.0,
        -0.2625,
    ]
    assert savings["11-22 06"][1] == pytest.approx(1.6275)
    co2 = await _hours(hass, CO2)
    assert co2["11-21 23"] == (0.7, 1.05)  # 2450 g over 24.5 kWh = 0.1 kg/kWh

    ids = {
        s["statistic_id"]: s
        for s in await get_instance(hass).async_add_executor_job(list_statistic_ids, hass)
    }
    assert ids[ENERGY]["statistics_unit_of_measurement"] == "kWh"
    assert ids[ENERGY]["source"] == "ev_energy"
    assert ids[ENERGY]["name"] == "Family car charging energy"
    assert ids[COST]["statistics_unit_of_measurement"] == "GBP"
    assert ids[CO2]["statistics_unit_of_measurement"] == "kg"
    assert ids[ENERGY]["has_sum"] is True
    # The Energy dashboard's device picker lists only sums whose unit class is energy.
    assert ids[ENERGY]["unit_class"] == ids[METER]["unit_class"] == "energy"


@pytest.mark.usefixtures("setup_credentials")
async def test_ha_down_during_the_session_catches_up(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    config_entry: MockConfigEntry,
    history_api: HistoryApi,
) -> None:
    """Stopped mid-charge, started hours later: the missed hours land where energy flowed."""
    await setup_integration(hass, config_entry)
    assert (await _hours(hass, ENERGY))["11-22 09"] == (7.0, 38.5)
    assert await hass.config_entries.async_unload(config_entry.entry_id)

    # Home Assistant is down while the car charges until 12:30 and is unplugged at 13:00.
    freezer.move_to(datetime(2026, 11, 22, 20, 0, tzinfo=UTC))
    subs = _fixture_subs()
    end = datetime(2026, 11, 22, 13, tzinfo=UTC)
    history_api.add(
        {**subs[OPEN], "end": _iso(end), "energy_delivered_watt_hours": 31500},
        _open_usage(end, datetime(2026, 11, 22, 12, 30, tzinfo=UTC)),
    )
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)

    hours = await _hours(hass, ENERGY)
    assert {h: v for h, v in hours.items() if h >= "11-22 08"} == {
        "11-22 08": (7.0, 31.5),
        "11-22 09": (7.0, 38.5),
        "11-22 10": (7.0, 45.5),
        "11-22 11": (7.0, 52.5),
        "11-22 12": (3.5, 56.0),
    }
    assert history_api.usage_fetches(OVERNIGHT) == 1


@pytest.mark.usefixtures("setup_credentials")
async def test_open_sub_session_is_refreshed_every_30_minutes_while_charging(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    config_entry: MockConfigEntry,
    history_api: HistoryApi,
) -> None:
    """Growing totals are re-read at the next listing; unchanged ones are not re-read."""
    await setup_integration(hass, config_entry)
    assert history_api.usage_fetches(OPEN) == 1
    subs = _fixture_subs()
    history_api.add(
        {**subs[OPEN], "energy_delivered_watt_hours": 21000},
        _open_usage(datetime(2026, 11, 22, 11, tzinfo=UTC), datetime(2026, 11, 23, tzinfo=UTC)),
    )
    await _tick(hass, freezer, 25)
    assert history_api.usage_fetches(OPEN) == 1  # not yet 30 minutes
    await _tick(hass, freezer)
    assert history_api.usage_fetches(OPEN) == 2
    assert (await _hours(hass, ENERGY))["11-22 10"] == (7.0, 45.5)
    # Plugged in but no longer charging: the totals stay, so nothing is fetched.
    await _tick(hass, freezer, 30)
    await _tick(hass, freezer, 30)
    assert history_api.usage_fetches(OPEN) == 2
    assert history_api.usage_fetches(OVERNIGHT) == 1


@pytest.mark.usefixtures("setup_credentials")
async def test_revised_interval_updates_its_hour_and_every_later_sum(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    config_entry: MockConfigEntry,
    history_api: HistoryApi,
) -> None:
    """ev.energy recalculates the 23:00 half hour (3.5 -> 2.0 kWh): later sums drop by 1.5."""
    await setup_integration(hass, config_entry)
    before = await _hours(hass, ENERGY)

    usage = cast("dict[str, Any]", load_json_object_fixture("energy_usage.json"))
    usage["intervals"][4]["total_energy_delivered_watt_hours"] = 2000
    sub = {**_fixture_subs()[OVERNIGHT], "energy_delivered_watt_hours": 23000}
    history_api.add(sub, usage)
    await _tick(hass, freezer, 30)

    after = await _hours(hass, ENERGY)
    assert after["11-21 22"] == before["11-21 22"] == (3.5, 3.5)
    assert after["11-21 23"] == (5.5, 9.0)
    for hour in ("11-22 00", "11-22 01", "11-22 06", "11-22 08", "11-22 09"):
        assert after[hour] == (before[hour][0], round(before[hour][1] - 1.5, 6)), hour
    assert history_api.usage_fetches(OVERNIGHT) == 2


@pytest.mark.usefixtures("setup_credentials")
async def test_recalculation_moving_energy_to_another_hour_empties_the_old_one(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
) -> None:
    """6 kWh at 01:00 become 5 kWh at 00:00: 01:00 goes to 0, in every quantity, sums follow.

    The recalculation also drops the meter reading and the price: meter energy, cost and savings
    vanish from 01:00 and go to 0 there.
    """
    api = HistoryApi(mock_api)
    midnight = datetime(2026, 11, 22, tzinfo=UTC)
    sub_id = "csub01HSH04KDEWF6Z4DB2J77J7DD1"
    later_id = "csub01HSH04KDEWF6Z4DB2J77J7DD2"
    first = {
        **_interval(midnight + timedelta(hours=1), 6000, alt=8000),
        "interval_seconds": 3600,
        "meter_usage_watt_hours": 6600,
    }
    api.add(
        _finished(
            sub_id,
            midnight,
            midnight + timedelta(hours=2),
            energy_delivered_watt_hours=6000,
            total_co2_grams=600,
        ),
        _usage(sub_id, [first]),
    )
    later = midnight + timedelta(hours=5)
    api.add(
        _finished(later_id, later, later + timedelta(hours=1), total_co2_grams=100),
        _usage(later_id, [{**_interval(later, 1000), "interval_seconds": 3600}]),
    )
    await setup_integration(hass, config_entry)
    assert await _hours(hass, ENERGY) == {"11-22 01": (6.0, 6.0), "11-22 05": (1.0, 7.0)}
    assert (await _hours(hass, COST))["11-22 01"] == (0.6, 0.6)

    recalculated = {
        **_interval(midnight, 5000),
        "interval_seconds": 3600,
        "electricity_cost_sub_unit": None,
    }
    api.add(
        _finished(
            sub_id,
            midnight,
            midnight + timedelta(hours=2),
            energy_delivered_watt_hours=5000,
            total_co2_grams=500,
        ),
        _usage(sub_id, [recalculated]),
    )
    await _tick(hass, freezer, 30)

    assert api.usage_fetches(sub_id) == 2
    assert await _hours(hass, ENERGY) == {
        "11-22 00": (5.0, 5.0),
        "11-22 01": (0.0, 5.0),
        "11-22 05": (1.0, 6.0),
    }
    assert await _hours(hass, CO2) == {
        "11-22 00": (0.5, 0.5),
        "11-22 01": (0.0, 0.5),
        "11-22 05": (0.1, 0.6),
    }
    assert (await _hours(hass, METER))["11-22 01"] == (0.0, 0.0)
    cost = await _hours(hass, COST)
    assert (cost["11-22 01"], cost["11-22 05"]) == ((0.0, 0.0), (0.1, 0.1))
    assert (await _hours(hass, SAVINGS))["11-22 01"] == (0.0, 0.0)


@pytest.mark.usefixtures("setup_credentials")
async def test_money_in_another_currency_is_counted_in_statistics_of_its_own(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    config_entry: MockConfigEntry,
    history_api: HistoryApi,
) -> None:
    """Cost already counted in GBP: a sub-session billed in EUR goes to `..._cost_eur`.

    Never 0.40 GBP + 1.50 EUR added up. The plain statistics keep the currency they have in
    the recorder (after a reload too), though the newest sub-session is billed in EUR.
    """
    await setup_integration(hass, config_entry)
    _bill(history_api, "EUR", 150)
    assert await hass.config_entries.async_reload(config_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    await _tick(hass, freezer, 30)

    assert history_api.usage_fetches(EURO) == 1
    assert await _hours(hass, COST_EUR) == {"11-20 02": (1.5, 1.5)}
    # (5 - 3 kWh) x 50 cents.
    assert await _hours(hass, SAVINGS_EUR) == {"11-20 02": (1.0, 1.0)}
    cost = await _hours(hass, COST)
    assert "11-20 02" not in cost
    assert cost["11-22 09"][1] == pytest.approx(1.8375 + 1.4)  # the overnight and the open one
    assert "11-20 02" not in await _hours(hass, SAVINGS)
    assert (await _hours(hass, ENERGY))["11-20 02"] == (3.0, 3.0)  # energy is energy
    statistics = await _statistics(hass)
    units = {i: (s["statistics_unit_of_measurement"], s["name"]) for i, s in statistics.items()}
    assert units[COST] == ("GBP", "Family car charging cost (GBP)")
    assert units[COST_EUR] == ("EUR", "Family car charging cost (EUR)")
    assert units[SAVINGS] == ("GBP", "Family car charging savings (GBP)")
    assert units[SAVINGS_EUR] == ("EUR", "Family car charging savings (EUR)")


@pytest.mark.usefixtures("setup_credentials")
async def test_a_sub_session_billed_again_in_another_currency_leaves_zero_in_the_old_one(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    config_entry: MockConfigEntry,
    history_api: HistoryApi,
) -> None:
    """Recalculated from 1.50 EUR to 1.50 GBP: its EUR hour goes to 0, the GBP sums grow."""
    await setup_integration(hass, config_entry)
    _bill(history_api, "EUR", 150)
    await _tick(hass, freezer, 30)
    assert await _hours(hass, COST_EUR) == {"11-20 02": (1.5, 1.5)}
    gbp_total = (await _hours(hass, COST))["11-22 09"][1]

    _bill(history_api, "GBP", 151)
    await _tick(hass, freezer, 30)

    assert history_api.usage_fetches(EURO) == 2
    assert await _hours(hass, COST_EUR) == {"11-20 02": (0.0, 0.0)}
    assert await _hours(hass, SAVINGS_EUR) == {"11-20 02": (0.0, 0.0)}
    cost = await _hours(hass, COST)
    assert cost["11-20 02"] == (1.5, 1.5)
    assert cost["11-22 09"][1] == pytest.approx(gbp_total + 1.5)
    assert (await _hours(hass, SAVINGS))["11-20 02"] == (1.0, 1.0)


@pytest.mark.usefixtures("setup_credentials")
async def test_reimport_is_idempotent(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    config_entry: MockConfigEntry,
    history_api: HistoryApi,
    hass_storage: dict[str, Any],
) -> None:
    """Listing again fetches nothing; losing the progress and importing again changes nothing."""
    await setup_integration(hass, config_entry)
    first = {sid: await _hours(hass, sid) for sid in (ENERGY, COST, SAVINGS, CO2, METER)}
    await _tick(hass, freezer, 30)
    assert history_api.usage_fetches() == 2

    assert await hass.config_entries.async_unload(config_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    del hass_storage[f"ev_energy.history.{config_entry.entry_id}"]
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)

    assert history_api.usage_fetches() == 4
    assert {sid: await _hours(hass, sid) for sid in first} == first


@pytest.mark.usefixtures("setup_credentials")
async def test_backfill_of_90_days_stays_within_a_tenth_of_the_limit(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Two sessions a day for 91 days: 90 days are imported, never >100 requests an hour."""
    api = HistoryApi(mock_api)
    now = dt_util.utcnow()
    expected_kwh = 0.0
    for day in range(91):
        for hour in (2, 14):
            start = (now - timedelta(days=day)).replace(hour=hour, minute=0) - timedelta(days=1)
            sub_id = f"csub{start:%Y%m%d%H}000000000000000000"
            end = start + timedelta(hours=1)
            api.add(
                {
                    **_fixture_subs()[OVERNIGHT],
                    "id": sub_id,
                    "start": _iso(start),
                    "end": _iso(end),
                },
                _usage(
                    sub_id, [_interval(start, 3000), _interval(start + timedelta(minutes=30), 4000)]
                ),
            )
            if end > now - timedelta(days=90):
                expected_kwh += 7.0
    caplog.set_level(logging.INFO, "custom_components.ev_energy.history")

    await setup_integration(hass, config_entry)
    for _ in range(12 * 4):
        await _tick(hass, freezer)

    times = sorted(at for at, _, _ in api.requests)
    busiest = max(
        sum(1 for t in times if start <= t < start + timedelta(hours=1)) for start in times
    )
    assert busiest <= 100
    assert len(times) > 100  # the backfill really needed more than one hour's share
    first_list = next(q for _, what, q in api.requests if "end__gt" in q)
    assert _utc(first_list["end__gt"]) == now - timedelta(days=90)
    hours = await _hours(hass, ENERGY)
    assert max(total for _, total in hours.values()) == pytest.approx(expected_kwh)
    assert api.usage_fetches() == int(expected_kwh / 7)
    progress = [r.message for r in caplog.records if "Charging history: imported" in r.message]
    assert len(progress) >= 10
    assert progress[-1].endswith("(0 left)")


@pytest.mark.usefixtures("setup_credentials")
async def test_backfill_resumes_after_a_restart(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
) -> None:
    """Stopped half-way, the backfill continues with what is left; nothing is fetched twice."""
    api = HistoryApi(mock_api)
    now = dt_util.utcnow()
    for day in range(1, 21):
        start = (now - timedelta(days=day)).replace(minute=0)
        sub_id = f"csub{start:%Y%m%d%H}000000000000000000"
        api.add(
            {
                **_fixture_subs()[OVERNIGHT],
                "id": sub_id,
                "start": _iso(start),
                "end": _iso(start + timedelta(hours=1)),
            },
            _usage(sub_id, [_interval(start, 1000)]),
        )
    await setup_integration(hass, config_entry)
    await _tick(hass, freezer)
    done = api.usage_fetches()
    assert 0 < done < 20
    assert await hass.config_entries.async_unload(config_entry.entry_id)
    await async_wait_recording_done(hass)

    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    for _ in range(4):
        await _tick(hass, freezer)
    assert api.usage_fetches() == 20
    assert {what for _, what, _ in api.requests if what != "list"} == {s["id"] for s in api.subs}
    hours = await _hours(hass, ENERGY)
    assert max(total for _, total in hours.values()) == pytest.approx(20.0)


@pytest.mark.usefixtures("setup_credentials")
async def test_bad_intervals_are_logged_once_and_skipped(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    config_entry: MockConfigEntry,
    history_api: HistoryApi,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A negative and an impossible interval are skipped; their neighbours still count."""
    start = datetime(2026, 11, 22, 8, tzinfo=UTC)
    bad = _usage(
        OPEN,
        [
            _interval(start, 3500),
            _interval(start + timedelta(minutes=30), -3500),
            _interval(start + timedelta(hours=1), 900_000),
            {"started_at": None, "interval_seconds": 1800},
            _interval(start + timedelta(hours=1, minutes=30), 3500, price="bad"),
        ],
    )
    history_api.add({**_fixture_subs()[OPEN], "energy_delivered_watt_hours": 7000}, bad)
    await setup_integration(hass, config_entry)
    hours = await _hours(hass, ENERGY)
    assert {h: v for h, v in hours.items() if h >= "11-22 08"} == {
        "11-22 08": (3.5, 28.0),
        "11-22 09": (3.5, 31.5),
    }
    cost = await _hours(hass, COST)
    assert cost["11-22 08"][0] == pytest.approx(0.35)
    assert "11-22 09" not in cost  # its one usable interval has an unreadable price
    history_api.add({**_fixture_subs()[OPEN], "energy_delivered_watt_hours": 7001}, bad)
    await _tick(hass, freezer, 30)
    assert history_api.usage_fetches(OPEN) == 2
    skipped = [r for r in caplog.records if r.message.startswith("Charging sub-session")]
    assert len(skipped) == 3
    assert config_entry.state is ConfigEntryState.LOADED


@pytest.mark.usefixtures("setup_credentials")
async def test_api_failure_pauses_the_import_and_loses_nothing(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    history_api: HistoryApi,
) -> None:
    """A failed energy usage request is retried on a later tick; entities are unaffected."""
    mock_api.fail(f"{SUBS_URL}/{OVERNIGHT}/energy_usage", Fault(status=503))
    await setup_integration(hass, config_entry)
    hours = await _hours(hass, ENERGY)
    assert (hours["11-22 08"], hours["11-22 09"]) == ((7.0, 7.0), (7.0, 14.0))
    assert "11-22 01" not in hours
    assert config_entry.state is ConfigEntryState.LOADED
    await _tick(hass, freezer)
    # The older sub-session lands before the newer one's hours, whose sums move up.
    hours = await _hours(hass, ENERGY)
    assert (hours["11-22 01"], hours["11-22 08"]) == ((7.0, 24.5), (7.0, 31.5))


@pytest.mark.usefixtures("setup_credentials")
@pytest.mark.parametrize(("clear", "kept"), [(False, True), (True, False)])
async def test_removing_the_entry_keeps_or_clears_the_statistics(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    history_api: HistoryApi,
    hass_storage: dict[str, Any],
    clear: bool,
    kept: bool,
) -> None:
    """The option decides, for every currency's statistics; the progress is forgotten either way.

    On a first import the newest sub-session's currency (here EUR) gets the plain ids.
    """
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        config_entry, options={CONF_CLEAR_HISTORY_ON_REMOVE: clear}
    )
    _bill(history_api, "EUR", 150)
    await setup_integration(hass, config_entry)
    imported = set(await _statistics(hass))
    assert imported == {ENERGY, METER, COST, SAVINGS, CO2, f"{COST}_gbp", f"{SAVINGS}_gbp"}
    await hass.config_entries.async_remove(config_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert set(await _statistics(hass)) == (imported if kept else set())
    for statistic in imported:
        assert bool(await _hours(hass, statistic)) is kept
    assert f"ev_energy.history.{config_entry.entry_id}" not in hass_storage


@pytest.mark.usefixtures("setup_credentials")
async def test_zero_days_imports_only_what_ends_from_now_on(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    history_api: HistoryApi,
) -> None:
    """With no backfill only the open sub-session is imported."""
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(config_entry, options={CONF_HISTORY_DAYS: 0})
    await setup_integration(hass, config_entry)
    assert set(await _hours(hass, ENERGY)) == {"11-22 08", "11-22 09"}
    assert history_api.usage_fetches(OVERNIGHT) == 0


@pytest.mark.usefixtures("setup_credentials")
async def test_no_recorder_no_import(
    hass: HomeAssistant, config_entry: MockConfigEntry, history_api: HistoryApi
) -> None:
    """Without the recorder there is nowhere to put statistics: nothing is requested."""
    await setup_integration(hass, config_entry)
    assert config_entry.state is ConfigEntryState.LOADED
    assert history_api.requests == []


@pytest.mark.usefixtures("setup_credentials")
async def test_a_longer_window_chosen_later_imports_the_older_days(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    history_api: HistoryApi,
) -> None:
    """Raising the days in the options lists again from the new start at once, in place;
    lowering them changes nothing imported."""
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(config_entry, options={CONF_HISTORY_DAYS: 0})
    await setup_integration(hass, config_entry)
    assert history_api.usage_fetches(OVERNIGHT) == 0
    watch = InPlace(hass, config_entry)

    await submit_settings(hass, config_entry, history_days=30)
    assert history_api.usage_fetches(OVERNIGHT) == 1
    assert history_api.usage_fetches(OPEN) == 1
    imported = await _hours(hass, ENERGY)
    assert imported["11-22 09"] == (7.0, 38.5)

    requests = len(history_api.requests)
    await submit_settings(hass, config_entry, history_days=0)
    assert len(history_api.requests) == requests
    assert await _hours(hass, ENERGY) == imported
    watch.check()


@pytest.mark.usefixtures("setup_credentials")
async def test_a_longer_window_chosen_during_a_listing_is_listed_by_the_next_run(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    history_api: HistoryApi,
) -> None:
    """The listing under way ends, noting when it listed: the longer window still counts."""
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(config_entry, options={CONF_HISTORY_DAYS: 0})
    await setup_integration(hass, config_entry)
    old = "csub01HSH04KDEWF6Z4DB2J77J7DD1"
    # Older than any re-listing of recent changes reaches.
    _charge(history_api, old, datetime(2026, 11, 2, 1, tzinfo=UTC), 1000)
    gate = mock_api.hold(SUBS_URL)
    await async_wait_recording_done(hass)
    freezer.tick(timedelta(minutes=30))
    async_fire_time_changed(hass)
    await mock_api.wait_held(SUBS_URL)

    hass.config_entries.async_update_entry(config_entry, options={CONF_HISTORY_DAYS: 30})
    gate.set()
    await hass.async_block_till_done(wait_background_tasks=True)
    assert history_api.usage_fetches(old) == 0
    await _tick(hass, freezer)

    assert history_api.usage_fetches(old) == 1


@pytest.mark.usefixtures("setup_credentials")
async def test_nothing_is_imported_while_the_api_budget_runs_low(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    history_api: HistoryApi,
) -> None:
    """Under a tenth of the limit left, the import waits; the live poll keeps the rest."""
    mock_api.rate_limit = (1000, 99)
    await setup_integration(hass, config_entry)
    await _tick(hass, freezer, 30)
    assert history_api.requests == []
    mock_api.rate_limit = (1000, 500)
    await _tick(hass, freezer, 15)  # the live poll (slowed to 15 minutes) reads the headers
    await _tick(hass, freezer)
    assert history_api.usage_fetches() == 2


@pytest.mark.usefixtures("setup_credentials")
async def test_sub_session_without_a_vehicle_is_reported_once(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    config_entry: MockConfigEntry,
    history_api: HistoryApi,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """It cannot be put on any vehicle's statistics: skipped, with one warning."""
    orphan = {**_fixture_subs()[OVERNIGHT], "id": "csub01HSH04KDEWF6Z4DB2J77J7CC1", "vehicle": None}
    history_api.add(orphan, _usage(orphan["id"], []))
    await setup_integration(hass, config_entry)
    await _tick(hass, freezer, 30)
    assert history_api.usage_fetches(orphan["id"]) == 0
    assert sum("names no vehicle" in r.message for r in caplog.records) == 1


@pytest.mark.usefixtures("setup_credentials")
async def test_recent_charging_goes_ahead_of_the_backfill(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    config_entry: MockConfigEntry,
    history_api: HistoryApi,
) -> None:
    """A sub-session that ends during a long backfill is imported at the next listing."""
    now = dt_util.utcnow()
    for day in range(2, 60):
        start = (now - timedelta(days=day)).replace(minute=0)
        sub_id = f"csub{start:%Y%m%d%H}000000000000000000"
        history_api.add(
            {
                **_fixture_subs()[OVERNIGHT],
                "id": sub_id,
                "start": _iso(start),
                "end": _iso(start + timedelta(hours=1)),
            },
            _usage(sub_id, [_interval(start, 1000)]),
        )
    await setup_integration(hass, config_entry)
    assert history_api.usage_fetches(OPEN) == 1  # the open one first
    end = datetime(2026, 11, 22, 10, 30, tzinfo=UTC)
    history_api.add(
        {**_fixture_subs()[OPEN], "end": _iso(end), "energy_delivered_watt_hours": 15750},
        _open_usage(end, end),
    )
    await _tick(hass, freezer, 30)
    assert history_api.usage_fetches(OPEN) == 2
    assert history_api.usage_fetches() < 59
    assert (await _hours(hass, ENERGY))["11-22 10"][0] == 3.5


@pytest.mark.usefixtures("setup_credentials")
@pytest.mark.parametrize("gone", [True, False], ids=["404", "unreadable"])
async def test_a_sub_session_that_cannot_be_read_does_not_block_the_rest(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    history_api: HistoryApi,
    caplog: pytest.LogCaptureFixture,
    gone: bool,
) -> None:
    """A deleted (404) or unreadable sub-session is skipped with one warning; others import."""
    history_api.usage[OPEN] = cast("dict[str, Any]", [])  # a list where an object belongs
    if gone:
        mock_api.fail(f"{SUBS_URL}/{OPEN}/energy_usage", Fault(status=404), times=5)
    await setup_integration(hass, config_entry)
    await _tick(hass, freezer)
    hours = await _hours(hass, ENERGY)
    assert hours["11-22 01"] == (7.0, 24.5)
    assert "11-22 08" not in hours
    assert history_api.usage_fetches(OPEN) == (0 if gone else 1)
    assert sum("energy usage not imported" in r.message for r in caplog.records) == 1


@pytest.mark.usefixtures("setup_credentials")
async def test_settled_sub_sessions_keep_only_their_fingerprint(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    config_entry: MockConfigEntry,
    history_api: HistoryApi,
    hass_storage: dict[str, Any],
) -> None:
    """After the revision window the Store drops their hours; they are not fetched again."""
    await setup_integration(hass, config_entry)
    key = f"ev_energy.history.{config_entry.entry_id}"
    await _tick(hass, freezer, 60 * 24 * 8)
    assert await hass.config_entries.async_unload(config_entry.entry_id)
    imported = hass_storage[key]["data"]["imported"]
    assert imported[OPEN]["hours"]  # still open: it may change
    assert imported[OVERNIGHT]["hours"]  # 8 days: within the window and a day
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await _tick(hass, freezer, 60 * 24 * 2)
    assert await hass.config_entries.async_unload(config_entry.entry_id)
    imported = hass_storage[key]["data"]["imported"]
    assert imported[OVERNIGHT]["hours"] == {}
    assert imported[OVERNIGHT]["fingerprint"][1] == 24500
    assert imported[OPEN]["hours"]
    assert history_api.usage_fetches(OVERNIGHT) == 1
    assert (await _hours(hass, ENERGY))["11-22 01"] == (7.0, 24.5)


@pytest.mark.usefixtures("setup_credentials")
async def test_waits_for_the_recorder_to_be_ready(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    history_api: HistoryApi,
) -> None:
    """Until the recorder processes its queue (after start-up), nothing is requested."""
    recorder_mock.async_recorder_ready.clear()
    config_entry.add_to_hass(hass)
    # Not setup_integration: its wait for all tasks would wait for the recorder too.
    assert await async_setup_component(hass, "ev_energy", {})
    assert config_entry.state is ConfigEntryState.LOADED
    assert history_api.requests == []
    recorder_mock.async_recorder_ready.set()
    await hass.async_block_till_done(wait_background_tasks=True)
    assert (await _hours(hass, ENERGY))["11-22 09"] == (7.0, 38.5)


@pytest.mark.usefixtures("setup_credentials")
async def test_reload_during_the_first_import_loses_no_statistic(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    config_entry: MockConfigEntry,
    history_api: HistoryApi,
) -> None:
    """An unload cutting the recorder write short leaves those sub-sessions to import again.

    Progress is saved on unload while the write is suspended: it must not call them imported.
    """
    restate = ChargingHistory._async_restate
    reached, release = asyncio.Event(), asyncio.Event()

    async def held_at_cost(
        self: ChargingHistory, metadata: StatisticMetaData, states: dict[datetime, float]
    ) -> None:
        if metadata["statistic_id"] == COST and not release.is_set():
            reached.set()
            await release.wait()
        await restate(self, metadata, states)

    with patch.object(ChargingHistory, "_async_restate", held_at_cost):
        config_entry.add_to_hass(hass)
        assert await async_setup_component(hass, "ev_energy", {})
        await asyncio.wait_for(reached.wait(), 10)
        assert "11-22 08" in await _hours(hass, ENERGY)  # energy written, cost not yet
        assert await hass.config_entries.async_unload(config_entry.entry_id)
        release.set()

    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    await _tick(hass, freezer)
    cost = await _hours(hass, COST)
    assert cost["11-22 08"][0] == pytest.approx(0.7)  # 7 kWh at 10p
    energy = await _hours(hass, ENERGY)
    assert energy["11-22 09"] == (7.0, 38.5)  # written again, counted once


@pytest.mark.usefixtures("setup_credentials")
async def test_the_import_waits_while_the_hour_nears_the_live_polls_guard(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    history_api: HistoryApi,
) -> None:
    """A busy hour (a large fleet charging) leaves the live poll its pace; history waits."""
    await setup_integration(hass, config_entry)
    fetched = history_api.usage_fetches()
    history_api.add(
        {**_fixture_subs()[OPEN], "energy_delivered_watt_hours": 14500}, _usage(OPEN, [])
    )
    client = config_entry.runtime_data.client
    # 450 requests in the rolling hour: 90 % of the live poll's guard (half of 1000).
    client._request_times.extend([time.monotonic()] * (450 - client.requests_last_hour))
    await _tick(hass, freezer, 30)
    assert history_api.usage_fetches() == fetched
    client._request_times.clear()
    await _tick(hass, freezer)
    assert history_api.usage_fetches() == fetched + 1


@pytest.mark.usefixtures("setup_credentials")
async def test_an_import_cancelled_mid_fetch_writes_nothing_and_resumes(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    history_api: HistoryApi,
) -> None:
    """Cancelled while fetching (HA stopping: the recorder may be gone), nothing is written.

    What was fetched before stays queued, and the next start imports it exactly once.
    """
    overnight = f"{SUBS_URL}/{OVERNIGHT}/energy_usage"
    gate = mock_api.hold(overnight)
    config_entry.add_to_hass(hass)
    assert await async_setup_component(hass, "ev_energy", {})
    await mock_api.wait_held(overnight)  # the open sub-session is fetched and staged
    assert await hass.config_entries.async_unload(config_entry.entry_id)
    assert await _hours(hass, ENERGY) == {}
    gate.set()

    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    await _tick(hass, freezer)
    energy = await _hours(hass, ENERGY)
    assert (energy["11-22 01"], energy["11-22 09"]) == ((7.0, 24.5), (7.0, 38.5))
    assert history_api.usage_fetches(OPEN) == 2


@pytest.mark.usefixtures("setup_credentials")
async def test_reload_mid_batch_leaves_the_batch_to_the_new_import(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    history_api: HistoryApi,
    hass_storage: dict[str, Any],
) -> None:
    """Reloaded while a batch is fetching: the old import stops there, the new one does it once.

    ev.energy recalculates the held sub-session meanwhile (01:00 -> 05:00, 2 kWh): the old
    import's answer is outdated, and nothing of it may reach the statistics or the Store.
    """
    await setup_integration(hass, config_entry)
    url, gate = await _hold_mid_batch(hass, freezer, mock_api, history_api)
    del mock_api.gates[url]  # only the old import's request stays held
    _charge(history_api, BATCH[1], datetime(2026, 11, 20, 5, tzinfo=UTC), 2000)
    sent = len(history_api.requests)

    assert await hass.config_entries.async_reload(config_entry.entry_id)
    gate.set()
    await hass.async_block_till_done(wait_background_tasks=True)
    await _tick(hass, freezer)  # the delayed Store save is written

    fetched = Counter(what for _, what, _ in history_api.requests[sent:] if what != "list")
    assert fetched == dict.fromkeys(BATCH, 1)
    energy = await _hours(hass, ENERGY)
    assert {h: v for h, v in energy.items() if h < "11-21"} == {
        "11-20 01": (1.0, 1.0),
        "11-20 03": (1.0, 2.0),
        "11-20 05": (2.0, 4.0),
    }
    stored = hass_storage[f"ev_energy.history.{config_entry.entry_id}"]["data"]
    assert stored["pending"] == []
    assert list(stored["imported"][BATCH[1]]["hours"]) == ["2026-11-20T05:00:00+00:00"]


@pytest.mark.usefixtures("setup_credentials")
@pytest.mark.parametrize("remove", [False, True], ids=["unload", "remove"])
async def test_unload_mid_batch_stops_the_import(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    history_api: HistoryApi,
    hass_storage: dict[str, Any],
    remove: bool,
) -> None:
    """Unloaded while a batch is fetching: no request, statistic or saved progress after it.

    The unload's own save is the last: the batch stays queued for the next start. Removed,
    the entry's progress stays gone.
    """
    await setup_integration(hass, config_entry)
    _, gate = await _hold_mid_batch(hass, freezer, mock_api, history_api)
    key = f"ev_energy.history.{config_entry.entry_id}"

    if remove:
        await hass.config_entries.async_remove(config_entry.entry_id)
        await hass.async_block_till_done()
        assert key not in hass_storage
    else:
        assert await hass.config_entries.async_unload(config_entry.entry_id)
        pending = hass_storage[key]["data"]["pending"]
        assert [summary["id"] for summary in pending] == list(BATCH)
    saved = copy.deepcopy(hass_storage.get(key))
    energy = await _hours(hass, ENERGY)
    sent = len(history_api.requests)
    gate.set()
    for _ in range(6):
        await _tick(hass, freezer, 60)

    assert history_api.requests[sent:] == []
    assert hass_storage.get(key) == saved
    assert await _hours(hass, ENERGY) == energy
