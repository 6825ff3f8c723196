"""Each plugged-in vehicle's charging plan, read sparingly and ticked at every slot boundary.

A plan belongs to the current sub-session of an open charging session. It is read when that
sub-session appears or changes (plug-in, boost, smart charging toggled) and again when the
copy is 30 minutes old; never for a vehicle without an open session. Between reads,
listeners are told at each slot boundary from a local timer, so `charging_planned` flips on
time with no request. The vehicles' plans are read together, and one that cannot be read is
that vehicle's problem alone (resource_backoff).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
import logging
import time

from homeassistant.core import HomeAssistant, callback
from homeassistant.util import dt as dt_util

from .api import EvEnergyApiError, EvEnergyClient, EvEnergyError, PriceSchedule
from .const import (
    PLAN_REFRESH_INTERVAL,
    PLAN_REFRESH_SLACK,
    SLOW_READS_RETRY,
)
from .coordinator import EvEnergyLiveCoordinator
from .followers import EvEnergySessionsCoordinator, FollowerCoordinator
from .plan import ChargePlan, PlanSlot, merge_slots, plan_voltage
from .price_coordinator import EvEnergyPriceCoordinator
from .read_budget import HOUR, ReadBudget
from .resource_backoff import EARLY, ResourceBackoff, account_wide
from .runtime import EvEnergyConfigEntry

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class PlanTarget:
    """The sub-session whose plan a vehicle follows, when it started, and the charger it is on."""

    sub_session_id: str
    started: datetime | None
    evse_id: str | None


@dataclass(frozen=True, kw_only=True)
class VehiclePlan:
    """A plan as read, with when it was read; slots None: it could not be (tried at read_at)."""

    target: PlanTarget
    slots: tuple[PlanSlot, ...] | None
    # Not part of the plan: a re-read with the same answer is no change, and tells nobody.
    read_at: datetime = field(compare=False)


class EvEnergyPlanCoordinator(FollowerCoordinator[dict[str, VehiclePlan]]):
    """The plans of the vehicles with an open charging session, by vehicle id.

    A vehicle whose plan cannot be read keeps its last copy through one failure, then has an
    unreadable plan (slots None) until a read works again, retried with a back-off of its own.
    """

    feature = "plans"
    backoff: ResourceBackoff

    def __init__(
        self,
        hass: HomeAssistant,
        entry: EvEnergyConfigEntry,
        client: EvEnergyClient,
        live: EvEnergyLiveCoordinator,
        sessions: EvEnergySessionsCoordinator,
        prices: EvEnergyPriceCoordinator,
    ) -> None:
        """Follow `sessions` for sub-session changes; price plans from `prices`."""
        super().__init__(hass, entry, client, live, name="plans", interval=PLAN_REFRESH_INTERVAL)
        self.sessions = sessions
        self.prices = prices
        self.budget = ReadBudget()
        self.backoff = ResourceBackoff()
        # Plans the last refresh could not read for want of room in the share.
        self._waiting = False
        entry.async_on_unload(sessions.async_add_listener(self._on_sessions))

    def _targets(self) -> dict[str, PlanTarget]:
        """Vehicles in the account with an open session, plugged in as far as we know."""
        targets: dict[str, PlanTarget] = {}
        vehicles = self.live.data.vehicles
        for vehicle_id, session in (self.sessions.data or {}).items():
            vehicle = vehicles.get(vehicle_id)
            if vehicle is None or not session.is_open or not session.sub_sessions:
                continue
            if vehicle.status is not None and vehicle.status.is_plugged_in is False:
                continue
            current = session.sub_sessions[-1]
            if current.end is None and current.id is not None:
                targets[vehicle_id] = PlanTarget(
                    sub_session_id=current.id, started=current.start, evse_id=session.evse_id
                )
        return targets

    @callback
    def _on_sessions(self) -> None:
        """Read at once when a vehicle's sub-session starts, changes or ends.

        Not before the first read: setup reads right after the sessions.
        """
        if self.data is None or not self.sessions.last_update_success:
            return
        known = {vehicle_id: plan.target for vehicle_id, plan in (self.data or {}).items()}
        if self._targets() != known:
            self.timers.spawn(self.async_request_refresh(), "read")

    def _share(self) -> int:
        """Plan reads an hour: what the sessions leave of the slower reads' share."""
        return self.live.slow_read_shares().plans

    def _period(self, targets: int, share: int) -> timedelta:
        """How old a copy may grow: 30 minutes, longer when the share cannot keep up."""
        return max(PLAN_REFRESH_INTERVAL, timedelta(seconds=HOUR * targets / share))

    def _next_interval(self, data: dict[str, VehiclePlan]) -> timedelta:
        share, clock = self._share(), time.monotonic()
        if self._waiting:
            wait = self.budget.wait(clock, share, 1)
            return max(timedelta(seconds=wait), SLOW_READS_RETRY)
        period = self._period(len(data), share)
        if (retry := self.backoff.next_retry(clock)) is None:
            return period
        return min(period, timedelta(seconds=max(retry - clock, EARLY)))

    async def _async_fetch(self) -> dict[str, VehiclePlan]:
        """Read new sub-sessions' plans first, then the stalest copies, within the share."""
        now, clock = dt_util.utcnow(), time.monotonic()
        previous = self.data or {}
        targets = self._targets()
        # A vehicle unplugged starts afresh next time.
        self.backoff.forget_all_but(targets)
        share = self._share()
        period = self._period(len(targets), share)
        plans, wanted = self._kept_and_wanted(previous, targets, now, clock, period)
        allowed = self.budget.allowance(clock, share)
        self._waiting = len(wanted) > allowed
        for vehicle_id in wanted[allowed:]:
            # Held back: an older copy of the same sub-session's plan beats none.
            if (known := previous.get(vehicle_id)) is not None and known.target == (
                targets[vehicle_id]
            ):
                plans[vehicle_id] = known
        reading = wanted[:allowed]
        self.budget.spend(clock, len(reading))
        results = await asyncio.gather(
            *(
                self.client.async_get_schedules(targets[vehicle_id].sub_session_id)
                for vehicle_id in reading
            ),
            return_exceptions=True,
        )
        account_error: EvEnergyError | None = None
        for vehicle_id, result in zip(reading, results, strict=True):
            target = targets[vehicle_id]
            if isinstance(result, EvEnergyError):
                # The plans permission missing (403) is every vehicle's: the repair says so.
                if account_wide(result) or (
                    isinstance(result, EvEnergyApiError) and result.status == 403
                ):
                    account_error = account_error or result
                    continue
                known = previous.get(vehicle_id)
                first, cap = self._backoff_bounds(result, period)
                if self.backoff.failed(vehicle_id, clock, first=first, cap=cap):
                    _LOGGER.warning("Cannot read the plan of vehicle %s: %s", vehicle_id, result)
                    if known is not None and known.target == target:
                        plans[vehicle_id] = known
                        continue
                plans[vehicle_id] = VehiclePlan(target=target, slots=None, read_at=now)
            elif isinstance(result, BaseException):
                raise result
            else:
                if self.backoff.succeeded(vehicle_id):
                    _LOGGER.info("The plan of vehicle %s can be read again", vehicle_id)
                plans[vehicle_id] = VehiclePlan(
                    target=target, slots=merge_slots(result, target.started), read_at=now
                )
        if account_error is not None:
            raise account_error
        return plans

    def _kept_and_wanted(
        self,
        previous: dict[str, VehiclePlan],
        targets: dict[str, PlanTarget],
        now: datetime,
        clock: float,
        period: timedelta,
    ) -> tuple[dict[str, VehiclePlan], list[str]]:
        """Return the copies that stay, and the vehicles whose plan to read in that order.

        New sub-sessions first, then the stalest copies; a vehicle whose reads fail waits for
        its back-off.
        """
        plans: dict[str, VehiclePlan] = {}
        new: list[str] = []
        stale: list[tuple[datetime, str]] = []
        for vehicle_id, target in targets.items():
            known = previous.get(vehicle_id)
            if known is None or known.target != target:
                # Read at once even while its last one is backing off: a new sub-session
                # (a boost, say) deserves its plan, and may well be readable.
                new.append(vehicle_id)
            elif self.backoff.failing(vehicle_id):
                if self.backoff.due(vehicle_id, clock):
                    stale.append((known.read_at, vehicle_id))
                else:
                    plans[vehicle_id] = known
            elif now - known.read_at < period - PLAN_REFRESH_SLACK:
                plans[vehicle_id] = known
            else:
                stale.append((known.read_at, vehicle_id))
        return plans, [*new, *(vehicle_id for _, vehicle_id in sorted(stale))]

    def readable(self, vehicle_id: str) -> bool:
        """Whether the vehicle's plan is known: read, or no open sub-session to read it for."""
        known = (self.data or {}).get(vehicle_id)
        return known is None or known.slots is not None

    def has_plan(self, vehicle_id: str) -> bool:
        """Whether the vehicle has a plan: one read for its open session."""
        known = (self.data or {}).get(vehicle_id)
        return known is not None and known.slots is not None

    def plan_for(self, vehicle_id: str) -> ChargePlan:
        """Return the vehicle's plan with the current voltage, prices and carbon intensity."""
        known = (self.data or {}).get(vehicle_id)
        data = self.live.data
        evse = data.evses.get(known.target.evse_id or "") if known else None
        return ChargePlan(
            known.slots if known and known.slots is not None else (),
            voltage=plan_voltage(
                evse.status.voltage_millivolts if evse and evse.status else None,
                data.user.country_code,
            ),
            prices=self.prices.data or PriceSchedule(),
            carbon_intensity=data.user.carbon_intensity_grams_per_kilowatt_hour,
        )

    @property
    def currency(self) -> str | None:
        """The tariff's currency, which plan costs are in."""
        tariff = self.live.data.tariff
        return tariff.currency if tariff else None

    @callback
    def async_update_listeners(self) -> None:
        """Tell listeners, then re-arm the boundary timer."""
        super().async_update_listeners()
        now = dt_util.utcnow()
        boundaries = {
            vehicle_id: boundary
            for vehicle_id in self.data or {}
            if (boundary := self.plan_for(vehicle_id).next_change(now)) is not None
        }
        first = min(boundaries.values(), default=None)
        at_first = {vehicle_id for vehicle_id, when in boundaries.items() if when == first}
        self.timers.at("boundary", first, partial(self._on_boundary, at_first))

    @callback
    def _on_boundary(self, vehicle_ids: set[str]) -> None:
        """Tell the listeners that the slots of these vehicles' plans start or end now."""
        self._pending_changed = vehicle_ids
        self.async_update_listeners()
        # Charging starts or stops now: while push works nothing else would read it soon.
        self.timers.spawn(self.live.async_read_at_slot_boundary(), "slot boundary read")
