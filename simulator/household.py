"""The home around the chargers: a household meter counting the house's own load and the charging.

The house draws a daily profile (watts by local hour, each hour a little off it, the same way
every run): a pure function of time, like the tariff, so its past is known for any hour. The
charging is what the world's sessions delivered at home chargers, half-hour by half-hour
(``SubSession.slots``). ``GET /_sim/household`` serves the meter now and hour by hour back: the
demo makes it the Energy dashboard's grid connection, with the charger and cars inside it.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import random
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from .tariff import HALF_HOUR, floor_half_hour

if TYPE_CHECKING:
    from .model import World

HOUR = timedelta(hours=1)
# Watts by local hour: about 10 kWh a day, low overnight, peaks at breakfast and dinner.
DEFAULT_LOAD_WATTS_BY_HOUR = [
    *(230, 210, 200, 200, 210, 260, 430, 700, 580, 400, 350, 370),
    *(460, 390, 340, 350, 490, 880, 1250, 1020, 790, 630, 470, 310),
]
MAX_HOURS = 24 * 366


def floor_hour(instant: datetime) -> datetime:
    """Start of the hour containing ``instant``."""
    return instant.replace(minute=0, second=0, microsecond=0)


@dataclass
class Household:
    """The house's load profile and its meter's reading at the world's start."""

    # The reading at the start, before the home charging (the past sessions' too) is added.
    meter_wh: float = 8_000_000.0
    load_watts_by_hour: list[int] = field(default_factory=lambda: [*DEFAULT_LOAD_WATTS_BY_HOUR])
    # Each hour's load is off the profile by up to this share, the same way every run.
    variation_percent: int = 25

    def __post_init__(self) -> None:
        """Reject a profile that is not one value per hour of the day."""
        if len(self.load_watts_by_hour) != 24:
            raise ValueError("load_watts_by_hour needs 24 values")

    def load_watts(self, instant: datetime, tz: ZoneInfo) -> float:
        """Return the house's own draw (W) during the local hour containing ``instant``."""
        local = instant.astimezone(tz)
        # Seeded by the hour, so the past reads the same on every request and run.
        wobble = random.Random(local.toordinal() * 24 + local.hour).uniform(-1, 1)
        return self.load_watts_by_hour[local.hour] * (1 + self.variation_percent / 100 * wobble)

    def load_wh(self, start: datetime, end: datetime, tz: ZoneInfo) -> float:
        """Energy the house drew in [start, end) (negative when ``end`` comes first)."""
        if end < start:
            return -self.load_wh(end, start, tz)
        total = 0.0
        cursor = start
        while cursor < end:
            step_end = min(end, floor_hour(cursor) + HOUR)
            total += self.load_watts(cursor, tz) * (step_end - cursor).total_seconds() / 3600
            cursor = step_end
        return total


def _home_charging(world: World) -> dict[str, dict[datetime, float]]:
    """Energy delivered at each charger (by id), per half-hour slot start."""
    slots: dict[str, dict[datetime, float]] = defaultdict(lambda: defaultdict(float))
    for session in world.sessions:
        if session.evse_id is None:
            continue
        for sub in session.subs:
            for key, wh in sub.slots.items():
                slots[session.evse_id][datetime.fromisoformat(key)] += wh
    return slots


def household_view(world: World, hours: int) -> dict[str, Any]:
    """Return the household meter now and its last ``hours`` full hours and the current one.

    Each hour has the house's load, the charging, their cost at the tariff's prices, the hour's
    mean price (major units per kWh, like the cost), and the household meter's and each
    charger's reading at its end; readings never go back, even when the clock does (the world
    does not rewind).
    """
    world.sync()
    now = world.last_sync
    tz = world.tariff.tz
    household = world.household
    charging = _home_charging(world)
    meter = household.meter_wh + household.load_wh(world.start, now, tz)
    meter += sum(sum(slots.values()) for slots in charging.values())
    chargers = {evse_id: evse.meter_wh for evse_id, evse in world.evses.items()}
    power = household.load_watts(now, tz) + sum(
        vehicle.charge_rate_watts
        for vehicle in world.vehicles.values()
        if vehicle.is_charging and vehicle.evse_id is not None
    )
    view = {
        "now": now,
        "currency": world.tariff.currency,
        "meter_wh": meter,
        "power_watts": power,
        "charger_meter_wh": dict(chargers),
    }
    rows = []
    end = now
    start = floor_hour(now)
    for _ in range(hours + 1):
        house = household.load_wh(start, end, tz)
        charged = dict.fromkeys(charging, 0.0)
        cost = 0.0
        slot = floor_half_hour(start)
        while slot < end:
            slot_end = min(end, slot + HALF_HOUR)
            energy = household.load_wh(max(slot, start), slot_end, tz)
            for evse_id, slots in charging.items():
                charged[evse_id] += slots.get(slot, 0.0)
                energy += slots.get(slot, 0.0)
            cost += energy / 1000 * world.tariff.price_at(slot) / 100
            slot = slot_end
        rows.append(
            {
                "start": start,
                "end": end,
                "house_wh": house,
                "charging_wh": sum(charged.values()),
                "cost": cost,
                "price": sum(world.tariff.price_at(start + k * HALF_HOUR) for k in (0, 1)) / 200,
                "meter_wh": meter,
                "charger_meter_wh": dict(chargers),
            }
        )
        meter -= house + sum(charged.values())
        for evse_id in chargers:
            chargers[evse_id] -= charged.get(evse_id, 0.0)
        end, start = start, start - HOUR
    view["hours"] = rows[::-1]
    return view
