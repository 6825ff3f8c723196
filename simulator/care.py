"""In-app notifications and vehicle reconnection, as ev.energy serves them.

A vehicle whose integration is ``INACTIVE`` has an ACTIONABLE "disconnected" notification
(its id is the vehicle's ULID under the ``notf`` prefix) for as long as it stays inactive,
as the app shows one; a scenario may add notifications of its own under ``notifications``.
``POST /vehicles/{id}/reconnect`` returns a link to ``/_sim/reconnect/{id}``: opening it
reconnects the vehicle, standing in for the car maker's sign-in.
"""

from datetime import datetime, timedelta
import json
from typing import Any

from aiohttp import web

from .api import V2Api, cursor_page
from .model import World
from .oauth import AccessToken, OAuthServer
from .problems import ProblemError, not_found, validation_failed
from .ratelimit import RateLimiter
from .views import Json, Views, iso

RECONNECT_LINK_LIFETIME = timedelta(hours=1)
_FIELDS = (
    "id",
    "message_id",
    "category",
    "event_time",
    "short_text_title",
    "short_text_body",
    "detail_page_title",
    "detail_page_body",
    "external_link",
    "external_button_label",
)


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        return None
    return instant if instant.tzinfo is not None else None


class CareApi(V2Api):
    """``/v2/notifications`` (+ PATCH) and ``/v2/vehicles/{id}/reconnect``."""

    def __init__(
        self, world: World, oauth: OAuthServer, limiter: RateLimiter, scenario: dict[str, Any]
    ) -> None:
        """Serve ``world``; ``scenario["notifications"]`` adds notifications of its own."""
        super().__init__(world, oauth, limiter)
        self.extra: list[Json] = [dict(item) for item in scenario.get("notifications", [])]
        for item in self.extra:
            if unknown := set(item) - {*_FIELDS, "read_at", "resolved_at"}:
                raise ValueError(f"unknown notification fields: {', '.join(sorted(unknown))}")
        self.read_at: dict[str, str] = {}
        self.inactive_since: dict[str, datetime] = {}

    def routes(self) -> list[web.RouteDef]:
        """Route table; the spec names no scope for these operations."""
        r = self._route
        return [
            r("GET", "/notifications", self.list_notifications),
            r("PATCH", "/notifications/{id}", self.patch_notification),
            r("POST", "/vehicles/{id}/reconnect", self.reconnect_vehicle),
            web.get("/_sim/reconnect/{id}", self.finish_reconnect),
        ]

    def _notifications(self, v: Views) -> list[Json]:
        for vehicle_id, vehicle in self.world.vehicles.items():
            if vehicle.integrated == "INACTIVE":
                self.inactive_since.setdefault(vehicle_id, v.now)
            else:
                self.inactive_since.pop(vehicle_id, None)
        items = [self._disconnected(v, vehicle_id) for vehicle_id in self.inactive_since]
        items += [self._render(v, item) for item in self.extra]
        return sorted(items, key=lambda item: item["id"])

    def _disconnected(self, v: Views, vehicle_id: str) -> Json:
        name = self.world.vehicles[vehicle_id].description or "Your car"
        return self._render(
            v,
            {
                "id": "notf" + vehicle_id[4:],
                "message_id": "ERR0123",
                "category": "ACTIONABLE",
                "event_time": iso(self.inactive_since[vehicle_id]),
                "short_text_title": "Your car is disconnected",
                "short_text_body": "We need to reconnect to keep smart charging",
                "detail_page_title": f"{name} is disconnected",
                "detail_page_body": (
                    f"{name} has been disconnected. This happens when your password is reset. "
                    "Re-authorise ev.energy so we can keep managing your charging."
                ),
                "external_link": None,
                "external_button_label": "Reconnect",
            },
        )

    def _render(self, v: Views, item: Json) -> Json:
        body = {key: item.get(key) for key in _FIELDS}
        body["url"] = v.url("notifications", item["id"])
        if read_at := self.read_at.get(item["id"]) or item.get("read_at"):
            body["read_at"] = read_at
        if item.get("resolved_at"):
            body["resolved_at"] = item["resolved_at"]
        return body

    async def list_notifications(
        self, request: web.Request, _: AccessToken, v: Views
    ) -> web.Response:
        """GET /notifications: the user's current notifications, oldest first."""
        page, headers = cursor_page(request, self._notifications(v))
        return web.json_response(page, headers=headers)

    async def patch_notification(
        self, request: web.Request, _: AccessToken, v: Views
    ) -> web.Response:
        """PATCH /notifications/{id}: set ``read_at``; the answer wraps it in ``Notification``."""
        notification_id = request.match_info["id"]
        current = {item["id"]: item for item in self._notifications(v)}
        if notification_id not in current:
            raise ProblemError(not_found())
        try:
            body = json.loads(await request.read())
        except ValueError:
            body = None
        kind = "validation-failed-update-notification"
        if not isinstance(body, dict):
            message = "Invalid data. Expected a dictionary."
            raise ProblemError(validation_failed(kind, {"non_field_errors": [message]}))
        if "read_at" in body:
            read_at = _parse_time(body["read_at"])
            if read_at is None:
                message = "Datetime has wrong format."
                raise ProblemError(validation_failed(kind, {"read_at": [message]}))
            self.read_at[notification_id] = iso(read_at)
        updated = next(i for i in self._notifications(v) if i["id"] == notification_id)
        return web.json_response({"Notification": updated})

    async def reconnect_vehicle(
        self, request: web.Request, _: AccessToken, v: Views
    ) -> web.Response:
        """POST /vehicles/{id}/reconnect: a link that re-links the vehicle when opened."""
        vehicle = self._vehicle(request)
        link = f"{request.url.origin()}/_sim/reconnect/{vehicle.id}"
        body = {"url": link, "expires_at": iso(v.now + RECONNECT_LINK_LIFETIME)}
        return web.json_response(body, status=201)

    async def finish_reconnect(self, request: web.Request) -> web.Response:
        """GET /_sim/reconnect/{id}: the car maker's sign-in, done; the vehicle is ACTIVE."""
        vehicle = self.world.vehicles.get(request.match_info["id"])
        if vehicle is None:
            raise web.HTTPNotFound
        self.world.update_vehicle(vehicle, {"integrated": "ACTIVE"})
        return web.Response(
            text=f"<p>{vehicle.description or vehicle.id} is connected to ev.energy again.</p>",
            content_type="text/html",
        )
