"""Async client for the parts of ev.energy API v2 the integration uses."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
import json
import logging
import math
import re
import time
from typing import Any, Final

import aiohttp
from yarl import URL

from .auth import AbstractAuth
from .exceptions import (
    EvEnergyApiError,
    EvEnergyAuthError,
    EvEnergyConnectionError,
    EvEnergyRateLimitError,
    EvEnergyResponseError,
)
from .models import (
    ChargingSession,
    ChargingSubSession,
    EnergyUsage,
    Evse,
    EvseConnectivity,
    Notification,
    ReconnectionLink,
    ScheduleInterval,
    Tariff,
    User,
    Vehicle,
    parse_problem,
)
from .prices import PriceInterval, intervals_from_api
from .webhooks import portal_url

_LOGGER = logging.getLogger(__name__)

DEFAULT_API_URL: Final = "https://api.ev.energy"
API_VERSION: Final = "2"
PAGE_SIZE: Final = 100
SESSIONS_PAGE_SIZE: Final = 50
# 50 pages of 100 is far beyond any household; the bound stops a misbehaving Link header.
MAX_PAGES: Final = 50
REQUEST_TIMEOUT: Final = aiohttp.ClientTimeout(total=30)
CHARGE_LIMIT_RANGE: Final = range(50, 101)
# A page of 100 vehicles is about 160 kB; the bound caps one answer, or all pages of one
# listing together, so a huge or endless body cannot exhaust memory.
MAX_BODY_BYTES: Final = 16 * 1024 * 1024
_CHUNK_BYTES: Final = 64 * 1024
# When a 429 comes without a usable Retry-After, wait this long (seconds).
DEFAULT_RETRY_AFTER: Final = 60.0
# The API's rolling window is one hour, so no honest Retry-After is longer.
MAX_RETRY_AFTER: Final = 3600.0

VEHICLE_EXPAND: Final = ("latest_status_log", "trim.model.make")
EVSE_EXPAND: Final = ("latest_status_log", "model.make")

_UNREADABLE: Final = object()
_HTTP_SCHEMES: Final = frozenset({"http", "https"})
MAX_REPORTED_LINKS: Final = 20
_LINK_VALUE = re.compile(r"<([^>]*)>([^<]*)")
_LINK_REL = re.compile(r';\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))', re.IGNORECASE)


def _next_link(headers: Mapping[str, str]) -> str | None:
    """Return the rel="next" target of the Link header(s) (RFC 8288); `about:blank` is none."""
    getall = getattr(headers, "getall", None)
    values = getall("Link", []) if getall is not None else [headers.get("Link") or ""]
    for target, params in _LINK_VALUE.findall(",".join(values)):
        if (rel := _LINK_REL.search(params)) is None:
            continue
        if "next" in (rel.group(1) or rel.group(2)).lower().split() and target != "about:blank":
            return str(target)
    return None


def _expand(*fields: str) -> list[tuple[str, str]]:
    # The spec declares `expand` as an exploded array: one parameter per field.
    return [("expand", name) for name in fields]


class EvEnergyClient:
    """Talks to ev.energy with an injected aiohttp session and token source.

    Every request is counted, so callers can measure their request budget, and the client
    refuses to send anything while a 429's Retry-After is running.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        auth: AbstractAuth,
        api_url: str = DEFAULT_API_URL,
    ) -> None:
        """Use `session` for HTTP and `auth` for tokens; `api_url` is the API host root."""
        self._session = session
        self._auth = auth
        self._base = URL(api_url.rstrip("/") + "/v2")
        self._blocked_until = 0.0
        self._request_times: deque[float] = deque()
        self._bad_links: set[str] = set()
        self.request_count = 0
        self.rate_limit_limit: int | None = None
        self.rate_limit_remaining: int | None = None

    @property
    def requests_last_hour(self) -> int:
        """How many HTTP requests the client sent in the last rolling hour."""
        self._forget_old_requests(time.monotonic())
        return len(self._request_times)

    def _forget_old_requests(self, now: float) -> None:
        while self._request_times and self._request_times[0] <= now - 3600:
            self._request_times.popleft()

    async def async_get_current_user(self) -> User:
        """Return the user the access token belongs to."""
        users = await self._get_list(self._base / "users", [("page_size", "1")], max_pages=1)
        if not users:
            raise EvEnergyResponseError("the token does not belong to any user")
        return User.from_api(users[0])

    async def async_get_user(self, user_id: str) -> User:
        """Return a user with their default location's tariff reference."""
        data = await self._get(self._base / "users" / user_id, _expand("default_location.tariff"))
        return User.from_api(data)

    async def async_get_vehicles(self) -> list[Vehicle]:
        """Return every vehicle with its latest status, following pagination."""
        items = await self._get_list(
            self._base / "vehicles", [*_expand(*VEHICLE_EXPAND), ("page_size", str(PAGE_SIZE))]
        )
        return _parse_each(items, Vehicle.from_api)

    async def async_get_evses(self) -> list[Evse]:
        """Return every charger with its latest status, following pagination."""
        items = await self._get_list(
            self._base / "evses", [*_expand(*EVSE_EXPAND), ("page_size", str(PAGE_SIZE))]
        )
        return _parse_each(items, Evse.from_api)

    async def async_get_tariff(self, tariff_id: str) -> Tariff:
        """Return a tariff with its current price."""
        return Tariff.from_api(await self._get(self._base / "tariffs" / tariff_id))

    async def async_get_prices(
        self, tariff_id: str, currency: str, since: datetime
    ) -> list[PriceInterval]:
        """Return the tariff's price intervals starting at or after `since`."""
        items = await self._get_list(
            self._base / "tariffs" / tariff_id / "prices",
            [("started_at__gte", since.astimezone(UTC).isoformat()), ("page_size", str(PAGE_SIZE))],
        )
        return intervals_from_api(items, currency)

    async def async_set_charge_limit(self, vehicle_id: str, percentage: int) -> Vehicle:
        """Set the vehicle's maximum charge limit (50..100 %) and return the updated vehicle."""
        if type(percentage) is not int or percentage not in CHARGE_LIMIT_RANGE:
            raise ValueError(f"charge limit must be a whole number 50..100, not {percentage}")
        body = {"maximum_charge_limit_percentage": percentage}
        return await self._patch_vehicle(vehicle_id, body)

    async def async_set_smart_charging(self, vehicle_id: str, enabled: bool) -> Vehicle:
        """Turn smart charging on or off and return the updated vehicle."""
        return await self._patch_vehicle(vehicle_id, {"smart_charging_enabled": bool(enabled)})

    async def async_get_sessions(self, max_pages: int = 1) -> list[ChargingSession]:
        """Return the most recent charging sessions (newest first), with sub-sessions.

        Only each vehicle's latest session is shown: a page per SESSIONS_PAGE_SIZE vehicles is
        enough.
        """
        items = await self._get_list(
            self._base / "charging_sessions",
            [*_expand("sub_sessions"), ("page_size", str(SESSIONS_PAGE_SIZE))],
            max_pages=max(1, min(max_pages, MAX_PAGES)),
        )
        return _parse_each(items, ChargingSession.from_api)

    async def async_boost(self, session_id: str, start: bool) -> None:
        """Start or end boost charging on an open session."""
        action = "boost_start" if start else "boost_end"
        await self._request("POST", self._base / "charging_sessions" / session_id / action)

    async def async_get_connectivity(self, evse_id: str) -> EvseConnectivity:
        """Return a charger's connectivity snapshot."""
        return EvseConnectivity.from_api(
            await self._get(self._base / "evses" / evse_id / "connectivity")
        )

    async def async_get_schedules(self, sub_session_id: str) -> list[ScheduleInterval]:
        """Return a sub-session's charging plan: the latest instruction for each period.

        No time filter: a boost's one open-ended interval starts when the boost began.
        """
        data = await self._get(
            self._base / "charging_sub_sessions" / sub_session_id / "schedules",
            [("only_most_recently_created", "true")],
        )
        items = data.get("schedules") if isinstance(data, Mapping) else None
        if not isinstance(items, list):
            raise EvEnergyResponseError("expected a schedules list")
        return _parse_each(items, ScheduleInterval.from_api)

    async def async_get_sub_sessions(
        self,
        *,
        ended_after: datetime | None = None,
        is_finished: bool | None = None,
        vehicle_id: str | None = None,
    ) -> list[ChargingSubSession]:
        """Return sub-sessions (newest first), following pagination.

        `ended_after` keeps those that ended after the instant (open ones have no end, so
        they are left out); `is_finished=False` keeps only the open ones.
        """
        params = [("page_size", str(PAGE_SIZE))]
        if ended_after is not None:
            params.append(("end__gt", ended_after.astimezone(UTC).isoformat()))
        if is_finished is not None:
            params.append(("is_finished", "true" if is_finished else "false"))
        if vehicle_id is not None:
            params.append(("vehicle_id", vehicle_id))
        items = await self._get_list(self._base / "charging_sub_sessions", params)
        return _parse_each(items, ChargingSubSession.from_api)

    async def async_get_energy_usage(self, sub_session_id: str) -> EnergyUsage:
        """Return the intervals in which a sub-session's energy actually flowed."""
        return EnergyUsage.from_api(
            await self._get(self._base / "charging_sub_sessions" / sub_session_id / "energy_usage")
        )

    async def async_reconnect_vehicle(self, vehicle_id: str) -> ReconnectionLink:
        """Create a link where the user reconnects an INACTIVE vehicle to ev.energy."""
        data, _, _ = await self._request("POST", self._base / "vehicles" / vehicle_id / "reconnect")
        return ReconnectionLink.from_api(data)

    async def async_get_webhook_portal(self) -> str:
        """Return a one-time link to ev.energy's webhook portal, where endpoints are added."""
        return portal_url(await self._get(self._base / "webhook_portal"))

    async def async_get_notifications(self, language: str | None = None) -> list[Notification]:
        """Return the user's current in-app notifications, texts in `language` if given."""
        items = await self._get_list(
            self._base / "notifications",
            [("page_size", str(PAGE_SIZE))],
            headers={"Accept-Language": language} if language else None,
        )
        return _parse_each(items, Notification.from_api)

    async def async_mark_notification_read(self, notification_id: str, read_at: datetime) -> None:
        """Tell ev.energy the user has read a notification."""
        await self._request(
            "PATCH",
            self._base / "notifications" / notification_id,
            json_body={"read_at": read_at.astimezone(UTC).isoformat()},
        )

    async def _patch_vehicle(self, vehicle_id: str, body: dict[str, Any]) -> Vehicle:
        data, _, _ = await self._request(
            "PATCH",
            self._base.joinpath("vehicles", vehicle_id).with_query(_expand(*VEHICLE_EXPAND)),
            json_body=body,
        )
        return Vehicle.from_api(data)

    async def _get(self, url: URL, params: list[tuple[str, str]] | None = None) -> Any:
        data, _, _ = await self._request("GET", url.with_query(params or []))
        return data

    async def _get_list(
        self,
        url: URL,
        params: list[tuple[str, str]],
        *,
        max_pages: int = MAX_PAGES,
        headers: Mapping[str, str] | None = None,
    ) -> list[Any]:
        """Fetch a list resource, following `Link: rel="next"` within bounds."""
        items: list[Any] = []
        seen: set[URL] = set()
        budget = MAX_BODY_BYTES
        next_url: URL | None = url.with_query(params)
        while next_url is not None and len(seen) < max_pages:
            seen.add(next_url)
            data, answer_headers, size = await self._request(
                "GET", next_url, max_bytes=budget, headers=headers
            )
            budget -= size
            if not isinstance(data, list):
                raise EvEnergyResponseError(f"expected a list from {url.path}")
            items.extend(data)
            next_url = self._follow(next_url, _next_link(answer_headers))
            if next_url in seen:
                _LOGGER.warning("Pagination of %s loops back to a page already read", url.path)
                break
        else:
            if next_url is not None:
                _LOGGER.warning("Stopped reading %s after %s pages", url.path, max_pages)
        return items

    def _follow(self, current: URL, target: str | None) -> URL | None:
        if target is None:
            return None
        try:
            next_url = current.join(URL(target))
            usable = next_url.scheme in _HTTP_SCHEMES and next_url.origin() == self._base.origin()
        except ValueError:  # yarl refuses some targets (broken IPv6, port, no host)
            usable = False
        # Never send the bearer token to another origin, whatever the header says.
        if not usable:
            self._warn_bad_link(target)
            return None
        return next_url

    def _warn_bad_link(self, target: str) -> None:
        # Once per target, not per poll; the set is capped as the server picks the targets.
        if target in self._bad_links or len(self._bad_links) >= MAX_REPORTED_LINKS:
            return
        self._bad_links.add(target)
        _LOGGER.warning(
            "Ignoring a pagination link that is not on the API's origin: %r", target[:200]
        )

    async def _request(
        self,
        method: str,
        url: URL,
        *,
        json_body: Mapping[str, Any] | None = None,
        max_bytes: int = MAX_BODY_BYTES,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[Any, Mapping[str, str], int]:
        """Send, retrying once on 401; return the decoded body, headers and body size."""
        extra = headers or {}
        response_status, headers, body, token = await self._send(
            method, url, json_body, max_bytes, extra
        )
        if response_status == 401:
            # The token may have been revoked or expired early: refresh once and retry (a
            # refused refresh raises EvEnergyAuthError from the token source).
            if not await self._auth.async_invalidate_access_token(token):
                raise EvEnergyAuthError("the API refused the access token")
            response_status, headers, body, _ = await self._send(
                method, url, json_body, max_bytes, extra
            )
        data = _decode(body)
        if response_status == 401:
            # A token renewed a moment ago is refused too: an API fault, not a reason to make
            # the user sign in again (that is what a refused refresh means).
            raise EvEnergyApiError(401, parse_problem(401, data))
        if response_status == 429:
            retry_after = _retry_after(headers.get("Retry-After"))
            self._blocked_until = time.monotonic() + retry_after
            raise EvEnergyRateLimitError(retry_after)
        if response_status >= 400:
            raise EvEnergyApiError(response_status, parse_problem(response_status, data))
        if data is _UNREADABLE:
            raise EvEnergyResponseError(f"unreadable JSON from {url.path}")
        return data, headers, len(body)

    async def _get_token(self) -> str:
        """Get a token, bounded like a request: a hanging token endpoint must not stall us."""
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT.total):
                return await self._auth.async_get_access_token()
        except TimeoutError as err:
            raise EvEnergyConnectionError("getting an access token timed out") from err

    async def _send(
        self,
        method: str,
        url: URL,
        json_body: Mapping[str, Any] | None,
        max_bytes: int,
        extra_headers: Mapping[str, str],
    ) -> tuple[int, Mapping[str, str], bytes, str]:
        """Send once; return the status, headers, body and the access token sent."""
        now = time.monotonic()
        if now < self._blocked_until:
            raise EvEnergyRateLimitError(self._blocked_until - now)
        token = await self._get_token()
        self.request_count += 1
        self._forget_old_requests(now)
        self._request_times.append(now)
        try:
            async with self._session.request(
                method,
                url,
                json=json_body,
                headers={
                    **extra_headers,
                    "Authorization": f"Bearer {token}",
                    "EvEnergy-Version": API_VERSION,
                    "Accept": "application/json",
                },
                timeout=REQUEST_TIMEOUT,
                allow_redirects=False,
            ) as response:
                body = await _read_bounded(response, max_bytes, url)
                headers = response.headers
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as err:
            raise EvEnergyConnectionError(f"{method} {url.path} failed: {err!r}") from err
        self.rate_limit_limit = _header_int(headers, "X-RateLimit-Limit", self.rate_limit_limit)
        self.rate_limit_remaining = _header_int(
            headers, "X-RateLimit-Remaining", self.rate_limit_remaining
        )
        return status, headers, body, token


async def _read_bounded(response: aiohttp.ClientResponse, max_bytes: int, url: URL) -> bytes:
    body = bytearray()
    async for chunk in response.content.iter_chunked(_CHUNK_BYTES):
        body += chunk
        if len(body) > max_bytes:
            # Drop the connection: the rest of the body is never read.
            response.close()
            raise EvEnergyResponseError(f"{url.path} exceeds {MAX_BODY_BYTES} bytes")
    return bytes(body)


def _decode(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return _UNREADABLE


def _retry_after(value: str | None) -> float:
    try:
        seconds = float(value) if value is not None else DEFAULT_RETRY_AFTER
    except ValueError:
        return DEFAULT_RETRY_AFTER
    if math.isnan(seconds) or seconds < 0:
        return DEFAULT_RETRY_AFTER
    return min(seconds, MAX_RETRY_AFTER)


def _header_int(headers: Mapping[str, str], name: str, fallback: int | None) -> int | None:
    try:
        return int(headers[name])
    except (KeyError, ValueError):
        return fallback


def _parse_each[T](items: list[Any], parse: Callable[[object], T]) -> list[T]:
    parsed: list[T] = []
    for item in items:
        try:
            parsed.append(parse(item))
        except EvEnergyResponseError as err:
            _LOGGER.warning("Skipping an unreadable item: %s", err)
    return parsed
