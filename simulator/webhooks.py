"""Webhooks as ev.energy sends them through Svix, signed per Standard Webhooks.

Each sub-session the world creates or ends becomes a message to the one configured endpoint:
a ``{"type", "timestamp", "data"}`` body whose ``data`` is the sub-session as
``GET /v2/charging_sub_sessions/{id}`` showed it at that instant. Like Svix, every attempt is
signed afresh with its own ``svix-timestamp`` while ``svix-id`` stays the message's, and a
failed attempt (not 2xx, or no answer) is retried after Svix's first back-off steps.

Attempts fall due at instants of the simulator clock, so a frozen clock (``time_scale`` 0)
delivers retries only when it is moved. One dispatcher task sends due attempts one at a time,
oldest first, so the order of deliveries is deterministic; the API never waits for it.
"""

import asyncio
import base64
import binascii
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
import hashlib
import hmac
import json
import secrets

import aiohttp
from yarl import URL

from .clock import SimClock
from .energy import sub_session_view
from .model import Session, SubSession, SubSessionChange, World
from .views import Json, Views, iso

SECRET_PREFIX = "whsec_"
# Simulator seconds from a failed attempt to the next: Svix's first steps (then it gives up).
RETRY_DELAYS = (5, 300, 1800)
# Real seconds an attempt may take, as with Svix.
ATTEMPT_TIMEOUT = aiohttp.ClientTimeout(total=15)


def secret_key(secret: str) -> bytes:
    """Return the HMAC key of a ``whsec_<base64>`` secret, or raise ValueError."""
    if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"secret must be a string starting with {SECRET_PREFIX}")
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except binascii.Error:
        raise ValueError(f"secret must be base64 after {SECRET_PREFIX}") from None
    if not key:
        raise ValueError("secret must not be empty")
    return key


def new_secret() -> str:
    """Return a fresh secret of 24 random bytes, the size Svix generates."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """Return the ``svix-signature`` value: ``v1,`` + base64 HMAC-SHA256 of id.timestamp.body."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


@dataclass(frozen=True)
class Endpoint:
    """Where messages go and the secret they are signed with."""

    url: str
    secret: str


@dataclass(frozen=True)
class Message:
    """One event, as sent on every attempt."""

    id: str
    type: str
    sub_session: str
    body: bytes


@dataclass
class Attempt:
    """One POST of a message: when (simulator time), and the status or the error."""

    at: str
    svix_timestamp: int
    status: int | None = None
    error: str | None = None


@dataclass
class Delivery:
    """A message on its way; ``due`` is the simulator instant of its next attempt."""

    message: Message
    due: datetime | None
    state: str = "pending"  # then "delivered" or "failed"
    attempts: list[Attempt] = field(default_factory=list)

    def as_json(self) -> Json:
        """Representation for the admin API."""
        return {
            "svix_id": self.message.id,
            "type": self.message.type,
            "sub_session": self.message.sub_session,
            "state": self.state,
            "attempts": [asdict(attempt) for attempt in self.attempts],
        }


class Webhooks:
    """The configured endpoint, the deliveries to it, and the task that sends them."""

    def __init__(self, clock: SimClock, world: World) -> None:
        """Listen to ``world``'s sub-sessions; nothing is sent until an endpoint is set."""
        self.clock = clock
        self.world = world
        # The API root the messages' URLs point at; the server sets it once it listens.
        self.api_root = ""
        self.endpoint: Endpoint | None = None
        self.deliveries: list[Delivery] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        world.observers.append(self._on_sub_session)
        clock.subscribe(self._wake.set)

    def configure(self, url: str, secret: str | None = None) -> Endpoint:
        """Send future events to ``url``, signed with ``secret`` (default: a new one)."""
        parsed = URL(url) if isinstance(url, str) else None
        if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
            raise ValueError("url must be an absolute http(s) URL")
        secret = new_secret() if secret is None else secret
        secret_key(secret)
        self.endpoint = Endpoint(url, secret)
        if self._task is None:
            self._session = aiohttp.ClientSession(timeout=ATTEMPT_TIMEOUT)
            self._task = asyncio.create_task(self._run())
        return self.endpoint

    async def reset(self) -> None:
        """Forget the endpoint and every delivery (pending ones are abandoned)."""
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        self.endpoint = None
        self.deliveries.clear()

    def as_json(self) -> Json:
        """Representation for the admin API: the endpoint and the delivery log."""
        return {
            "endpoint": asdict(self.endpoint) if self.endpoint else None,
            "deliveries": [delivery.as_json() for delivery in self.deliveries],
        }

    def _on_sub_session(
        self, what: SubSessionChange, session: Session, sub: SubSession, at: datetime
    ) -> None:
        if self.endpoint is None:
            return
        event_type = f"charging_sub_session.{what}"
        # Rendered now: the body shows the sub-session as it was when the event happened.
        data = sub_session_view(Views(self.world, self.api_root, at), session, sub, set())
        envelope = {"type": event_type, "timestamp": iso(at), "data": data}
        body = json.dumps(envelope, separators=(",", ":")).encode()
        message = Message("msg_" + secrets.token_hex(13), event_type, sub.id, body)
        self.deliveries.append(Delivery(message, self.clock.now()))
        self._wake.set()

    def _next_due(self, now: datetime) -> Delivery | None:
        due = [d for d in self.deliveries if d.due is not None and d.due <= now]
        return min(due, key=lambda delivery: delivery.due or now, default=None)

    def _seconds_until_next(self, now: datetime) -> float | None:
        """Real seconds until the next due instant; None: wait for a clock move or an event."""
        instants = [d.due for d in self.deliveries if d.due is not None]
        if self.world.events:
            instants.append(self.world.events[0].at)
        if not instants or self.clock.time_scale <= 0:
            return None
        return max(0.0, (min(instants) - now).total_seconds() / self.clock.time_scale)

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            now = self.clock.now()
            # Scheduled plug-ins and unplugs are pushed when they happen, not at the next read.
            if self.world.events and self.world.events[0].at <= now:
                self.world.sync()
            if delivery := self._next_due(now):
                await self._attempt(delivery)
                continue
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._seconds_until_next(now))

    async def _attempt(self, delivery: Delivery) -> None:
        # Both are set while the dispatcher runs.
        assert self.endpoint is not None
        assert self._session is not None
        now = self.clock.now()
        message = delivery.message
        timestamp = int(now.timestamp())
        attempt = Attempt(iso(now), timestamp)
        delivery.attempts.append(attempt)
        headers = {
            "Content-Type": "application/json",
            "svix-id": message.id,
            "svix-timestamp": str(timestamp),
            "svix-signature": sign(self.endpoint.secret, message.id, timestamp, message.body),
            "svix-event-type": message.type,
        }
        try:
            async with self._session.post(
                self.endpoint.url, data=message.body, headers=headers, allow_redirects=False
            ) as response:
                attempt.status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            attempt.error = str(exc) or type(exc).__name__
        if attempt.status is not None and 200 <= attempt.status < 300:
            delivery.state, delivery.due = "delivered", None
        elif len(delivery.attempts) > len(RETRY_DELAYS):
            delivery.state, delivery.due = "failed", None
        else:
            delivery.due = now + timedelta(seconds=RETRY_DELAYS[len(delivery.attempts) - 1])
