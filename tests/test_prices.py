"""Prices people automate on: boundary-exact states, the price list, windows and the action."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, cast
from zoneinfo import ZoneInfo

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.ev_energy.api import PriceSchedule, RateBand, intervals_from_bands
from custom_components.ev_energy.api.prices import (
    PriceInterval,
    intervals_from_api,
    parse_daily_prices,
)
from custom_components.ev_energy.const import CONF_WINDOW_END, CONF_WINDOW_HOURS, DOMAIN

from .api.test_prices import SPEC_DAILY_PRICES
from .conftest import PRICES_URL, InPlace, MockApi, setup_integration, state_of, submit_settings

CURRENT = "sensor.ev_energy_account_current_price"
NEXT = "sensor.ev_energy_account_next_price"
KNOWN_UNTIL = "sensor.ev_energy_account_prices_known_until"
WINDOW = "binary_sensor.ev_energy_account_cheapest_window"
LONDON = ZoneInfo("Europe/London")


async def _get_prices(hass: HomeAssistant, data: dict[str, Any]) -> dict[str, Any]:
    response = await hass.services.async_call(
        DOMAIN, "get_prices", data, blocking=True, return_response=True
    )
    return cast(dict[str, Any], response)


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


async def _at(hass: HomeAssistant, freezer: FrozenDateTimeFactory, when: datetime) -> None:
    """Move the clock to `when` and let every timer due by then fire."""
    freezer.move_to(when)
    async_fire_time_changed(hass, when)
    await hass.async_block_till_done(wait_background_tasks=True)


@pytest.mark.usefixtures("setup_credentials")
async def test_price_flips_at_boundary_without_requests(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """At 10:30:00 the price is the new interval's, set by a local timer: no request at all."""
    await setup_integration(hass, config_entry)
    boundary = _utc("2026-11-22T10:30:00+00:00")
    await _at(hass, freezer, boundary - timedelta(seconds=1))
    assert state_of(hass, CURRENT).state == "0.24"
    assert state_of(hass, NEXT).state == "0.23"
    sent = len(mock_api.calls())

    await _at(hass, freezer, boundary)

    current = state_of(hass, CURRENT)
    assert current.state == "0.23"
    assert current.last_changed - boundary < timedelta(seconds=1)
    assert current.attributes["start"] == "2026-11-22T10:30:00+00:00"
    assert current.attributes["end"] == "2026-11-22T11:00:00+00:00"
    assert state_of(hass, NEXT).state == "0.22"
    assert len(mock_api.calls()) == sent


@pytest.mark.usefixtures("setup_credentials")
async def test_price_list_refreshed_slowly_and_after_horizon(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The list is read every 30 minutes, and at once when the known horizon runs out."""
    # Only prices up to 10:40 are known; the next 30-minute refresh would come at 10:40.
    mock_api.prices = [p for p in mock_api.prices if p["started_at"] < "2026-11-22T10:15"]
    await setup_integration(hass, config_entry)
    assert len(mock_api.calls(PRICES_URL)) == 1
    assert state_of(hass, KNOWN_UNTIL).state == "2026-11-22T10:30:00+00:00"

    await _at(hass, freezer, _utc("2026-11-22T10:30:00+00:00"))
    assert len(mock_api.calls(PRICES_URL)) == 2
    request = mock_api.calls(PRICES_URL)[0][1]
    assert request.query["started_at__gte"] == "2026-11-22T00:00:00+00:00"


@pytest.mark.usefixtures("setup_credentials")
async def test_no_future_prices(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
) -> None:
    """With only past prices, the current price is the tariff's and the next is unknown."""
    mock_api.prices = [p for p in mock_api.prices if p["started_at"] < "2026-11-22T09:00"]
    mock_api.tariff["current_price"] = 27
    await setup_integration(hass, config_entry)
    assert state_of(hass, CURRENT).state == "0.27"
    assert state_of(hass, NEXT).state == "unknown"
    assert state_of(hass, KNOWN_UNTIL).state == "2026-11-22T09:00:00+00:00"


@pytest.mark.usefixtures("setup_credentials")
async def test_prices_kept_through_price_list_outage(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A failed price-list refresh keeps the known list: prices keep changing on time."""
    await setup_integration(hass, config_entry)
    mock_api.prices = {"broken": True}  # type: ignore[assignment]
    await _at(hass, freezer, _utc("2026-11-22T10:40:01+00:00"))
    await _at(hass, freezer, _utc("2026-11-22T11:00:00+00:00"))
    assert state_of(hass, CURRENT).state == "0.22"


def _dual_rate(tariff: dict[str, Any]) -> None:
    tariff.update(
        type="DUAL_RATE",
        current_price=None,
        timezone_name="Europe/London",
        daily_prices={
            "peak": {"price": "0.30", "times": [{"start": "07:00:00", "end": "00:00:00"}]},
            "off_peak": {"price": "0.10", "times": [{"start": "00:00:00", "end": "07:00:00"}]},
        },
    )


@pytest.mark.parametrize(
    ("day", "off_peak_hours"),
    [(date(2027, 3, 28), 6), (date(2026, 10, 25), 8), (date(2026, 11, 22), 7)],
    ids=["spring-forward", "fall-back", "ordinary"],
)
def test_dual_rate_bands_follow_dst(day: date, off_peak_hours: int) -> None:
    """00:00-07:00 local lasts 6 h when clocks go forward and 8 h when they go back."""
    bands = (
        RateBand("peak", Decimal("0.30"), ((time(7), time(0)),)),
        RateBand("off_peak", Decimal("0.10"), ((time(0), time(7)),)),
    )
    schedule = PriceSchedule(intervals_from_bands(bands, LONDON, day, 1))
    off_peak, peak = schedule.intervals
    assert off_peak.end - off_peak.start == timedelta(hours=off_peak_hours)
    assert off_peak.start == datetime.combine(day, time(0), LONDON)
    assert peak.start == datetime.combine(day, time(7), LONDON)
    assert peak.end == datetime.combine(day + timedelta(days=1), time(0), LONDON)
    assert (peak.end - off_peak.start) == timedelta(hours=24 + off_peak_hours - 7)


@pytest.mark.usefixtures("setup_credentials")
async def test_dual_rate_flips_at_local_seven_on_dst_day(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """On the spring-forward day peak starts at 07:00 BST = 06:00 UTC, with no price request."""
    _dual_rate(mock_api.tariff)
    freezer.move_to(_utc("2027-03-28T05:00:00+00:00"))
    await setup_integration(hass, config_entry)
    assert state_of(hass, CURRENT).state == "0.10"
    assert state_of(hass, NEXT).state == "0.30"

    await _at(hass, freezer, _utc("2027-03-28T06:00:00+00:00"))
    assert state_of(hass, CURRENT).state == "0.30"
    assert not mock_api.calls(PRICES_URL), "a rate tariff needs no price list"


@pytest.mark.usefixtures("setup_credentials")
async def test_spec_example_tariff_overnight_band(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The spec's TariffDetail example: at 03:00 the 10:00 -> 08:00 band's price, not the
    tariff's own current price; off_peak from 08:00, when its band starts."""
    await hass.config.async_update(time_zone="Europe/London")
    mock_api.tariff = {
        "id": mock_api.tariff["id"],
        "url": mock_api.tariff["url"],
        "supplier": mock_api.tariff["supplier"],
        "name": "Fangorn Biomass",
        "currency": "GBP",
        "daily_prices": SPEC_DAILY_PRICES,
        "scheduler_tariff": None,
        "current_price": 10,
        "prices": mock_api.tariff["prices"],
    }
    freezer.move_to(_utc("2026-11-22T03:00:00+00:00"))
    await setup_integration(hass, config_entry)
    current = state_of(hass, CURRENT)
    assert current.state == "0.20"
    assert current.attributes["start"] == "2026-11-22T00:00:00+00:00"
    assert current.attributes["end"] == "2026-11-22T08:00:00+00:00"
    assert state_of(hass, NEXT).state == "0.10"

    await _at(hass, freezer, _utc("2026-11-22T08:00:00+00:00"))
    assert state_of(hass, CURRENT).state == "0.10"
    assert state_of(hass, NEXT).state == "0.30"


@pytest.mark.parametrize(
    ("currency", "minor", "major"),
    [("GBP", 2450, "24.5"), ("USD", 31, "0.31"), ("EUR", 7, "0.07"), ("JPY", 31, "31")],
)
def test_price_list_units(currency: str, minor: int, major: str) -> None:
    """Price-list minor units become major units per kWh using the currency's exponent."""
    (interval,) = intervals_from_api(
        [
            {
                "started_at": "2026-11-22T10:00:00Z",
                "interval_seconds": 1800,
                "price_minor_units": minor,
            }
        ],
        currency,
    )
    assert interval.price == Decimal(major)
    assert interval.end - interval.start == timedelta(minutes=30)


@pytest.mark.parametrize(
    ("currency", "state", "precision"), [("USD", "0.24", 4), ("JPY", "24", 2), ("KWD", "0.024", 5)]
)
@pytest.mark.usefixtures("setup_credentials")
async def test_price_entity_units(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    currency: str,
    state: str,
    precision: int,
) -> None:
    """Unit, value and display precision follow the tariff's currency.

    Every price sensor shows the same number of decimals: a hundredth of the minor unit.
    """
    mock_api.tariff["currency"] = currency
    await setup_integration(hass, config_entry)
    price = state_of(hass, CURRENT)
    assert price.state == state
    assert price.attributes["unit_of_measurement"] == f"{currency}/kWh"
    shown = {
        entry.translation_key: entry.options["sensor"]["suggested_display_precision"]
        for entry in er.async_entries_for_config_entry(entity_registry, config_entry.entry_id)
        if entry.unique_id.endswith("_price")
    }
    assert shown == dict.fromkeys(
        ("current_price", "next_price", "min_price", "max_price", "average_price"), precision
    )


def _hourly(start: str, prices: list[int]) -> PriceSchedule:
    first = _utc(start)
    return PriceSchedule(
        PriceInterval(first + timedelta(hours=i), first + timedelta(hours=i + 1), Decimal(p))
        for i, p in enumerate(prices)
    )


def test_cheapest_window_across_midnight() -> None:
    """The cheapest 2 h before 07:00 can straddle midnight."""
    schedule = _hourly("2026-11-22T20:00:00+00:00", [30, 25, 20, 8, 6, 12, 15, 18, 22, 30, 31])
    window = schedule.cheapest_window(
        timedelta(hours=2), _utc("2026-11-22T07:00:00+00:00"), _utc("2026-11-23T07:00:00+00:00")
    )
    assert window is not None
    assert (window.start, window.end) == (
        _utc("2026-11-22T23:00:00+00:00"),
        _utc("2026-11-23T01:00:00+00:00"),
    )
    assert window.average == Decimal(7)


def test_cheapest_window_needs_full_coverage() -> None:
    """A window over unknown prices is not chosen; none at all when nothing fits."""
    schedule = _hourly("2026-11-22T00:00:00+00:00", [5, 40, 40])
    gap_then_cheap = PriceSchedule(
        [
            *schedule.intervals,
            PriceInterval(
                _utc("2026-11-22T05:00:00+00:00"), _utc("2026-11-22T06:00:00+00:00"), Decimal(1)
            ),
        ]
    )
    window = gap_then_cheap.cheapest_window(
        timedelta(hours=2), _utc("2026-11-22T00:00:00+00:00"), _utc("2026-11-22T07:00:00+00:00")
    )
    assert window is not None
    assert window.start == _utc("2026-11-22T00:00:00+00:00")
    assert (
        schedule.cheapest_window(
            timedelta(hours=4), _utc("2026-11-22T00:00:00+00:00"), _utc("2026-11-22T07:00:00+00:00")
        )
        is None
    )


@pytest.mark.usefixtures("setup_credentials")
async def test_cheapest_window_sensor(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The cheapest 1.5 h before 12:00 (London) is 03:30-05:00 (7p, 7p, 8p): on inside it."""
    await hass.config.async_update(time_zone="Europe/London")
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        config_entry, options={CONF_WINDOW_HOURS: 1.5, CONF_WINDOW_END: "12:00:00"}
    )
    freezer.move_to(_utc("2026-11-22T03:00:00+00:00"))
    await setup_integration(hass, config_entry)
    sensor = state_of(hass, WINDOW)
    assert sensor.state == "off"
    assert sensor.attributes["start"] == "2026-11-22T03:30:00+00:00"
    assert sensor.attributes["end"] == "2026-11-22T05:00:00+00:00"
    assert sensor.attributes["average_price"] == pytest.approx(0.073333)

    await _at(hass, freezer, _utc("2026-11-22T03:30:00+00:00"))
    assert state_of(hass, WINDOW).state == "on"
    await _at(hass, freezer, _utc("2026-11-22T05:00:00+00:00"))
    assert state_of(hass, WINDOW).state == "off"


@pytest.mark.usefixtures("setup_credentials")
async def test_cheapest_window_follows_its_options_in_place(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
    entity_registry: er.EntityRegistry,
) -> None:
    """Turned on, retuned and off in the options: the sensor appears, moves on time and goes,
    and the entry never reloads."""
    await hass.config.async_update(time_zone="Europe/London")
    freezer.move_to(_utc("2026-11-22T03:00:00+00:00"))
    await setup_integration(hass, config_entry)
    watch = InPlace(hass, config_entry)
    assert hass.states.get(WINDOW) is None

    await submit_settings(
        hass, config_entry, cheapest_window_hours=1.5, cheapest_window_end="12:00:00"
    )
    sensor = state_of(hass, WINDOW)
    assert sensor.state == "off"
    assert sensor.attributes["start"] == "2026-11-22T03:30:00+00:00"
    assert sensor.attributes["end"] == "2026-11-22T05:00:00+00:00"

    # 1.25 h: 04:00-05:15, turned on and off by timers armed for the new window.
    await submit_settings(
        hass, config_entry, cheapest_window_hours=1.25, cheapest_window_end="12:00:00"
    )
    assert state_of(hass, WINDOW).attributes["end"] == "2026-11-22T05:15:00+00:00"
    await _at(hass, freezer, _utc("2026-11-22T03:30:00+00:00"))
    assert state_of(hass, WINDOW).state == "off"
    await _at(hass, freezer, _utc("2026-11-22T04:00:00+00:00"))
    assert state_of(hass, WINDOW).state == "on"
    await _at(hass, freezer, _utc("2026-11-22T05:15:00+00:00"))
    assert state_of(hass, WINDOW).state == "off"

    # Ending at 05:00 (just passed), the period runs to tomorrow's: on at once, from 05:00.
    await submit_settings(
        hass, config_entry, cheapest_window_hours=1.25, cheapest_window_end="05:00:00"
    )
    sensor = state_of(hass, WINDOW)
    assert (sensor.state, sensor.attributes["start"], sensor.attributes["end"]) == (
        "on",
        "2026-11-22T05:00:00+00:00",
        "2026-11-22T06:15:00+00:00",
    )

    await submit_settings(hass, config_entry, cheapest_window_hours=0)
    assert hass.states.get(WINDOW) is None
    assert entity_registry.async_get(WINDOW) is None
    watch.check()


@pytest.mark.usefixtures("setup_credentials")
async def test_get_prices_action(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    """The action returns the known prices in a period, in major units."""
    await setup_integration(hass, config_entry)
    response = await _get_prices(
        hass,
        {
            "config_entry": config_entry.entry_id,
            "start": "2026-11-22T10:15:00+00:00",
            "end": "2026-11-22T11:00:00+00:00",
        },
    )
    assert response == {
        "currency": "GBP",
        "unit": "GBP/kWh",
        "known_until": "2026-11-23T00:00:00+00:00",
        "prices": [
            {
                "start": "2026-11-22T10:00:00+00:00",
                "end": "2026-11-22T10:30:00+00:00",
                "price": 0.24,
            },
            {
                "start": "2026-11-22T10:30:00+00:00",
                "end": "2026-11-22T11:00:00+00:00",
                "price": 0.23,
            },
        ],
    }
    everything = await _get_prices(hass, {"config_entry": config_entry.entry_id})
    assert len(everything["prices"]) == 48


@pytest.mark.usefixtures("setup_credentials")
async def test_get_prices_beyond_the_known_prices(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    """No prices for tomorrow yet: the answer says until when prices are known."""
    await setup_integration(hass, config_entry)
    response = await _get_prices(
        hass,
        {
            "config_entry": config_entry.entry_id,
            "start": "2026-11-23T16:00:00+00:00",
            "end": "2026-11-24T07:00:00+00:00",
        },
    )
    assert response["prices"] == []
    assert response["known_until"] == "2026-11-23T00:00:00+00:00"

    mock_api.prices = []
    await config_entry.runtime_data.prices.async_refresh()
    response = await _get_prices(hass, {"config_entry": config_entry.entry_id})
    assert (response["prices"], response["known_until"]) == ([], None)


@pytest.mark.usefixtures("setup_credentials")
async def test_get_prices_naive_times_are_local(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    """A start without a time zone is Home Assistant's local time."""
    await hass.config.async_update(time_zone="Asia/Tokyo")
    await setup_integration(hass, config_entry)
    response = await _get_prices(
        hass,
        {
            "config_entry": config_entry.entry_id,
            "start": "2026-11-22 19:30:00",
            "end": "2026-11-22 20:00:00",
        },
    )
    assert [p["start"] for p in response["prices"]] == ["2026-11-22T10:30:00+00:00"]


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"config_entry": "nope"}, "entry_not_found"),
        (
            {"start": "2026-11-22T12:00:00+00:00", "end": "2026-11-22T11:00:00+00:00"},
            "invalid_period",
        ),
    ],
)
@pytest.mark.usefixtures("setup_credentials")
async def test_get_prices_invalid_input(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    data: dict[str, str],
    key: str,
) -> None:
    """Bad input is a translated validation error."""
    await setup_integration(hass, config_entry)
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "get_prices",
            {"config_entry": config_entry.entry_id, **data},
            blocking=True,
            return_response=True,
        )
    assert err.value.translation_key == key


@pytest.mark.usefixtures("setup_credentials")
async def test_get_prices_entry_not_loaded(
    hass: HomeAssistant, config_entry: MockConfigEntry, mock_api: MockApi
) -> None:
    """An unloaded account is refused with a clear error."""
    await setup_integration(hass, config_entry)
    await hass.config_entries.async_unload(config_entry.entry_id)
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "get_prices",
            {"config_entry": config_entry.entry_id},
            blocking=True,
            return_response=True,
        )
    assert err.value.translation_key == "entry_not_loaded"


def test_schedule_overlaps_later_interval_wins() -> None:
    """Overlapping intervals (a corrected publication) keep the later one's price."""
    schedule = PriceSchedule(
        [
            PriceInterval(
                _utc("2026-11-22T10:00:00+00:00"), _utc("2026-11-22T11:00:00+00:00"), Decimal(1)
            ),
            PriceInterval(
                _utc("2026-11-22T10:30:00+00:00"), _utc("2026-11-22T11:00:00+00:00"), Decimal(2)
            ),
        ]
    )
    assert [(i.start.minute, i.price) for i in schedule.intervals] == [
        (0, Decimal(1)),
        (30, Decimal(2)),
    ]
    assert schedule.next_change(_utc("2026-11-22T10:10:00+00:00")) == _utc(
        "2026-11-22T10:30:00+00:00"
    )
    assert schedule.following(_utc("2026-11-22T09:00:00+00:00")) == schedule.intervals[0]


def test_price_list_skips_unreadable_items() -> None:
    """Bad items are dropped one by one; the readable ones stay."""
    good = {"started_at": "2026-11-22T10:00:00Z", "interval_seconds": 1800, "price_minor_units": 9}
    items: list[object] = [
        good,
        "not an object",
        {**good, "started_at": "yesterday"},
        {**good, "started_at": "2026-11-22T10:00:00"},  # no time zone
        {**good, "interval_seconds": 0},
        {**good, "interval_seconds": True},
        {**good, "price_minor_units": "9"},
        {**good, "price_minor_units": False},
    ]
    assert [i.price for i in intervals_from_api(items, "GBP")] == [Decimal("0.09")]


def test_daily_prices_parsing_is_tolerant() -> None:
    """Unreadable bands or times are skipped, not fatal."""
    assert parse_daily_prices(None) == ()
    bands = parse_daily_prices(
        {
            "peak": {"price": "0.30", "times": [{"start": "07:00:00", "end": "00:00:00"}, "x"]},
            "mid_peak": {"price": "lots", "times": []},
            "off_peak": {"price": "NaN", "times": []},
            "bogus": {"price": "0.01"},
        }
    )
    assert bands == (RateBand("peak", Decimal("0.30"), ((time(7), time(0)),)),)
    odd = parse_daily_prices({"peak": {"price": "0.2", "times": [{"start": "7am", "end": 3}]}})
    assert odd == (RateBand("peak", Decimal("0.2"), ()),)


@pytest.mark.usefixtures("setup_credentials")
async def test_cheapest_window_ends_between_price_boundaries(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    mock_api: MockApi,
    freezer: FrozenDateTimeFactory,
) -> None:
    """1.25 h from 04:00 ends at 05:15, where no price changes: its own timer turns it off."""
    await hass.config.async_update(time_zone="Europe/London")
    config_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        config_entry, options={CONF_WINDOW_HOURS: 1.25, CONF_WINDOW_END: "12:00:00"}
    )
    freezer.move_to(_utc("2026-11-22T03:00:00+00:00"))
    await setup_integration(hass, config_entry)
    assert state_of(hass, WINDOW).attributes["end"] == "2026-11-22T05:15:00+00:00"

    await _at(hass, freezer, _utc("2026-11-22T05:14:59+00:00"))
    assert state_of(hass, WINDOW).state == "on"
    await _at(hass, freezer, _utc("2026-11-22T05:15:00+00:00"))
    window = state_of(hass, WINDOW)
    assert window.state == "off"
    assert window.last_changed == _utc("2026-11-22T05:15:00+00:00")
