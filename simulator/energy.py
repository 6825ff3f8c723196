"""``/v2/charging_sub_sessions`` (list and one), their energy usage intervals, from the world.

Intervals are the fixed half hours the physics steps in (``SubSession.slots``), from the
half hour the sub-session started until it ended (or now); gaps where no energy flowed are
zero-energy intervals, as ev.energy returns them. The simulator charges straight away, so the
counterfactual ``alt_usage_watt_hours`` equals what was delivered.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from .api import V2Api, _parse_datetime_param, cursor_page, expand_param
from .model import Session, SubSession, slot_key
from .oauth import AccessToken
from .problems import ProblemError, bad_parameter, not_found
from .tariff import HALF_HOUR, floor_half_hour
from .views import Json, Views, iso

SUB_SESSION_EXPANDS = {"vehicle", "evse", "energy_usage"}
MODES = {"SMART", "BOOST", "UNMANAGED_HOME", "UNMANAGED_OTG", "MANAGED_OTG"}
# Charging losses between the supply meter and the car.
METER_LOSS_FACTOR = 1.1
READ_SCOPE = "charging_session:read"


def _bool_param(request: web.Request, name: str) -> bool | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    if raw.lower() not in ("true", "false"):
        raise ProblemError(bad_parameter(name))
    return raw.lower() == "true"


def _optional_int(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ProblemError(bad_parameter(name)) from None


def _interval(start: datetime, seconds: int, wh: int, price: int) -> Json:
    return {
        "interval_seconds": seconds,
        "started_at": iso(start),
        "total_energy_delivered_watt_hours": wh,
        "meter_usage_watt_hours": round(wh * METER_LOSS_FACTOR),
        "alt_usage_watt_hours": wh,
        "percentage_import": 100,
        "electricity_cost_sub_unit": str(price),
        "energy_delivered_by_price": {"price": str(price), "energy_delivered_watt_hours": wh},
    }


def _merged(intervals: list[Json]) -> list[Json]:
    """Merge runs of delivering (or idle) intervals; prices become the sum of distinct rates."""
    runs: list[list[Json]] = []
    for interval in intervals:
        delivering = interval["total_energy_delivered_watt_hours"] > 0
        if runs and (runs[-1][0]["total_energy_delivered_watt_hours"] > 0) == delivering:
            runs[-1].append(interval)
        else:
            runs.append([interval])
    merged = []
    for run in runs:
        wh = sum(i["total_energy_delivered_watt_hours"] for i in run)
        price = str(sum({int(i["electricity_cost_sub_unit"]) for i in run}))
        merged.append(
            {
                **run[0],
                "interval_seconds": sum(i["interval_seconds"] for i in run),
                "total_energy_delivered_watt_hours": wh,
                "meter_usage_watt_hours": sum(i["meter_usage_watt_hours"] for i in run),
                "alt_usage_watt_hours": sum(i["alt_usage_watt_hours"] for i in run),
                "electricity_cost_sub_unit": price,
                "energy_delivered_by_price": {"price": price, "energy_delivered_watt_hours": wh},
            }
        )
    return merged


def energy_usage(views: Views, sub: SubSession, merge: bool = False) -> Json:
    """EnergyUsage of a sub-session (prices in minor units per kWh)."""
    world = views.world
    intervals = []
    cursor = floor_half_hour(sub.start)
    while cursor < (sub.end or views.now):
        wh = round(sub.slots.get(slot_key(cursor), 0.0))
        intervals.append(_interval(cursor, 1800, wh, world.tariff.price_at(cursor)))
        cursor += HALF_HOUR
    url = views.url("charging_sub_sessions", sub.id)
    return {
        "url": f"{url}/energy_usage",
        "currency": world.tariff.currency,
        "charging_sub_session": url,
        "intervals": _merged(intervals) if merge else intervals,
        "last_updated_at": iso(min(sub.end or views.now, views.now)),
    }


def sub_session_view(v: Views, session: Session, sub: SubSession, expand: set[str]) -> Json:
    """Render a sub-session as ``GET /charging_sub_sessions/{id}`` returns it."""
    world = v.world
    body: dict[str, Any] = v.sub_session(session, sub)
    body["energy_usage"] = (
        energy_usage(v, sub)
        if "energy_usage" in expand
        else f"{v.url('charging_sub_sessions', sub.id)}/energy_usage"
    )
    if "vehicle" in expand and (vehicle := world.vehicles.get(session.vehicle_id)):
        body["vehicle"] = v.vehicle(vehicle, set())
    if "evse" in expand and (evse := world.evses.get(session.evse_id or "")):
        body["evse"] = v.evse(evse, set())
    return body


class SubSessionApi:
    """Handlers for the sub-session list and energy usage, on ``V2Api``'s auth and limits."""

    def __init__(self, v2: V2Api) -> None:
        """Serve the world behind ``v2`` through its token, scope and rate-limit checks."""
        self.v2 = v2

    def routes(self) -> list[web.RouteDef]:
        """Route table."""
        route = self.v2._route  # the same token, scope and rate-limit checks as every route
        return [
            route("GET", "/charging_sub_sessions", self.list_sub_sessions, READ_SCOPE),
            route("GET", "/charging_sub_sessions/{id}", self.get_sub_session, READ_SCOPE),
            route(
                "GET",
                "/charging_sub_sessions/{id}/energy_usage",
                self.get_energy_usage,
                READ_SCOPE,
            ),
        ]

    def _pairs(self) -> list[tuple[Session, SubSession]]:
        return [(session, sub) for session in self.v2.world.sessions for sub in session.subs]

    def _filters(self, request: web.Request) -> list[Callable[[Session, SubSession], bool]]:
        q = request.query
        checks: list[Callable[[Session, SubSession], bool]] = []
        if (vehicle := q.get("vehicle_id")) is not None:
            checks.append(lambda session, _: session.vehicle_id == vehicle)
        if (evse := q.get("evse_id")) is not None:
            checks.append(lambda session, _: session.evse_id == evse)
        if (user := q.get("user_id")) is not None:
            checks.append(lambda *_: user in ("me", self.v2.world.user.id))
        if (mode := q.get("mode")) is not None:
            if mode not in MODES:
                raise ProblemError(bad_parameter("mode"))
            checks.append(lambda _, sub: sub.mode == mode)
        if (finished := _bool_param(request, "is_finished")) is not None:
            checks.append(lambda _, sub: (sub.end is not None) == finished)
        if (low := _optional_int(request, "energy_delivered_watt_hours__gte")) is not None:
            checks.append(lambda _, sub: round(sub.energy_wh) >= low)
        if (high := _optional_int(request, "energy_delivered_watt_hours__lte")) is not None:
            checks.append(lambda _, sub: round(sub.energy_wh) <= high)
        checks.extend(self._time_filters(request))
        return checks

    @staticmethod
    def _time_filters(request: web.Request) -> list[Callable[[Session, SubSession], bool]]:
        bounds: list[tuple[str, datetime, bool]] = []
        for name, field, after in (
            ("start__gt", "start", True),
            ("start__lt", "start", False),
            ("end__gt", "end", True),
            ("end__lt", "end", False),
        ):
            if (bound := _parse_datetime_param(request, name)) is not None:
                bounds.append((field, bound, after))

        def check(_: Session, sub: SubSession) -> bool:
            for field, bound, after in bounds:
                # SQL semantics: an open sub-session (no end) matches no end__ filter.
                value: datetime | None = getattr(sub, field)
                if value is None or not (value > bound if after else value < bound):
                    return False
            return True

        return [check] if bounds else []

    async def list_sub_sessions(
        self, request: web.Request, _: AccessToken, v: Views
    ) -> web.Response:
        """GET /charging_sub_sessions: newest first, filtered, cursor-paginated."""
        expand = expand_param(request, SUB_SESSION_EXPANDS)
        checks = self._filters(request)
        pairs = sorted(self._pairs(), key=lambda pair: pair[1].id, reverse=True)
        items = [
            sub_session_view(v, session, sub, expand)
            for session, sub in pairs
            if all(check(session, sub) for check in checks)
        ]
        page, headers = cursor_page(request, items, descending=True)
        return web.json_response(page, headers=headers)

    def _pair(self, request: web.Request) -> tuple[Session, SubSession]:
        pair = next((p for p in self._pairs() if p[1].id == request.match_info["id"]), None)
        if pair is None:
            raise ProblemError(not_found())
        return pair

    async def get_sub_session(self, request: web.Request, _: AccessToken, v: Views) -> web.Response:
        """GET /charging_sub_sessions/{id}."""
        expand = expand_param(request, SUB_SESSION_EXPANDS)
        return web.json_response(sub_session_view(v, *self._pair(request), expand))

    async def get_energy_usage(
        self, request: web.Request, _: AccessToken, v: Views
    ) -> web.Response:
        """GET /charging_sub_sessions/{id}/energy_usage (``energy_delivered_watt_hours__gt``)."""
        # Accepted as documented, but EnergyUsage declares `charging_sub_session` a URI only.
        expand_param(request, {"charging_sub_session"})
        merge = _bool_param(request, "merge_consecutive_intervals") or False
        minimum = _optional_int(request, "energy_delivered_watt_hours__gt")
        body = energy_usage(v, self._pair(request)[1], merge)
        if minimum is not None:
            body["intervals"] = [
                i for i in body["intervals"] if i["total_energy_delivered_watt_hours"] > minimum
            ]
        return web.json_response(body)
