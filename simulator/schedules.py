"""Charging plans (``ScheduleInterval``s) as ev.energy's smart charging would publish them.

A smart sub-session's plan is worked out afresh from the world's state at each request, so
it follows price and charge-limit changes at once: the cheapest half-hours before the
ready-by time (07:00 in the tariff's time zone) that together bring the battery to its limit,
earlier first on a tie. Boost is one open-ended interval; other modes publish no plan.

The plan is what is published, not what the physics does: simulated cars still charge as
soon as they are plugged in.
"""

from datetime import datetime, time, timedelta

from .model import Session, SubSession, World
from .tariff import HALF_HOUR, floor_half_hour
from .views import Json, Views, iso

READY_BY = time(7)
BOOST_CURRENT_MILLIAMPS = 32_000


def ready_by(world: World, now: datetime) -> datetime:
    """Return the next 07:00 in the tariff's time zone after ``now``."""
    local = now.astimezone(world.tariff.tz)
    target = datetime.combine(local.date(), READY_BY, tzinfo=world.tariff.tz)
    if target <= local:
        target = datetime.combine(local.date() + timedelta(days=1), READY_BY, world.tariff.tz)
    return target


def _interval(start: datetime, seconds: int | None, current: int, kind: str) -> Json:
    return {
        "started_at": iso(start),
        "interval_seconds": seconds,
        "current_milliamps": current,
        "schedule_type": kind,
    }


def plan(world: World, session: Session, sub: SubSession, now: datetime) -> list[Json]:
    """Return the sub-session's current plan, oldest first; none once it has ended."""
    vehicle = world.vehicles.get(session.vehicle_id)
    if sub.end is not None or vehicle is None:
        return []
    evse = world.evses.get(session.evse_id or "")
    if sub.mode == "BOOST":
        current = evse.max_current_milliamps if evse else BOOST_CURRENT_MILLIAMPS
        return [_interval(floor_half_hour(sub.start), None, current, "BOOST")]
    if sub.mode != "SMART":
        return []
    volts = (evse.voltage_millivolts if evse else 230_000) / 1000
    current = round(vehicle.charge_rate_watts / volts * 1000)
    deadline = ready_by(world, now)
    starts: list[datetime] = []
    cursor = floor_half_hour(now)
    while cursor < deadline:
        starts.append(cursor)
        cursor += HALF_HOUR
    needed_wh = vehicle.target_wh - vehicle.charge_wh
    chosen: set[datetime] = set()
    for start in sorted(starts, key=lambda s: (world.tariff.price_at(s), s)):
        if needed_wh <= 0:
            break
        usable = (min(start + HALF_HOUR, deadline) - max(start, now)).total_seconds()
        chosen.add(start)
        needed_wh -= vehicle.charge_rate_watts * usable / 3600
    return [
        _interval(start, int(HALF_HOUR.total_seconds()), current if start in chosen else 0, "SMART")
        for start in starts
    ]


def schedules_body(
    views: Views,
    session: Session,
    sub: SubSession,
    *,
    expand: set[str],
    gte: datetime | None,
    lte: datetime | None,
) -> Json:
    """Return the Schedules resource, its intervals filtered by start."""
    items = [
        item
        for item in plan(views.world, session, sub, views.now)
        if (gte is None or datetime.fromisoformat(item["started_at"]) >= gte)
        and (lte is None or datetime.fromisoformat(item["started_at"]) <= lte)
    ]
    return {
        "url": views.url("charging_sub_sessions", sub.id, "schedules"),
        "charging_sub_session": (
            views.sub_session(session, sub)
            if "charging_sub_session" in expand
            else views.url("charging_sub_sessions", sub.id)
        ),
        "schedules": items,
    }
