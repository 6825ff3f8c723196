"""Each plugged-in vehicle's charging plan, read sparingly and ticked at every slot boundary.

A plan belongs to the current sub-session of an open charging session. It is read when that
sub-session appears or changes (plug-in, boost, smart charging toggled) and again when the
copy is 30 minutes old; never for a vehicle without an open session. Between reads,
listeners are told at each slot boundary from a local timer, so `charging_planned` flips on
time with no request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
import time

from homeassistant.core import HomeAssistant, callback
from homeassistant.util import dt as dt_util

from .api import EvEnergyClient, PriceSchedule
from .const import (
    PLAN_REFRESH_INTERVAL,
    PLAN_REFRESH_SLACK,
    SLOW_READS_RETRY,
)
from .coordinator import EvEnergyLiveCoordinator
from .followers import EvEnergySessionsCoordinator, FollowerCoordinator
from .lifecycle import Lifecycle
from .plan import ChargePlan, PlanSlot, merge_slots, plan_voltage
from .price_coordinator import EvEnergyPriceCoordinator
from .read_budget import HOUR, ReadBudget
from .runtime import EvEnergyConfigEntry


@dataclass(frozen=True, kw_only=True)
class PlanTarget:
    """The sub-session whose plan a vehicle follows, and the charger it is on."""

    sub_session_id: str
    evse_id: str | None


@dataclass(frozen=True, kw_only=True)
class VehiclePlan:
    """A plan as read, with when it was read."""

    target: PlanTarget
    slots: tuple[PlanSlot, ...]
    # Not part of the plan: a re-read with the same answer is no change, and tells nobody.
    read_at: datetime = field(compare=False)


class EvEnergyPlanCoordinator(FollowerCoordinator[dict[str, VehiclePlan]]):
    """The plans of the vehicles with an open charging session, by vehicle id."""

    feature = "plans"

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
        self.timers = Lifecycle(hass, entry.async_on_unload, self.name)
        self.budget = ReadBudget()
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
                targets[vehicle_id] = PlanTarget(sub_session_id=current.id, evse_id=session.evse_id)
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
        share = self._share()
        if self._waiting:
            wait = self.budget.wait(time.monotonic(), share, 1)
            return max(timedelta(seconds=wait), SLOW_READS_RETRY)
        return self._period(len(data), share)

    async def _async_fetch(self) -> dict[str, VehiclePlan]:
        """Read new sub-sessions' plans first, then the stalest copies, within the share."""
        now, clock = dt_util.utcnow(), time.monotonic()
        previous = self.data or {}
        targets = self._targets()
        share = self._share()
        fresh_for = self._period(len(targets), share) - PLAN_REFRESH_SLACK
        plans: dict[str, VehiclePlan] = {}
        new: list[str] = []
        stale: list[tuple[datetime, str]] = []
        for vehicle_id, target in targets.items():
            known = previous.get(vehicle_id)
            if known is None or known.target != target:
                new.append(vehicle_id)
            elif now - known.read_at < fresh_for:
                plans[vehicle_id] = known
            else:
                stale.append((known.read_at, vehicle_id))
        wanted = [*new, *(vehicle_id for _, vehicle_id in sorted(stale))]
        allowed = self.budget.allowance(clock, share)
        self._waiting = len(wanted) > allowed
        for vehicle_id in wanted[allowed:]:
            # Held back: an older copy of the same sub-session's plan beats none.
            if (known := previous.get(vehicle_id)) is not None and known.target == (
                targets[vehicle_id]
            ):
                plans[vehicle_id] = known
        for vehicle_id in wanted[:allowed]:
            target = targets[vehicle_id]
            self.budget.spend(clock, 1)
            intervals = await self.client.async_get_schedules(target.sub_session_id)
            plans[vehicle_id] = VehiclePlan(
                target=target, slots=merge_slots(intervals), read_at=now
            )
        return plans

    def plan_for(self, vehicle_id: str) -> ChargePlan:
        """Return the vehicle's plan with the current voltage, prices and carbon intensity."""
        known = (self.data or {}).get(vehicle_id)
        data = self.live.data
        evse = data.evses.get(known.target.evse_id or "") if known else None
        return ChargePlan(
            known.slots if known else (),
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
