"""Webhooks as ev.energy sends them through Svix, signed per Standard Webhooks.

Each sub-session the world creates or ends becomes a message to the one configured endpoint:
a ``{"type", "timestamp", "data"}`` body whose ``data`` is the sub-session as
``GET /v2/charging_sub_sessions/{id}`` showed it at that instant. Like Svix, every attempt is
signed afresh with its own ``svix-timestamp`` while ``svix-id`` stays the message's, and a
failed attempt (not 2xx, or no answer) is retried after Svix's first back-off steps.

Attempts fall due at instants of the simulator clock, so a frozen clock (``time_scale`` 0)
delivers retries only when it is moved. One dispatcher task sends due attempts one at a time,
oldest first, so the order of deliveries is deterministic; the API never waits for it.

Faults (``add_fault``) apply to the next ``count`` events: ``drop`` (never sent), ``duplicate``
(sent twice, same svix-id), ``delay`` (due ``seconds`` later), ``reorder`` (held back, then
sent right after the next event), ``bad_signature`` (signed with a key the receiver does not have),
``old_timestamp`` (svix-timestamp ``seconds`` in the past, signed for it).
"""

import asyncio
import base64
import binascii
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
import hashlib
import hmac
import itertools
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
EVENT_TYPES = ("charging_sub_session.created", "charging_sub_session.ended")
FAULT_KINDS = ("drop", "duplicate", "delay", "reorder", "bad_signature", "old_timestamp")
# The kinds that take seconds, and their defaults: old_timestamp's is past Svix's 5-minute
# tolerance, so a verifier rejects it.
DEFAULT_SECONDS = {"delay": 60.0, "old_timestamp": 600.0}


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
class WebhookFault:
    """A fault for the next ``remaining`` events (of ``event_type``, if set); None: for all."""

    id: str
    kind: str
    remaining: int | None
    event_type: str | None
    seconds: float | None

    def as_json(self) -> Json:
        """Representation for the admin API."""
        return {
            "id": self.id,
            "kind": self.kind,
            "count": self.remaining,
            "event_type": self.event_type,
            "seconds": self.seconds,
        }


@dataclass
class Delivery:
    """A message on its way: its next attempt is due at ``due`` (ties go by ``order``)."""

    message: Message
    due: datetime
    order: int
    # "pending" (or "held" by reorder), then "delivered" or "failed"; or "dropped" at once.
    state: str = "pending"
    faults: list[str] = field(default_factory=list)
    bad_signature: bool = False
    age: float = 0.0  # seconds the svix-timestamp lags the clock
    attempts: list[Attempt] = field(default_factory=list)

    def as_json(self) -> Json:
        """Representation for the admin API."""
        return {
            "svix_id": self.message.id,
            "type": self.message.type,
            "sub_session": self.message.sub_session,
            "state": self.state,
            "faults": self.faults,
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
        self.faults: list[WebhookFault] = []
        self._fault_ids = itertools.count(1)
        self._order = itertools.count()
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

    def add_fault(
        self,
        kind: str,
        count: int | None = 1,
        event_type: str | None = None,
        seconds: float | None = None,
    ) -> WebhookFault:
        """Apply a fault to the next ``count`` events (of ``event_type``, if given)."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(FAULT_KINDS)}")
        if count is not None and (type(count) is not int or count < 1):
            raise ValueError("count must be a positive integer or null")
        if event_type is not None and event_type not in EVENT_TYPES:
            raise ValueError(f"event_type must be one of {', '.join(EVENT_TYPES)}")
        if kind in DEFAULT_SECONDS:
            seconds = DEFAULT_SECONDS[kind] if seconds is None else seconds
            if type(seconds) not in (int, float) or seconds <= 0:
                raise ValueError("seconds must be a positive number")
        elif seconds is not None:
            raise ValueError(f"{kind} takes no seconds")
        fault = WebhookFault(
            f"webhook_fault{next(self._fault_ids)}", kind, count, event_type, seconds
        )
        self.faults.append(fault)
        return fault

    def _take(self, kind: str, event_type: str) -> WebhookFault | None:
        """Consume one use of the first fault of ``kind`` that applies to ``event_type``."""
        for fault in self.faults:
            if fault.kind == kind and fault.event_type in (None, event_type):
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self.faults.remove(fault)
                return fault
        return None

    async def reset(self) -> None:
        """Forget the endpoint, every delivery (pending ones are abandoned) and the faults."""
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
        self.faults.clear()

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
        self._queue(Message("msg_" + secrets.token_hex(13), event_type, sub.id, body))
        self._wake.set()

    def _queue(self, message: Message) -> None:
        now = self.clock.now()
        if self._take("drop", message.type):
            self.deliveries.append(Delivery(message, now, next(self._order), "dropped", ["drop"]))
            return
        taken = {
            kind: fault
            for kind in FAULT_KINDS[1:]  # all but drop
            if (fault := self._take(kind, message.type))
        }
        delay, old = taken.get("delay"), taken.get("old_timestamp")
        due = now + timedelta(seconds=delay.seconds or 0) if delay else now
        state = "held" if "reorder" in taken else "pending"
        self.deliveries += [
            Delivery(
                message,
                due,
                next(self._order),
                state,
                list(taken),
                bad_signature="bad_signature" in taken,
                age=(old.seconds or 0) if old else 0,
            )
            for _ in range(2 if "duplicate" in taken else 1)
        ]
        if state == "pending":  # what reorder held back goes right after this
            for held in self.deliveries:
                if held.state == "held":
                    held.state = "pending"
                    held.due = max(held.due, due)
                    held.order = next(self._order)

    def _pending(self) -> list[Delivery]:
        return [delivery for delivery in self.deliveries if delivery.state == "pending"]

    def _next_due(self, now: datetime) -> Delivery | None:
        due = [delivery for delivery in self._pending() if delivery.due <= now]
        return min(due, key=lambda delivery: (delivery.due, delivery.order), default=None)

    def _seconds_until_next(self, now: datetime) -> float | None:
        """Real seconds until the next due instant; None: wait for a clock move or an event."""
        instants = [delivery.due for delivery in self._pending()]
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
        timestamp = int(now.timestamp() - delivery.age)
        attempt = Attempt(iso(now), timestamp)
        delivery.attempts.append(attempt)
        secret = new_secret() if delivery.bad_signature else self.endpoint.secret
        headers = {
            "Content-Type": "application/json",
            "svix-id": message.id,
            "svix-timestamp": str(timestamp),
            "svix-signature": sign(secret, message.id, timestamp, message.body),
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
            delivery.state = "delivered"
        elif len(delivery.attempts) > len(RETRY_DELAYS):
            delivery.state = "failed"
        else:
            delivery.due = now + timedelta(seconds=RETRY_DELAYS[len(delivery.attempts) - 1])
