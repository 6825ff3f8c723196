"""Admin HTTP API under ``/_sim/`` (no auth, JSON) for steering the simulator from tests."""

from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import datetime
import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .household import MAX_HOURS, household_view
from .model import VEHICLE_FIELDS
from .views import Views, iso

if TYPE_CHECKING:
    from .server import SimulatorServer

type AdminHandler = Callable[[web.Request], Awaitable[web.Response]]


class AdminError(Exception):
    """Answered as ``{"error": message}`` with the given status."""

    def __init__(self, message: str, status: int = 400) -> None:
        """Carry the message and status."""
        super().__init__(message)
        self.status = status


def _json(data: Any, status: int = 200) -> web.Response:
    # Datetimes (the only non-JSON values in world snapshots) are rendered like the API does.
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, default=iso))


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise AdminError("body must be JSON") from None
    if not isinstance(body, dict):
        raise AdminError("body must be a JSON object")
    return body


class AdminApi:
    """Handlers of the admin API for one simulator."""

    def __init__(self, sim: SimulatorServer) -> None:
        """Steer ``sim``."""
        self.sim = sim
        self.world = sim.world

    def routes(self) -> list[web.RouteDef]:
        """Return the admin route table; AdminError becomes a JSON error."""
        table: list[tuple[str, str, AdminHandler]] = [
            ("POST", "/_sim/faults", self.add_fault),
            ("GET", "/_sim/faults", self.list_faults),
            ("DELETE", "/_sim/faults", self.clear_faults),
            ("DELETE", "/_sim/faults/{id}", self.clear_fault),
            ("POST", "/_sim/vehicles", self.add_vehicle),
            ("PATCH", "/_sim/vehicles/{id}", self.patch_vehicle),
            ("DELETE", "/_sim/vehicles/{id}", self.remove_vehicle),
            ("POST", "/_sim/vehicles/{id}/plug", self.plug),
            ("POST", "/_sim/evses", self.add_evse),
            ("DELETE", "/_sim/evses/{id}", self.remove_evse),
            ("GET", "/_sim/clock", self.get_clock),
            ("POST", "/_sim/clock", self.set_clock),
            ("GET", "/_sim/requests", self.list_requests),
            ("DELETE", "/_sim/requests", self.clear_requests),
            ("GET", "/_sim/state", self.state),
            ("GET", "/_sim/household", self.household),
            ("POST", "/_sim/tokens/revoke_all", self.revoke_all),
            ("POST", "/_sim/webhooks", self.set_webhook),
            ("GET", "/_sim/webhooks", self.get_webhooks),
            ("DELETE", "/_sim/webhooks", self.delete_webhooks),
            ("POST", "/_sim/webhooks/faults", self.add_webhook_fault),
            ("GET", "/_sim/webhooks/faults", self.list_webhook_faults),
            ("DELETE", "/_sim/webhooks/faults", self.clear_webhook_faults),
        ]
        return [web.route(method, path, _guarded(handler)) for method, path, handler in table]

    def _views(self, request: web.Request) -> Views:
        return Views(self.world, f"{request.url.origin()}/v2", self.world.sync())

    @staticmethod
    def _lookup[T](items: dict[str, T], request: web.Request) -> T:
        try:
            return items[request.match_info["id"]]
        except KeyError:
            raise AdminError("not found", 404) from None

    async def add_fault(self, request: web.Request) -> web.Response:
        """POST /_sim/faults {"kind", "count", "path", ...params} -> {"id"}."""
        body = await _body(request)
        try:
            fault = self.sim.faults.add(**body)
        except (TypeError, ValueError) as exc:
            raise AdminError(str(exc)) from None
        return _json({"id": fault.id}, 201)

    async def list_faults(self, _: web.Request) -> web.Response:
        """GET /_sim/faults."""
        return _json([fault.as_json() for fault in self.sim.faults.faults])

    async def clear_faults(self, _: web.Request) -> web.Response:
        """DELETE /_sim/faults (also releases hanging requests)."""
        self.sim.faults.clear()
        return _json({"cleared": True})

    async def clear_fault(self, request: web.Request) -> web.Response:
        """DELETE /_sim/faults/{id}."""
        if not self.sim.faults.clear(request.match_info["id"]):
            raise AdminError("not found", 404)
        return _json({"cleared": True})

    async def add_vehicle(self, request: web.Request) -> web.Response:
        """POST /_sim/vehicles with a scenario-style partial; returns the API Vehicle."""
        try:
            vehicle = self.world.add_vehicle(await _body(request))
        except (TypeError, ValueError) as exc:
            raise AdminError(str(exc)) from None
        return _json(self._views(request).vehicle(vehicle, {"latest_status_log"}), 201)

    async def patch_vehicle(self, request: web.Request) -> web.Response:
        """PATCH /_sim/vehicles/{id}: set world fields, e.g. state_of_charge_percentage."""
        vehicle = self._lookup(self.world.vehicles, request)
        body = await _body(request)
        allowed = {*VEHICLE_FIELDS, "battery_size_watt_hours", "evse_id"}
        if unknown := set(body) - allowed - {"state_of_charge_percentage"}:
            raise AdminError(f"unsupported fields: {', '.join(sorted(unknown))}")
        if (soc := body.pop("state_of_charge_percentage", None)) is not None:
            battery = body.get("battery_size_watt_hours", vehicle.battery_size_watt_hours)
            body["charge_wh"] = battery * soc / 100
        self.world.update_vehicle(vehicle, body)
        return _json(self._views(request).vehicle(vehicle, {"latest_status_log"}))

    async def remove_vehicle(self, request: web.Request) -> web.Response:
        """DELETE /_sim/vehicles/{id}."""
        self.world.remove_vehicle(self._lookup(self.world.vehicles, request).id)
        return _json({"deleted": request.match_info["id"]})

    async def plug(self, request: web.Request) -> web.Response:
        """POST /_sim/vehicles/{id}/plug {"plugged_in": bool}."""
        vehicle = self._lookup(self.world.vehicles, request)
        plugged_in = (await _body(request)).get("plugged_in")
        if not isinstance(plugged_in, bool):
            raise AdminError("plugged_in must be a boolean")
        self.world.plug(vehicle.id, plugged_in)
        return _json(self._views(request).vehicle(vehicle, {"latest_status_log"}))

    async def add_evse(self, request: web.Request) -> web.Response:
        """POST /_sim/evses with a scenario-style partial; returns the API EVSE."""
        try:
            evse = self.world.add_evse(await _body(request))
        except (TypeError, ValueError) as exc:
            raise AdminError(str(exc)) from None
        expand = {"latest_status_log", "model", "model.make"}
        return _json(self._views(request).evse(evse, expand), 201)

    async def remove_evse(self, request: web.Request) -> web.Response:
        """DELETE /_sim/evses/{id}."""
        self.world.remove_evse(self._lookup(self.world.evses, request).id)
        return _json({"deleted": request.match_info["id"]})

    async def get_clock(self, _: web.Request) -> web.Response:
        """GET /_sim/clock."""
        return _json({"now": self.sim.clock.now(), "time_scale": self.sim.clock.time_scale})

    async def set_clock(self, request: web.Request) -> web.Response:
        """POST /_sim/clock {"set": ISO} and/or {"advance_seconds": S} / {"time_scale": X}."""
        body = await _body(request)
        clock = self.sim.clock
        try:
            if "set" in body:
                instant = datetime.fromisoformat(body["set"])
                if instant.tzinfo is None:
                    raise ValueError("set needs a timezone")
                clock.set(instant)
            if "advance_seconds" in body:
                clock.advance(float(body["advance_seconds"]))
            if "time_scale" in body:
                clock.time_scale = float(body["time_scale"])
        except (TypeError, ValueError) as exc:
            raise AdminError(str(exc)) from None
        self.world.sync()
        return await self.get_clock(request)

    async def list_requests(self, _: web.Request) -> web.Response:
        """GET /_sim/requests (newest last)."""
        return _json(self.sim.requests)

    async def clear_requests(self, _: web.Request) -> web.Response:
        """DELETE /_sim/requests."""
        self.sim.requests.clear()
        return _json({"cleared": True})

    async def state(self, _: web.Request) -> web.Response:
        """GET /_sim/state: the whole world, internal fields included."""
        world, sim = self.world, self.sim
        now = world.sync()
        vehicles = [
            asdict(v)
            | {"state_of_charge_percentage": v.soc, "state": v.state}
            | {"is_charging": v.is_charging, "minutes_to_full_charge": v.minutes_to_full}
            for v in world.vehicles.values()
        ]
        return _json(
            {
                "now": now,
                "user": asdict(world.user),
                "tariff": asdict(world.tariff) | {"current_price": world.tariff.price_at(now)},
                "vehicles": vehicles,
                "evses": [asdict(evse) for evse in world.evses.values()],
                "sessions": [asdict(session) for session in world.sessions],
                "events": [asdict(event) for event in world.events],
                "faults": [fault.as_json() for fault in sim.faults.faults],
                "tokens": {
                    "access": len(sim.oauth.access_tokens),
                    "refresh": len(sim.oauth.refresh_tokens),
                },
            }
        )

    async def household(self, request: web.Request) -> web.Response:
        """GET /_sim/household?hours=168: the household meter now and its last full hours."""
        try:
            hours = int(request.query.get("hours", "168"))
        except ValueError:
            raise AdminError("hours must be a whole number") from None
        if not 0 <= hours <= MAX_HOURS:
            raise AdminError(f"hours must be 0 to {MAX_HOURS}")
        return _json(household_view(self.world, hours))

    async def revoke_all(self, _: web.Request) -> web.Response:
        """POST /_sim/tokens/revoke_all."""
        self.sim.oauth.revoke_all()
        return _json({"revoked": True})

    async def set_webhook(self, request: web.Request) -> web.Response:
        """POST /_sim/webhooks {"url", "secret"?} -> {"url", "secret"} (a new secret if none)."""
        try:
            endpoint = self.sim.webhooks.configure(**await _body(request))
        except (TypeError, ValueError) as exc:
            raise AdminError(str(exc)) from None
        return _json(asdict(endpoint), 201)

    async def get_webhooks(self, _: web.Request) -> web.Response:
        """GET /_sim/webhooks: {"endpoint", "deliveries"} (the delivery log, oldest first)."""
        return _json(self.sim.webhooks.as_json())

    async def delete_webhooks(self, _: web.Request) -> web.Response:
        """DELETE /_sim/webhooks: no endpoint, deliveries (pending ones are dropped) or faults."""
        await self.sim.webhooks.reset()
        return _json({"deleted": True})

    async def add_webhook_fault(self, request: web.Request) -> web.Response:
        """POST /_sim/webhooks/faults {"kind", "count", "event_type", "seconds"} -> {"id"}."""
        try:
            fault = self.sim.webhooks.add_fault(**await _body(request))
        except (TypeError, ValueError) as exc:
            raise AdminError(str(exc)) from None
        return _json({"id": fault.id}, 201)

    async def list_webhook_faults(self, _: web.Request) -> web.Response:
        """GET /_sim/webhooks/faults."""
        return _json([fault.as_json() for fault in self.sim.webhooks.faults])

    async def clear_webhook_faults(self, _: web.Request) -> web.Response:
        """DELETE /_sim/webhooks/faults."""
        self.sim.webhooks.faults.clear()
        return _json({"cleared": True})


def _guarded(handler: AdminHandler) -> AdminHandler:
    async def wrapper(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except AdminError as exc:
            return _json({"error": str(exc)}, exc.status)

    return wrapper
