"""Fault injection: registered faults alter the next matching requests' responses."""

import asyncio
from contextlib import suppress
import copy
from dataclasses import dataclass, field
import json
import re
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from .problems import rate_limited, server_error, unauthorized

# Faults answered before the handler runs, and faults that rewrite a 200 JSON response.
PRE_KINDS = ("hang", "server_error", "unauthorized", "rate_limit")
POST_KINDS = ("malformed_json", "missing_fields", "unknown_enum", "link_loop", "huge_page")
KINDS = (*PRE_KINDS, *POST_KINDS, "refresh_refused")

DEFAULT_HANG_SECONDS = 300.0
ENUM_FIELDS = (
    "integrated",
    "state",
    "lock_mode",
    "lifecycle_state",
    "type",
    "mode",
    "control_pilot_status",
    "vehicle_class",
)
# Required fields by ID prefix (from the OpenAPI schemas), kept by a default missing_fields.
REQUIRED_FIELDS = {
    "user": {"id", "url"},
    "vhcl": {
        *("id", "url", "integrated", "battery_size_watt_hours", "description", "disabled"),
        *("effective_battery_size_watt_hours", "maximum_charge_limit_percentage"),
        *("smart_charging_enabled", "vehicle_class"),
    },
    "evse": {"id", "url", "cpid"},
    "tari": {"id", "url", "supplier", "name", "currency"},
    "cses": {"id", "url", "start"},
}


@dataclass
class Fault:
    """One registered fault; ``remaining`` None means until cleared."""

    id: str
    kind: str
    remaining: int | None
    path: str
    params: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """Representation for the admin API."""
        return {
            "id": self.id,
            "kind": self.kind,
            "count": self.remaining,
            "path": self.path,
            **self.params,
        }


class FaultRegistry:
    """Active faults, matched in registration order."""

    def __init__(self) -> None:
        """Start with no faults."""
        self.faults: list[Fault] = []
        self._counter = 0
        # Hanging requests wait on this; clearing faults sets it (and replaces it).
        self._release = asyncio.Event()

    def add(
        self, kind: str, count: int | None = 1, path: str | None = None, **params: Any
    ) -> Fault:
        """Register a fault for the next ``count`` requests whose path matches ``path``."""
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(KINDS)}")
        if count is not None and (not isinstance(count, int) or count < 1):
            raise ValueError("count must be a positive integer or null")
        if path is None:
            path = "^/o/token/" if kind == "refresh_refused" else "^/v2/"
        try:
            re.compile(path)
        except re.error as exc:
            raise ValueError(f"invalid path regex: {exc}") from None
        self._counter += 1
        fault = Fault(f"fault{self._counter}", kind, count, path, params)
        self.faults.append(fault)
        return fault

    def clear(self, fault_id: str | None = None) -> bool:
        """Remove one fault (or all); release hanging requests. False if the ID is unknown."""
        before = len(self.faults)
        self.faults = [f for f in self.faults if fault_id is not None and f.id != fault_id]
        self._release.set()
        self._release = asyncio.Event()
        return len(self.faults) < before

    def take(self, kind: str, path: str) -> Fault | None:
        """Consume one use of the first matching fault of ``kind``."""
        for fault in self.faults:
            if fault.kind == kind and re.search(fault.path, path):
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self.faults.remove(fault)
                return fault
        return None

    async def hang(self, fault: Fault) -> None:
        """Wait ``seconds`` (default: until cleared, at most 300 s)."""
        seconds = fault.params.get("seconds")
        release = self._release
        with suppress(TimeoutError):
            await asyncio.wait_for(release.wait(), seconds or DEFAULT_HANG_SECONDS)

    def middleware(self) -> Middleware:
        """Build the middleware applying the faults to API and OAuth requests."""

        @web.middleware
        async def apply_faults(request: web.Request, handler: Handler) -> web.StreamResponse:
            path = request.path
            if path.startswith("/_sim/"):
                return await handler(request)
            if fault := self.take("hang", path):
                # Like a real server, it holds the whole request before it is slow to handle
                # it, and goes on when the client gives up: a refresh still rotates the token.
                await request.read()
                await self.hang(fault)
            if fault := self.take("server_error", path):
                return server_error(int(fault.params.get("status", 500)))
            if self.take("unauthorized", path):
                return unauthorized("Invalid token.")
            if fault := self.take("rate_limit", path):
                request["rate_remaining"] = 0
                return rate_limited(int(fault.params.get("retry_after", 60)))
            response = await handler(request)
            if isinstance(response, web.Response) and _is_json_ok(response):
                return self._rewrite(request, response)
            return response

        return apply_faults

    def _rewrite(self, request: web.Request, response: web.Response) -> web.Response:
        path = request.path
        assert isinstance(response.body, bytes)
        data = json.loads(response.body)
        headers = {k: v for k, v in response.headers.items() if k not in _BODY_HEADERS}
        if fault := self.take("missing_fields", path):
            data = drop_fields(data, fault.params.get("fields"))
        if fault := self.take("unknown_enum", path):
            data = replace_enums(
                data, fault.params.get("value", "HOVERING"), fault.params.get("fields", ENUM_FIELDS)
            )
        if isinstance(data, list) and (fault := self.take("huge_page", path)):
            data = repeat_items(data, int(fault.params.get("items", 1000)))
        if "Link" in headers and self.take("link_loop", path):
            headers["Link"] = f'<about:blank>; rel="previous", <{request.url}>; rel="next"'
        text = json.dumps(data)
        if self.take("malformed_json", path):
            text = text[: max(1, len(text) // 2)]
        return web.Response(
            text=text, status=response.status, headers=headers, content_type="application/json"
        )


_BODY_HEADERS = ("Content-Type", "Content-Length")


def _is_json_ok(response: web.Response) -> bool:
    return response.status == 200 and response.content_type == "application/json"


def _objects(data: Any) -> list[dict[str, Any]]:
    return [item for item in (data if isinstance(data, list) else [data]) if isinstance(item, dict)]


def drop_fields(data: Any, fields: list[str] | None) -> Any:
    """Drop ``fields`` from every nested object (default: top-level non-required fields)."""
    if fields is None:
        for obj in _objects(data):
            required = REQUIRED_FIELDS.get(str(obj.get("id", ""))[:4])
            for key in [k for k in obj if required is not None and k not in required]:
                del obj[key]
        return data
    if isinstance(data, list):
        return [drop_fields(item, fields) for item in data]
    if isinstance(data, dict):
        return {k: drop_fields(v, fields) for k, v in data.items() if k not in fields}
    return data


def replace_enums(data: Any, value: str, fields: tuple[str, ...] | list[str]) -> Any:
    """Replace the (non-null string) values of enum fields everywhere with ``value``."""
    if isinstance(data, list):
        return [replace_enums(item, value, fields) for item in data]
    if isinstance(data, dict):
        return {
            k: value if k in fields and isinstance(v, str) else replace_enums(v, value, fields)
            for k, v in data.items()
        }
    return data


def repeat_items(items: list[Any], total: int) -> list[Any]:
    """Pad a list to ``total`` items by repeating it; copies get new, unique IDs."""
    if not items:
        return items
    result = list(items)
    while len(result) < total:
        item = copy.deepcopy(items[len(result) % len(items)])
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            old_id = item["id"]
            # Real IDs start with a ULID time part ("0..."), so "ZZ" copies cannot collide.
            item["id"] = f"{old_id[:4]}ZZ{len(result):024d}"
            if isinstance(item.get("url"), str):
                item["url"] = item["url"].replace(old_id, item["id"])
        result.append(item)
    return result
