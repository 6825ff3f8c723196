"""The ev.energy v2 endpoints an integration uses, with auth, scopes, rate limit, pagination."""

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
import json
import math
import re
from typing import Any

from aiohttp import web
from multidict import MultiDict

from .model import ConflictError, Evse, Session, Vehicle, World
from .oauth import AccessToken, OAuthServer
from .problems import (
    ProblemError,
    bad_parameter,
    forbidden,
    not_found,
    problem,
    rate_limited,
    unauthorized,
    validation_failed,
)
from .ratelimit import RateLimiter
from .schedules import schedules_body
from .views import Json, Views

type Handler = Callable[[web.Request, AccessToken, Views], Awaitable[web.Response]]

ID_PATTERN = re.compile(r"[a-z]{4}[A-Z\d]{26}")
USER_EXPANDS = {
    "default_location.tariff",
    "default_location.tariff.supplier",
    "default_location.evse_site",
}
VEHICLE_EXPANDS = {"user", "trim", "trim.model", "trim.model.make", "latest_status_log"}
EVSE_EXPANDS = {"user", "model", "model.make", "latest_status_log", "ct_clamp"}
TARIFF_EXPANDS = {"supplier", "scheduler_tariff", "prices"}
SESSION_EXPANDS = {"vehicle", "evse", "sub_sessions"}
SESSION_READ = "charging_session:read"
PLAN_ID_PATTERN = re.compile(r"scpl[A-Z\d]{26}")
BOOLEANS = {"true": True, "1": True, "false": False, "0": False}


def expand_param(request: web.Request, allowed: set[str]) -> set[str]:
    """Parse ``expand`` (repeated and/or comma-separated) and close over prefixes."""
    values = {
        part.strip()
        for raw in request.query.getall("expand", [])
        for part in raw.split(",")
        if part.strip()
    }
    if not values <= allowed:
        raise ProblemError(bad_parameter("expand"))
    return {".".join(v.split(".")[: i + 1]) for v in values for i in range(v.count(".") + 1)}


def _int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ProblemError(bad_parameter(name)) from None
    if not low <= value <= high:
        raise ProblemError(bad_parameter(name))
    return value


def _link(previous: str | None, following: str | None) -> dict[str, str]:
    return {
        "Link": f'<{previous or "about:blank"}>; rel="previous", '
        f'<{following or "about:blank"}>; rel="next"'
    }


def _page_url(request: web.Request, **params: str) -> str:
    query = MultiDict(request.query)
    for name in ("page", "page_after", "page_before", *params):
        query.popall(name, None)
    query.extend(params)
    return str(request.url.with_query(query))


def cursor_page(
    request: web.Request, items: Sequence[Json], descending: bool = False
) -> tuple[list[Json], dict[str, str]]:
    """Cursor pagination over items sorted by ``id`` (``page_after``/``page_before``)."""
    size = _int_param(request, "page_size", 25, 1, 100)
    after, before = request.query.get("page_after"), request.query.get("page_before")
    for name, cursor in (("page_after", after), ("page_before", before)):
        if cursor is not None and not ID_PATTERN.fullmatch(cursor):
            raise ProblemError(bad_parameter(name))

    def follows(item_id: str, cursor: str) -> bool:
        return item_id < cursor if descending else item_id > cursor

    if after is not None:  # page_before is ignored when page_after is given
        rest = [item for item in items if follows(item["id"], after)]
        page, has_previous, has_next = rest[:size], len(rest) < len(items), len(rest) > size
    elif before is not None:
        head = [item for item in items if follows(before, item["id"])]
        page, has_previous, has_next = head[-size:], len(head) > size, len(head) < len(items)
    else:
        page, has_previous, has_next = list(items[:size]), False, len(items) > size
    first = page[0]["id"] if page else after
    last = page[-1]["id"] if page else before
    previous = following = None
    if has_previous and first:
        previous = _page_url(request, page_size=str(size), page_before=first)
    if has_next and last:
        following = _page_url(request, page_size=str(size), page_after=last)
    return page, _link(previous, following)


def number_page(request: web.Request, items: Sequence[Json]) -> tuple[list[Json], dict[str, str]]:
    """Page-number pagination (``page``, 1-based); a page past the end is a 404."""
    size = _int_param(request, "page_size", 25, 1, 100)
    number = _int_param(request, "page", 1, 1, 10**9)
    pages = max(1, math.ceil(len(items) / size))
    if number > pages:
        raise ProblemError(problem(404, "Not found", "Invalid page."))
    previous = following = None
    if number > 1:
        previous = _page_url(request, page=str(number - 1), page_size=str(size))
    if number < pages:
        following = _page_url(request, page=str(number + 1), page_size=str(size))
    return list(items[(number - 1) * size : number * size]), _link(previous, following)


def _parse_datetime_param(request: web.Request, name: str) -> datetime | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise ProblemError(bad_parameter(name))
    return value


def _integer_error(value: Any, low: int, high: int) -> str | None:
    """DRF's IntegerField messages (JSON integers only: no bools, floats or strings)."""
    if value is None:
        return "This field may not be null."
    if isinstance(value, bool) or not isinstance(value, int):
        return "A valid integer is required."
    if value > high:
        return f"Ensure this value is less than or equal to {high}."
    if value < low:
        return f"Ensure this value is greater than or equal to {low}."
    return None


def validate_vehicle_patch(vehicle: Vehicle, body: Any) -> dict[str, Any]:
    """Validate a PATCH /vehicles body like DRF; unknown and read-only fields are ignored."""
    kind = "validation-failed-update-vehicle"
    if not isinstance(body, dict):
        message = "Invalid data. Expected a dictionary."
        raise ProblemError(validation_failed(kind, {"non_field_errors": [message]}))
    errors: dict[str, list[str]] = {}
    for name, low, high in (
        ("maximum_charge_limit_percentage", 50, 100),
        ("battery_size_watt_hours", 1000, 300_000),
    ):
        if name in body and (error := _integer_error(body[name], low, high)):
            errors[name] = [error]
    if "battery_size_watt_hours" in body and vehicle.integrated != "UNINTEGRATED":
        errors["battery_size_watt_hours"] = ["Only editable for unintegrated vehicles."]
    if not isinstance(body.get("smart_charging_enabled", False), bool):
        errors["smart_charging_enabled"] = ["Must be a valid boolean."]
    if body.get("vehicle_class") not in ("PASSENGER", "COMMERCIAL", None):
        errors["vehicle_class"] = [f'"{body["vehicle_class"]}" is not a valid choice.']
    if errors:
        raise ProblemError(validation_failed(kind, errors))
    return {key: body[key] for key in _PATCHABLE if key in body}


_PATCHABLE = (
    "maximum_charge_limit_percentage",
    "battery_size_watt_hours",
    "smart_charging_enabled",
    "vehicle_class",
)


class V2Api:
    """Route handlers for ``/v2``; each checks token, rate limit and scopes first."""

    def __init__(self, world: World, oauth: OAuthServer, limiter: RateLimiter) -> None:
        """Serve ``world`` to holders of tokens issued by ``oauth``."""
        self.world = world
        self.oauth = oauth
        self.limiter = limiter

    def routes(self) -> list[web.RouteDef]:
        """Route table."""
        r = self._route
        session = "/charging_sessions/{id}"
        return [
            r("GET", "/users", self.list_users, "user:read"),
            r("GET", "/users/{id}", self.get_user, "user:read"),
            r("GET", "/vehicles", self.list_vehicles, "vehicle:read"),
            r("GET", "/vehicles/{id}", self.get_vehicle, "vehicle:read"),
            r("PATCH", "/vehicles/{id}", self.patch_vehicle, "vehicle:write"),
            r("GET", "/evses", self.list_evses, "evse:read"),
            r("GET", "/evses/{id}", self.get_evse, "evse:read"),
            r("GET", "/evses/{id}/connectivity", self.get_connectivity, "evse:read"),
            r("GET", "/tariffs/{id}", self.get_tariff, "tariff:read"),
            r("GET", "/tariffs/{id}/prices", self.list_prices, "tariff:read", "tariff:prices:read"),
            r("GET", "/charging_sessions", self.list_sessions, "charging_session:read"),
            r("GET", session, self.get_session, "charging_session:read"),
            r("POST", f"{session}/boost_start", self.boost_start, "charging_session:write"),
            r("POST", f"{session}/boost_end", self.boost_end, "charging_session:write"),
            # The spec names the scope `chargingsession:read`, a typo of this one.
            r("GET", "/charging_sub_sessions/{id}/schedules", self.get_schedules, SESSION_READ),
        ]

    def _route(self, method: str, path: str, handler: Handler, *scopes: str) -> web.RouteDef:
        async def endpoint(request: web.Request) -> web.Response:
            token = self._authorize(request, scopes)
            views = Views(self.world, f"{request.url.origin()}/v2", self.world.sync())
            return await handler(request, token, views)

        return web.route(method, "/v2" + path, endpoint)

    def _authorize(self, request: web.Request, scopes: Sequence[str]) -> AccessToken:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise ProblemError(unauthorized())
        token = self.oauth.authenticate(value.strip())
        if token is None:
            raise ProblemError(unauthorized("Invalid token."))
        request["sim_user"] = token.user_id
        remaining, retry_after = self.limiter.hit((token.client_id, token.user_id))
        request["rate_remaining"] = remaining
        if retry_after is not None:
            raise ProblemError(rate_limited(retry_after))
        if not set(scopes) <= token.scopes:
            raise ProblemError(forbidden())
        return token

    # --- handlers ----------------------------------------------------------------------

    async def list_users(self, request: web.Request, token: AccessToken, v: Views) -> web.Response:
        """GET /users: exactly the token's user."""
        expand = expand_param(request, USER_EXPANDS)
        user = self.world.user
        email = request.query.get("email", user.email)
        visible = token.user_id == user.id and email.lower() == user.email.lower()
        page, headers = cursor_page(request, [v.user(expand)] if visible else [])
        return web.json_response(page, headers=headers)

    async def get_user(self, request: web.Request, token: AccessToken, v: Views) -> web.Response:
        """GET /users/{id} (``me`` is the token's user); default_location is a LocationDetail."""
        user_id = request.match_info["id"]
        if user_id not in (self.world.user.id, "me") or token.user_id != self.world.user.id:
            raise ProblemError(not_found())
        return web.json_response(v.user(expand_param(request, USER_EXPANDS), detail=True))

    def _vehicle(self, request: web.Request) -> Vehicle:
        vehicle = self.world.vehicles.get(request.match_info["id"])
        if vehicle is None:
            raise ProblemError(not_found())
        return vehicle

    async def list_vehicles(self, request: web.Request, _: AccessToken, v: Views) -> web.Response:
        """GET /vehicles."""
        expand = expand_param(request, VEHICLE_EXPANDS)
        items = [v.vehicle(vehicle, expand) for vehicle in self._sorted(self.world.vehicles)]
        page, headers = cursor_page(request, items)
        return web.json_response(page, headers=headers)

    async def get_vehicle(self, request: web.Request, _: AccessToken, v: Views) -> web.Response:
        """GET /vehicles/{id}."""
        expand = expand_param(request, VEHICLE_EXPANDS)
        return web.json_response(v.vehicle(self._vehicle(request), expand))

    async def patch_vehicle(self, request: web.Request, _: AccessToken, v: Views) -> web.Response:
        """PATCH /vehicles/{id}: charge limit, smart charging (battery size if unintegrated)."""
        expand = expand_param(request, VEHICLE_EXPANDS)
        vehicle = self._vehicle(request)
        try:
            body = json.loads(await request.read())
        except ValueError:
            raise ProblemError(
                problem(400, "Malformed request.", "JSON parse error.", "parse-error")
            ) from None
        self.world.update_vehicle(vehicle, validate_vehicle_patch(vehicle, body))
        return web.json_response(v.vehicle(vehicle, expand))

    async def list_evses(self, request: web.Request, _: AccessToken, v: Views) -> web.Response:
        """GET /evses (``cpid`` filter)."""
        expand = expand_param(request, EVSE_EXPANDS)
        cpid = request.query.get("cpid")
        items = [
            v.evse(evse, expand)
            for evse in self._sorted(self.world.evses)
            if cpid is None or evse.cpid == cpid
        ]
        page, headers = cursor_page(request, items)
        return web.json_response(page, headers=headers)

    def _evse(self, request: web.Request) -> Evse:
        evse = self.world.evses.get(request.match_info["id"])
        if evse is None:
            raise ProblemError(not_found())
        return evse

    async def get_evse(self, request: web.Request, _: AccessToken, v: Views) -> web.Response:
        """GET /evses/{id}."""
        expand = expand_param(request, EVSE_EXPANDS)
        return web.json_response(v.evse(self._evse(request), expand))

    async def get_connectivity(
        self, request: web.Request, _: AccessToken, v: Views
    ) -> web.Response:
        """GET /evses/{id}/connectivity."""
        expand = expand_param(request, {"latest_status_log"})
        return web.json_response(v.connectivity(self._evse(request), expand))

    def _check_tariff(self, request: web.Request) -> None:
        if request.match_info["id"] != self.world.tariff.id:
            raise ProblemError(not_found())

    async def get_tariff(self, request: web.Request, token: AccessToken, v: Views) -> web.Response:
        """GET /tariffs/{id}: TariffDetail; expanding prices needs tariff:prices:read."""
        expand = expand_param(request, TARIFF_EXPANDS)
        if "prices" in expand and "tariff:prices:read" not in token.scopes:
            raise ProblemError(forbidden())
        self._check_tariff(request)
        return web.json_response(v.tariff(expand, detail=True))

    async def list_prices(self, request: web.Request, _: AccessToken, v: Views) -> web.Response:
        """GET /tariffs/{id}/prices: newest first, ``started_at__gte``/``__lte`` filters."""
        self._check_tariff(request)
        gte = _parse_datetime_param(request, "started_at__gte")
        lte = _parse_datetime_param(request, "started_at__lte")
        items = [
            v.price(start, price)
            for start, price in v.known_prices()
            if (gte is None or start >= gte) and (lte is None or start <= lte)
        ]
        page, headers = number_page(request, items)
        return web.json_response(page, headers=headers)

    async def list_sessions(self, request: web.Request, _: AccessToken, v: Views) -> web.Response:
        """GET /charging_sessions, newest first."""
        expand = expand_param(request, SESSION_EXPANDS)
        newest_first = sorted(self.world.sessions, key=lambda s: s.id, reverse=True)
        items = [v.session(session, expand) for session in newest_first]
        page, headers = cursor_page(request, items, descending=True)
        return web.json_response(page, headers=headers)

    def _session(self, request: web.Request) -> Session:
        session_id = request.match_info["id"]
        session = next((s for s in self.world.sessions if s.id == session_id), None)
        if session is None:
            raise ProblemError(not_found())
        return session

    async def get_session(self, request: web.Request, _: AccessToken, v: Views) -> web.Response:
        """GET /charging_sessions/{id}."""
        expand = expand_param(request, SESSION_EXPANDS)
        return web.json_response(v.session(self._session(request), expand))

    async def boost_start(self, request: web.Request, _: AccessToken, v: Views) -> web.Response:
        """POST boost_start: SMART sub-session -> BOOST, or 409."""
        return self._boost(request, v, start=True)

    async def boost_end(self, request: web.Request, _: AccessToken, v: Views) -> web.Response:
        """POST boost_end: BOOST sub-session -> SMART, or 409."""
        return self._boost(request, v, start=False)

    def _boost(self, request: web.Request, v: Views, start: bool) -> web.Response:
        expand = expand_param(request, SESSION_EXPANDS)
        session = self._session(request)
        try:
            self.world.boost(session, start)
        except ConflictError as exc:
            raise ProblemError(problem(409, "Conflict", str(exc), "boost-not-possible")) from None
        return web.json_response(v.session(session, expand))

    async def get_schedules(self, request: web.Request, _: AccessToken, v: Views) -> web.Response:
        """GET /charging_sub_sessions/{id}/schedules: the sub-session's current plan.

        Only the latest plan is kept, so ``only_most_recently_created`` changes nothing, and
        no schedule plan ids exist to filter by.
        """
        expand = expand_param(request, {"charging_sub_session"})
        sub_id = request.match_info["id"]
        found = next(
            ((s, sub) for s in self.world.sessions for sub in s.subs if sub.id == sub_id), None
        )
        if found is None:
            raise ProblemError(not_found())
        if request.query.get("only_most_recently_created", "true").lower() not in BOOLEANS:
            raise ProblemError(bad_parameter("only_most_recently_created"))
        plan_id = request.query.get("schedule_plan_id")
        if plan_id is not None and not PLAN_ID_PATTERN.fullmatch(plan_id):
            raise ProblemError(bad_parameter("schedule_plan_id"))
        body = schedules_body(
            v,
            *found,
            expand=expand,
            gte=_parse_datetime_param(request, "started_at__gte"),
            lte=_parse_datetime_param(request, "started_at__lte"),
        )
        if plan_id is not None:
            body["schedules"] = []
        return web.json_response(body)

    @staticmethod
    def _sorted[T](items: dict[str, T]) -> list[T]:
        return [items[key] for key in sorted(items)]
