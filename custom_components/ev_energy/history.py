"""Import ev.energy's charging history as hourly long-term statistics for the Energy dashboard.

Every 5 minutes a tick may list sub-sessions (every 30 minutes: the open ones, and those that
ended since the last listing minus a week, so recalculations are seen), then fetch the energy
usage of those that are new or whose totals changed, oldest listing first, within this module's
own request budget (a tenth of the API's hourly limit, spread over the ticks). The first listing
reaches back over the backfill window, so a first setup imports that history over a few hours.

What each sub-session contributed to each hour is kept in a Store, so a re-import replaces that
contribution instead of adding to it, in every hour it counted in before or counts in now (an hour
it no longer counts in goes down, to 0 if nothing else is left there), and the recorder's running
sums are restated from the first changed hour on. Progress (queue, window, imported
contributions, recent requests) is in the same Store, so a restart resumes where it stopped.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import partial
import logging
from typing import Any, Final, TypedDict

from homeassistant.components.recorder.models import (
    StatisticData,
    StatisticMeanType,
    StatisticMetaData,
)
from homeassistant.components.recorder.statistics import (
    async_add_external_statistics,
    get_last_statistics,
    get_metadata,
    statistics_during_period,
)
from homeassistant.const import UnitOfEnergy, UnitOfMass
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.recorder import get_instance
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util, slugify

from .api import (
    ChargingSubSession,
    EnergyUsage,
    EvEnergyApiError,
    EvEnergyClient,
    EvEnergyError,
    EvEnergyResponseError,
)
from .const import (
    CONF_CLEAR_HISTORY_ON_REMOVE,
    CONF_HISTORY_DAYS,
    DEFAULT_HISTORY_DAYS,
    DEFAULT_RATE_LIMIT,
    DOMAIN,
    HOURLY_SHARE,
    LOW_REMAINING_SHARE,
)
from .coordinator import EvEnergyLiveCoordinator
from .energy_history import (
    MONEY,
    HourlyValues,
    Quantity,
    Series,
    columns,
    hour_states,
    hourly_values,
    restate,
    touched,
)
from .lifecycle import Lifecycle
from .runtime import EvEnergyConfigEntry

_LOGGER = logging.getLogger(__name__)

STORAGE_VERSION: Final = 1
TICK: Final = timedelta(minutes=5)
LISTING_INTERVAL: Final = timedelta(minutes=30)
# ev.energy may recalculate a finished sub-session; one that ended this recently is re-listed.
REVISION_WINDOW: Final = timedelta(days=7)
# The share of the API's hourly limit this import may use, spread evenly over the ticks.
HISTORY_SHARE: Final = 0.1
# The share of the live poll's guard the whole hour's requests may reach before it waits.
GUARD_HEADROOM: Final = 0.9
TICKS_PER_HOUR: Final = int(timedelta(hours=1) / TICK)

_UNITS: Final[dict[Quantity, tuple[str | None, str | None]]] = {
    Quantity.ENERGY: (UnitOfEnergy.KILO_WATT_HOUR, "energy"),
    Quantity.METER_ENERGY: (UnitOfEnergy.KILO_WATT_HOUR, "energy"),
    Quantity.CO2: (UnitOfMass.KILOGRAMS, "mass"),
}
_NAMES: Final = {
    Quantity.ENERGY: "charging energy",
    Quantity.METER_ENERGY: "charging energy at the meter",
    Quantity.COST: "charging cost",
    Quantity.SAVINGS: "charging savings",
    Quantity.CO2: "charging CO2",
}

type Hours = dict[str, dict[str, float]]
# The hours to restate: per vehicle, per series.
type Changed = dict[str, dict[Series, set[datetime]]]


class Imported(TypedDict):
    """What one sub-session contributed, and the totals it had when fetched."""

    vehicle: str
    currency: str | None
    fingerprint: list[Any]
    hours: Hours
    imported_at: str


class StoredHistory(TypedDict):
    """The Store's content."""

    since: str
    last_listing: str | None
    pending: list[dict[str, Any]]
    imported: dict[str, Imported]
    requests: list[str]


def statistic_id(vehicle_id: str, quantity: Quantity, currency: str | None = None) -> str:
    """Return the external statistic id, e.g. `ev_energy:vhcl01h..._charging_energy`.

    Money in a currency other than the one of the vehicle's plain cost and savings statistics
    has statistics of its own, named by the currency: `..._charging_cost_eur`.
    """
    suffix = f"_{slugify(currency)}" if currency else ""
    return f"{DOMAIN}:{vehicle_id.lower()}_{quantity.value}{suffix}"


def _write_order(series: Series) -> tuple[int, str]:
    """Energy first, as Quantity lists them; money currency by currency."""
    quantity, currency = series
    return list(Quantity).index(quantity), currency or ""


def _store(hass: HomeAssistant, entry_id: str) -> Store[StoredHistory]:
    return Store(hass, STORAGE_VERSION, f"{DOMAIN}.history.{entry_id}")


def _fingerprint(sub: ChargingSubSession) -> list[Any]:
    """Totals that change when the sub-session grows or ev.energy recalculates it."""
    end = sub.end.isoformat() if sub.end else None
    return [end, sub.energy_watt_hours, sub.cost_minor_units, sub.co2_grams]


def _hourly(imported: Imported) -> HourlyValues:
    """Return a stored contribution as the hourly amounts it was made from."""
    return {
        dt_util.parse_datetime(hour, raise_on_error=True): {
            Quantity(quantity): value for quantity, value in values.items()
        }
        for hour, values in imported["hours"].items()
    }


def _summary(sub: ChargingSubSession) -> dict[str, Any]:
    return {
        "id": sub.id,
        "vehicle": sub.vehicle_id,
        "end": sub.end.isoformat() if sub.end else None,
        "energy": sub.energy_watt_hours,
        "cost": sub.cost_minor_units,
        "currency": sub.currency,
        "co2": sub.co2_grams,
        "intensity": sub.co2_intensity_grams_per_kilowatt_hour,
    }


def _from_summary(data: dict[str, Any]) -> ChargingSubSession:
    return ChargingSubSession(
        id=data["id"],
        vehicle_id=data["vehicle"],
        start=None,
        end=dt_util.parse_datetime(data["end"]) if data["end"] else None,
        mode=None,
        energy_watt_hours=data["energy"],
        cost_minor_units=data["cost"],
        currency=data["currency"],
        co2_grams=data["co2"],
        co2_intensity_grams_per_kilowatt_hour=data["intensity"],
    )


class ChargingHistory:
    """Keeps the recorder's charging statistics in step with ev.energy, within a budget."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: EvEnergyConfigEntry,
        client: EvEnergyClient,
        coordinator: EvEnergyLiveCoordinator,
    ) -> None:
        """Import for `entry` through `client`; vehicles are named as `coordinator` knows them."""
        self.hass = hass
        self.entry = entry
        self.client = client
        self.coordinator = coordinator
        self._store = _store(hass, entry.entry_id)
        self._lock = asyncio.Lock()
        self._reported: set[tuple[str, str]] = set()
        self._data: StoredHistory | None = None
        self._requests: deque[datetime] = deque()
        self._backlog = False
        # Its timer and ticks end with the entry: an unload or reload stops them all at once.
        self._lifecycle = Lifecycle(hass, entry.async_on_unload, f"{DOMAIN} charging history")
        # Per vehicle: the currency of its plain cost and savings statistics.
        self._primary: dict[str, str | None] = {}

    async def async_start(self) -> None:
        """Load progress, start ticking (first tick at once): each run applies the window."""
        data = await self._store.async_load()
        if data is None:
            data = StoredHistory(
                since=self._window_start().isoformat(),
                last_listing=None,
                pending=[],
                imported={},
                requests=[],
            )
        self._data = data
        self._requests = deque(
            dt_util.parse_datetime(t, raise_on_error=True) for t in data["requests"]
        )
        self.entry.async_on_unload(self._async_save_now)
        self._lifecycle.every("tick", TICK, self._async_tick)
        # In the background: the first run waits for the recorder, which must not hold start-up.
        self._lifecycle.spawn(self._async_tick(), "first tick")

    @callback
    def async_apply_options(self) -> None:
        """Run at once if the window now reaches further back than listed so far.

        That run lists again from the new start (with a run under way, the next tick does).
        A shorter window changes nothing imported.
        """
        if self._earlier_start() is not None:
            self._lifecycle.spawn(self._async_tick(), "longer window")

    def _window_start(self) -> datetime:
        days = int(self.entry.options.get(CONF_HISTORY_DAYS, DEFAULT_HISTORY_DAYS))
        return dt_util.utcnow() - timedelta(days=days)

    def _earlier_start(self) -> datetime | None:
        """Return the options' window start if it is before what was listed from, else None."""
        assert self._data is not None
        since = self._window_start()
        listed_from = dt_util.parse_datetime(self._data["since"], raise_on_error=True)
        return since if since < listed_from else None

    async def _async_tick(self) -> None:
        if self._lock.locked():
            return
        async with self._lock:
            # The recorder writes nothing before Home Assistant has finished starting: wait for
            # it rather than send requests whose results could not be stored yet.
            await get_instance(self.hass).async_recorder_ready.wait()
            try:
                await self._async_run()
            except EvEnergyError as err:
                _LOGGER.warning("Charging history import paused until the next try: %s", err)
            finally:
                self._save()

    def _budget(self) -> int:
        """Return how many requests this tick may send: its share of the hourly allowance."""
        now = dt_util.utcnow()
        while self._requests and self._requests[0] <= now - timedelta(hours=1):
            self._requests.popleft()
        limit = self.client.rate_limit_limit or DEFAULT_RATE_LIMIT
        remaining = self.client.rate_limit_remaining
        if remaining is not None and remaining < limit * LOW_REMAINING_SHARE:
            return 0
        hourly = int(limit * HISTORY_SHARE)
        # The live poll slows down once the rolling hour reaches its guard: the import takes
        # only what stays well under it, so a large fleet's charging keeps the live pace and
        # the history catches up in quieter hours.
        under_guard = int(limit * HOURLY_SHARE * GUARD_HEADROOM) - self.client.requests_last_hour
        return max(0, min(hourly // TICKS_PER_HOUR, hourly - len(self._requests), under_guard))

    def _count_from(self, before: int) -> int:
        # Counts the live poll's requests too if it ran meanwhile: errs on the safe side.
        sent = self.client.request_count - before
        self._requests.extend([dt_util.utcnow()] * sent)
        return sent

    async def _async_run(self) -> None:
        assert self._data is not None
        data = self._data
        # Here, not when the options change: a listing under way would overwrite its reset.
        if (since := self._earlier_start()) is not None:
            # A longer window was chosen: list again from its start.
            data["since"], data["last_listing"] = since.isoformat(), None
        budget = self._budget()
        now = dt_util.utcnow()
        last = dt_util.parse_datetime(data["last_listing"]) if data["last_listing"] else None
        if budget > 0 and (last is None or now - last >= LISTING_INTERVAL):
            before = self.client.request_count
            try:
                await self._async_list(data, last)
            finally:
                budget -= self._count_from(before)
            data["last_listing"] = now.isoformat()
        if not data["pending"] or budget <= 0:
            return
        waiting = len(data["pending"])
        changed: Changed = {}
        # Imported only once the recorder has them: progress saved meanwhile (an unload cancels
        # this write and saves before the cancellation reaches it) must not call them imported.
        staged: dict[str, Imported] = {}
        failure: EvEnergyError | None = None
        try:
            for summary in list(data["pending"]):
                if budget <= 0:
                    break
                budget -= 1
                self._requests.append(dt_util.utcnow())
                try:
                    usage = await self.client.async_get_energy_usage(summary["id"])
                except (EvEnergyApiError, EvEnergyResponseError) as err:
                    if isinstance(err, EvEnergyApiError) and err.status != 404:
                        raise
                    # Gone or unreadable: waiting for it would block everything behind it.
                    self._report(summary["id"], "", f"energy usage not imported: {err}")
                    data["pending"].remove(summary)
                    continue
                self._import(_from_summary(summary), usage, changed, staged)
        except EvEnergyError as err:
            failure = err
        # What was imported before an API failure is written all the same. Cancelled (an
        # unload, or Home Assistant stopping with the recorder already gone), nothing is
        # written and what was staged stays queued.
        await self._async_write(changed, staged)
        data["imported"].update(staged)
        data["pending"] = [s for s in data["pending"] if s["id"] not in staged]
        if failure is not None:
            raise failure
        # A backlog (the backfill) is logged batch by batch; routine updates only in debug logs.
        backlog = bool(data["pending"]) or self._backlog
        self._backlog = bool(data["pending"])
        _LOGGER.log(
            logging.INFO if backlog else logging.DEBUG,
            "Charging history: imported %s of %s waiting sub-sessions (%s left)",
            waiting - len(data["pending"]),
            waiting,
            len(data["pending"]),
        )

    async def _async_list(self, data: StoredHistory, last: datetime | None) -> None:
        """Queue sub-sessions that are new, open and growing, or recalculated, newest first.

        They go ahead of what is still waiting, so a backfill never delays recent charging.
        """
        since = dt_util.parse_datetime(data["since"], raise_on_error=True)
        ended_after = since if last is None else max(since, last - REVISION_WINDOW)
        listed = await self.client.async_get_sub_sessions(is_finished=False)
        listed += await self.client.async_get_sub_sessions(ended_after=ended_after)
        fresh: dict[str, dict[str, Any]] = {}
        for sub in listed:
            known = data["imported"].get(sub.id)
            if known and known["fingerprint"] == _fingerprint(sub):
                continue
            if sub.vehicle_id is None:
                self._report(sub.id, "", "it names no vehicle")
                continue
            fresh[sub.id] = _summary(sub)
        waiting = [summary for summary in data["pending"] if summary["id"] not in fresh]
        data["pending"] = [*fresh.values(), *waiting]

    def _import(
        self,
        sub: ChargingSubSession,
        usage: EnergyUsage,
        changed: Changed,
        staged: dict[str, Imported],
    ) -> None:
        """Stage the sub-session's new contribution; note which hours changed, per vehicle."""
        assert self._data is not None
        assert sub.vehicle_id is not None
        result = hourly_values(sub, usage)
        for skipped in result.skipped:
            started = skipped.started_at.isoformat() if skipped.started_at else "?"
            self._report(sub.id, started, f"interval {started} skipped: {skipped.reason}")
        hours: Hours = {
            hour.isoformat(): {quantity.value: value for quantity, value in values.items()}
            for hour, values in result.hours.items()
        }
        old = self._data["imported"].get(sub.id)
        staged[sub.id] = Imported(
            vehicle=sub.vehicle_id,
            currency=usage.currency or sub.currency,
            fingerprint=_fingerprint(sub),
            hours=hours,
            imported_at=dt_util.utcnow().isoformat(),
        )
        before = columns(_hourly(old), old["currency"]) if old is not None else {}
        after = columns(result.hours, staged[sub.id]["currency"])
        vehicle = changed.setdefault(sub.vehicle_id, {})
        for series, hour_set in touched(before, after).items():
            vehicle.setdefault(series, set()).update(hour_set)

    def _report(self, sub_id: str, key: str, message: str) -> None:
        if (sub_id, key) not in self._reported:
            self._reported.add((sub_id, key))
            _LOGGER.warning("Charging sub-session %s: %s", sub_id, message)

    async def _async_write(self, changed: Changed, staged: dict[str, Imported]) -> None:
        """Restate each changed vehicle's statistics from their first changed hour on."""
        assert self._data is not None
        contributions = {**self._data["imported"], **staged}
        for vehicle_id, hours in changed.items():
            subs = {k: i for k, i in contributions.items() if i["vehicle"] == vehicle_id}
            states = hour_states((columns(_hourly(i), i["currency"]) for i in subs.values()), hours)
            vehicle = self.coordinator.data.vehicles.get(vehicle_id)
            name = (vehicle.display_name if vehicle else None) or vehicle_id
            for series in sorted(states, key=_write_order):
                quantity, currency = series
                unit, unit_class = _UNITS.get(quantity, (currency, None))
                # Money names its currency, and has it in the id unless the plain statistics' one.
                title, suffix = f"{name} {_NAMES[quantity]}", None
                if quantity in MONEY:
                    title += f" ({currency})"
                    if currency != await self._async_primary_currency(vehicle_id, subs):
                        suffix = currency
                metadata = StatisticMetaData(
                    mean_type=StatisticMeanType.NONE,
                    has_sum=True,
                    name=title,
                    source=DOMAIN,
                    statistic_id=statistic_id(vehicle_id, quantity, suffix),
                    unit_class=unit_class,
                    unit_of_measurement=unit,
                )
                await self._async_restate(metadata, states[series])

    async def _async_primary_currency(
        self, vehicle_id: str, subs: Mapping[str, Imported]
    ) -> str | None:
        """Return the currency of the vehicle's plain cost and savings statistics.

        The one they already have in the recorder, so existing statistics (and the Energy
        dashboard settings that use them) keep it; for a vehicle with none yet, the currency of
        its newest sub-session (ids are time-ordered ULIDs).
        """
        if vehicle_id not in self._primary:
            ids = [statistic_id(vehicle_id, q) for q in (Quantity.COST, Quantity.SAVINGS)]
            recorded = await get_instance(self.hass).async_add_executor_job(
                partial(get_metadata, self.hass, statistic_ids=set(ids))
            )
            units = [recorded[i][1]["unit_of_measurement"] for i in ids if i in recorded]
            newest = [subs[k]["currency"] for k in sorted(subs, reverse=True)]
            self._primary[vehicle_id] = next((c for c in (*units, *newest) if c), None)
        return self._primary[vehicle_id]

    async def _async_restate(
        self, metadata: StatisticMetaData, states: dict[datetime, float]
    ) -> None:
        stat_id = metadata["statistic_id"]
        first = min(states)
        recorder = get_instance(self.hass)
        rows = (
            await recorder.async_add_executor_job(
                statistics_during_period,
                self.hass,
                first,
                None,
                {stat_id},
                "hour",
                None,
                {"state", "sum", "change"},
            )
        ).get(stat_id, [])
        if rows:
            base = (rows[0].get("sum") or 0.0) - (rows[0].get("change") or 0.0)
        else:
            last = await recorder.async_add_executor_job(
                get_last_statistics, self.hass, 1, stat_id, False, {"sum"}
            )
            base = (last.get(stat_id) or [{}])[0].get("sum") or 0.0
        recorded = {
            dt_util.utc_from_timestamp(row["start"]): (
                row.get("state") or 0.0,
                row.get("sum") or 0.0,
            )
            for row in rows
        }
        new_rows = restate(base, recorded, states)
        if not new_rows:
            return
        async_add_external_statistics(
            self.hass,
            metadata,
            [StatisticData(start=row.start, state=row.state, sum=row.sum) for row in new_rows],
        )
        # The next tick (minutes away) reads these rows back; each tick writes a statistic once.
        await recorder.async_block_till_done()

    @callback
    def _save(self) -> None:
        # Once stopped, the unload has saved the progress: a tick unwinding from its
        # cancellation must write nothing after that, which would bring a removed entry's Store
        # back or overwrite what the entry's next import saved.
        if not self._lifecycle.stopped:
            self._store.async_delay_save(self._stored, 1)

    async def _async_save_now(self) -> None:
        """On unload: stop every tick and timer, then write the progress, this import's last.

        At once: a delayed save would wait for HA's stop. A tick cut short has not yet counted
        what it fetched as imported, so that stays queued.
        """
        self._lifecycle.stop()
        await self._store.async_save(self._stored())

    def _stored(self) -> StoredHistory:
        assert self._data is not None
        self._data["requests"] = [t.isoformat() for t in self._requests]
        self._prune(self._data)
        return self._data

    @staticmethod
    def _prune(data: StoredHistory) -> None:
        """Forget the hours of sub-sessions that can no longer change, keeping the Store small.

        Ended and imported more than a revision window (and a day) ago, they are never listed or
        fetched again, so their hours are never recomputed; their fingerprint stays so they are
        not imported twice if a longer backfill lists them again.
        """
        cutoff = dt_util.utcnow() - REVISION_WINDOW - timedelta(days=1)
        for imported in data["imported"].values():
            end = imported["fingerprint"][0]
            if not imported["hours"] or end is None:
                continue
            moments = (dt_util.parse_datetime(t) for t in (end, imported["imported_at"]))
            if all(moment is not None and moment < cutoff for moment in moments):
                imported["hours"] = {}


async def async_setup_history(
    hass: HomeAssistant,
    entry: EvEnergyConfigEntry,
    client: EvEnergyClient,
    coordinator: EvEnergyLiveCoordinator,
) -> ChargingHistory | None:
    """Start the import, unless the recorder (where statistics live) is not running."""
    if "recorder" not in hass.config.components:
        _LOGGER.info("The recorder is not running: charging history is not imported")
        return None
    history = ChargingHistory(hass, entry, client, coordinator)
    await history.async_start()
    return history


async def async_remove_history(hass: HomeAssistant, entry: EvEnergyConfigEntry) -> None:
    """Forget the import's progress; clear its statistics if the user chose so in the options."""
    store = _store(hass, entry.entry_id)
    data = await store.async_load()
    if (
        data
        and entry.options.get(CONF_CLEAR_HISTORY_ON_REMOVE)
        and "recorder" in hass.config.components
    ):
        # Every statistic of its vehicles, whatever currencies they were in.
        vehicles = tuple({f"{DOMAIN}:{i['vehicle'].lower()}_" for i in data["imported"].values()})
        recorder = get_instance(hass)
        recorded = await recorder.async_add_executor_job(
            partial(get_metadata, hass, statistic_source=DOMAIN)
        )
        recorder.async_clear_statistics(sorted(i for i in recorded if i.startswith(vehicles)))
    await store.async_remove()
