"""ev.energy's webhooks: Standard Webhooks signatures (as Svix sends them) and the events.

Nothing here imports Home Assistant. A delivery is trusted only once `verify` accepts it: an
HMAC-SHA256 with the endpoint's secret over `<svix-id>.<svix-timestamp>.<body>`, sent no more
than five minutes from now either way. Only then is the body read (`parse_event`).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
import hashlib
import hmac
import json
import re
from typing import Final

from .exceptions import EvEnergyResponseError
from .models import ChargingSession, ChargingSubSession, SubSession, id_from_reference

SECRET_PREFIX: Final = "whsec_"  # noqa: S105 (a prefix, not a secret)
# Standard Webhooks keys are 24 to 64 random bytes (Svix issues 24).
SECRET_BYTES: Final = range(24, 65)
TIMESTAMP_TOLERANCE: Final = 5 * 60
SIGNATURE_VERSION: Final = "v1"
# svix-id values are short (msg_ + a KSUID); anything far longer is not from Svix.
MAX_MESSAGE_ID_LENGTH: Final = 128


class WebhookError(Exception):
    """A delivery that is not acted upon."""


class MalformedHeadersError(WebhookError):
    """svix-id or svix-timestamp is missing or unreadable: not a Svix delivery."""


class UnsignedError(WebhookError):
    """No v1 signature to check: nobody vouched for this delivery."""


class StaleTimestampError(WebhookError):
    """Sent more than TIMESTAMP_TOLERANCE from now: a replay, or a clock far off."""


class BadSignatureError(WebhookError):
    """Signed, but with no signature the secret produces: a forgery or an old secret."""


class MalformedEventError(WebhookError):
    """A signed body that is not a `{type, timestamp, data}` envelope."""


class WebhookEventType(StrEnum):
    """The events ev.energy sends."""

    SUB_SESSION_CREATED = "charging_sub_session.created"
    SUB_SESSION_ENDED = "charging_sub_session.ended"


def parse_secret(secret: str) -> bytes:
    """Return the key of a `whsec_<base64>` signing secret; raise ValueError if it is none."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("the secret does not start with whsec_")
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except binascii.Error as err:
        raise ValueError("the secret is not base64") from err
    if len(key) not in SECRET_BYTES:
        raise ValueError(f"the key is {len(key)} bytes long")
    return key


def portal_url(raw: object) -> str:
    """Return the link of a `GET /webhook_portal` answer; only an http(s) link is shown."""
    url = raw.get("url") if isinstance(raw, Mapping) else None
    if not isinstance(url, str) or not re.match(r"https?://[^\s]+$", url, re.IGNORECASE):
        raise EvEnergyResponseError("webhook portal answer without a usable link")
    return url


def sign(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """Return the `v1,<base64>` signature of a delivery."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


@dataclass(frozen=True, kw_only=True, slots=True)
class Delivery:
    """The headers that identify a delivery."""

    message_id: str
    timestamp: int
    signatures: tuple[str, ...]


def parse_headers(headers: Mapping[str, str]) -> Delivery:
    """Read svix-id, svix-timestamp and svix-signature (header names are case-insensitive)."""
    message_id = headers.get("svix-id", "")
    raw_timestamp = headers.get("svix-timestamp", "")
    if not message_id or len(message_id) > MAX_MESSAGE_ID_LENGTH or not message_id.isascii():
        raise MalformedHeadersError("no usable svix-id")
    if not raw_timestamp.isascii() or not raw_timestamp.isdigit() or len(raw_timestamp) > 12:
        raise MalformedHeadersError("no usable svix-timestamp")
    # Key rotation: several space-separated `v1,<sig>`; other versions are not ours to check.
    signatures = tuple(
        value
        for version, _, value in (
            item.partition(",") for item in headers.get("svix-signature", "").split()
        )
        if version == SIGNATURE_VERSION and value
    )
    return Delivery(message_id=message_id, timestamp=int(raw_timestamp), signatures=signatures)


def verify(key: bytes, delivery: Delivery, body: bytes, now: float) -> None:
    """Raise unless `body` was signed with `key` within TIMESTAMP_TOLERANCE of `now`.

    Any one valid signature is enough; each is compared in constant time.
    """
    if not delivery.signatures:
        raise UnsignedError("no v1 signature")
    if abs(now - delivery.timestamp) > TIMESTAMP_TOLERANCE:
        raise StaleTimestampError(f"sent {now - delivery.timestamp:.0f} s ago")
    expected = sign(key, delivery.message_id, delivery.timestamp, body).partition(",")[2].encode()
    # No short cut: every signature is compared, so the time taken says nothing about which.
    valid = False
    for signature in delivery.signatures:
        valid |= hmac.compare_digest(expected, signature.encode())
    if not valid:
        raise BadSignatureError("no signature matches the secret")


@dataclass(frozen=True, kw_only=True, slots=True)
class SubSessionEvent:
    """A sub-session created or ended, as the body of a verified delivery tells it.

    `sub_session` is the resource as `GET /charging_sub_sessions/{id}` returns it; `part` is
    the same resource as a session lists it, and `evse_id` the charger it is on, if any.
    """

    type: WebhookEventType
    sub_session: ChargingSubSession
    part: SubSession
    evse_id: str | None


def parse_event(body: bytes) -> SubSessionEvent | None:
    """Read a verified body; None for an event type this integration does not know.

    Raise MalformedEventError when the body is not an envelope with a usable sub-session.
    """
    try:
        envelope = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise MalformedEventError("the body is not JSON") from err
    if not isinstance(envelope, Mapping) or not isinstance(envelope.get("type"), str):
        raise MalformedEventError("the body is not an event envelope")
    try:
        event_type = WebhookEventType(envelope["type"])
    except ValueError:
        return None
    data = envelope.get("data")
    try:
        sub_session = ChargingSubSession.from_api(data)
    except EvEnergyResponseError as err:
        raise MalformedEventError(f"the event carries no sub-session: {err}") from err
    assert isinstance(data, Mapping)  # from_api accepted it
    return SubSessionEvent(
        type=event_type,
        sub_session=sub_session,
        part=SubSession.from_api(data),
        evse_id=id_from_reference(data.get("evse")),
    )


def apply_to_session(
    session: ChargingSession | None, event: SubSessionEvent
) -> ChargingSession | None:
    """Return the vehicle's latest session as the event leaves it; None if it tells nothing.

    The sub-session replaces its earlier copy, or joins an open session as its newest one (a
    mode change). An ended copy is never reopened: deliveries may arrive out of order, and
    `ended` is the later truth. A sub-session of no open session (a plug-in) waits for the
    sessions read the event also starts: the session's own id is not in the event.
    """
    if session is None or session.vehicle_id != event.sub_session.vehicle_id:
        return None
    part = event.part
    subs = list(session.sub_sessions)
    index = next((i for i, sub in enumerate(subs) if sub.id == part.id), None)
    if index is not None:
        if subs[index].end is not None and part.end is None:
            return None
        subs[index] = part
    elif session.is_open:
        subs.append(part)
    else:
        return None
    subs.sort(key=lambda sub: sub.start or datetime.min.replace(tzinfo=UTC))
    return replace(session, sub_sessions=tuple(subs))
