"""The Standard Webhooks signature scheme and ev.energy's event envelope (no Home Assistant)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
import json

import pytest

from custom_components.ev_energy.api import ChargingMode, ChargingSession, EvEnergyResponseError
from custom_components.ev_energy.api.webhooks import (
    BadSignatureError,
    Delivery,
    MalformedEventError,
    MalformedHeadersError,
    StaleTimestampError,
    SubSessionEvent,
    UnsignedError,
    WebhookEventType,
    apply_to_session,
    parse_event,
    parse_headers,
    parse_secret,
    portal_url,
    sign,
    verify,
)

# The published Standard Webhooks / Svix test vector.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MESSAGE_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
PAYLOAD = b'{"test": 2432232314}'
SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
OTHER_SECRET = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"  # 24 bytes, another key


def delivery(*signatures: str, timestamp: int = TIMESTAMP) -> Delivery:
    return Delivery(message_id=MESSAGE_ID, timestamp=timestamp, signatures=signatures)


def test_published_test_vector() -> None:
    """Our signing reproduces the reference signature, and verification accepts it."""
    key = parse_secret(SECRET)
    assert sign(key, MESSAGE_ID, TIMESTAMP, PAYLOAD) == SIGNATURE
    headers = {"svix-id": MESSAGE_ID, "svix-timestamp": str(TIMESTAMP), "svix-signature": SIGNATURE}
    verify(key, parse_headers(headers), PAYLOAD, now=TIMESTAMP)


def test_tampered_body_or_id_fails() -> None:
    key = parse_secret(SECRET)
    with pytest.raises(BadSignatureError):
        verify(key, delivery(SIGNATURE.split(",")[1]), b'{"test": 2432232315}', now=TIMESTAMP)
    moved = Delivery(message_id="msg_other", timestamp=TIMESTAMP, signatures=(SIGNATURE[3:],))
    with pytest.raises(BadSignatureError):
        verify(key, moved, PAYLOAD, now=TIMESTAMP)
    with pytest.raises(BadSignatureError):
        verify(parse_secret(OTHER_SECRET), delivery(SIGNATURE[3:]), PAYLOAD, now=TIMESTAMP)


def test_key_rotation_any_one_signature_is_enough() -> None:
    """During a rotation Svix signs with old and new key: one valid among several passes."""
    other = sign(parse_secret(OTHER_SECRET), MESSAGE_ID, TIMESTAMP, PAYLOAD)
    headers = {
        "svix-id": MESSAGE_ID,
        "svix-timestamp": str(TIMESTAMP),
        "svix-signature": f"v1,bm90IGEgc2lnbmF0dXJl {other} v2,ignored {SIGNATURE}",
    }
    parsed = parse_headers(headers)
    assert len(parsed.signatures) == 3
    verify(parse_secret(SECRET), parsed, PAYLOAD, now=TIMESTAMP)
    with pytest.raises(BadSignatureError):
        verify(parse_secret(SECRET), delivery(other.split(",")[1]), PAYLOAD, now=TIMESTAMP)


@pytest.mark.parametrize("offset", [-301, 301, -(10**6)])
def test_timestamp_outside_five_minutes_fails(offset: int) -> None:
    with pytest.raises(StaleTimestampError):
        verify(parse_secret(SECRET), delivery(SIGNATURE[3:]), PAYLOAD, now=TIMESTAMP - offset)


@pytest.mark.parametrize("offset", [-300, 300])
def test_timestamp_at_the_tolerance_passes(offset: int) -> None:
    verify(parse_secret(SECRET), delivery(SIGNATURE[3:]), PAYLOAD, now=TIMESTAMP + offset)


@pytest.mark.parametrize("header", ["", "v1,", "v2,abc", "g0hM9SsE"])
def test_no_v1_signature_is_unsigned(header: str) -> None:
    headers = {"svix-id": MESSAGE_ID, "svix-timestamp": str(TIMESTAMP), "svix-signature": header}
    with pytest.raises(UnsignedError):
        verify(parse_secret(SECRET), parse_headers(headers), PAYLOAD, now=TIMESTAMP)


@pytest.mark.parametrize(
    "headers",
    [
        {"svix-timestamp": str(TIMESTAMP)},
        {"svix-id": MESSAGE_ID},
        {"svix-id": MESSAGE_ID, "svix-timestamp": "yesterday"},
        {"svix-id": MESSAGE_ID, "svix-timestamp": "-5"},
        {"svix-id": MESSAGE_ID, "svix-timestamp": "1" * 40},
        {"svix-id": "m" * 200, "svix-timestamp": str(TIMESTAMP)},
    ],
)
def test_malformed_headers(headers: dict[str, str]) -> None:
    with pytest.raises(MalformedHeadersError):
        parse_headers(headers)


@pytest.mark.parametrize(
    "secret",
    [
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",  # no prefix
        "whsec_not base64!",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS",  # bad padding
        "whsec_c2hvcnQ=",  # 5 bytes
        "whsec_" + "QUFB" * 30,  # 90 bytes
    ],
)
def test_invalid_secrets(secret: str) -> None:
    with pytest.raises(ValueError, match=r"secret|key"):
        parse_secret(secret)


SUB_SESSION = {
    "id": "csub01HSH04KDEWF6Z4DB2J77J74K5",
    "url": "https://api.ev.energy/v2/charging_sub_sessions/csub01HSH04KDEWF6Z4DB2J77J74K5",
    "start": "2026-11-22T10:00:00Z",
    "end": None,
    "mode": "BOOST",
    "energy_delivered_watt_hours": 0,
    "vehicle": "https://api.ev.energy/v2/vehicles/vhcl01HRFF3SEVSCRAV9B3CHVDFN0H",
    "evse": "https://api.ev.energy/v2/evses/evse01HSH04KDEWF6Z4DB2J77J74K5",
    "cost": 0,
    "currency": "gbp",
    "savings_cost": 12,
}


def test_parse_created_event() -> None:
    body = {"type": "charging_sub_session.created", "timestamp": "2026-11-22T10:00:01Z"}
    event = parse_event(json.dumps({**body, "data": SUB_SESSION}).encode())
    assert event is not None
    assert event.type is WebhookEventType.SUB_SESSION_CREATED
    assert event.sub_session.id == SUB_SESSION["id"]
    assert event.sub_session.vehicle_id == "vhcl01HRFF3SEVSCRAV9B3CHVDFN0H"
    assert event.part.mode is ChargingMode.BOOST
    assert event.part.savings_minor_units == 12
    assert event.part.currency == "GBP"
    assert event.evse_id == "evse01HSH04KDEWF6Z4DB2J77J74K5"


def _event(event_type: str, **changes: object) -> SubSessionEvent:
    event = parse_event(
        json.dumps({"type": event_type, "data": {**SUB_SESSION, **changes}}).encode()
    )
    assert event is not None
    return event


OPEN_SESSION = ChargingSession.from_api(
    {
        "id": "cses01HSH04KDEWF6Z4DB2J77J7AAA",
        "start": "2026-11-22T08:00:00Z",
        "end": None,
        "vehicle": "https://api.ev.energy/v2/vehicles/vhcl01HRFF3SEVSCRAV9B3CHVDFN0H",
        "sub_sessions": [
            {
                "id": "csub01HSH04KDEWF6Z4DB2J77J7AA1",
                "start": "2026-11-22T08:00:00Z",
                "mode": "SMART",
            }
        ],
    }
)
CREATED = "charging_sub_session.created"
ENDED = "charging_sub_session.ended"
END = "2026-11-22T10:30:00Z"


def test_a_new_sub_session_joins_the_open_session() -> None:
    session = apply_to_session(OPEN_SESSION, _event(CREATED))
    assert session is not None
    assert [sub.id for sub in session.sub_sessions][-1] == SUB_SESSION["id"]
    assert session.is_boosting
    ended = apply_to_session(session, _event(ENDED, end=END))
    assert ended is not None
    assert not ended.is_boosting
    assert len(ended.sub_sessions) == 2


def test_ended_wins_whatever_the_order() -> None:
    """An ended copy arriving first is never reopened by the created one that follows."""
    ended = apply_to_session(OPEN_SESSION, _event(ENDED, end=END))
    assert ended is not None
    assert apply_to_session(ended, _event(CREATED)) is None
    assert not ended.is_boosting


def test_nothing_to_update() -> None:
    """No session, another vehicle's, or a closed one the sub-session is not part of."""
    assert apply_to_session(None, _event(CREATED)) is None
    assert apply_to_session(OPEN_SESSION, _event(CREATED, vehicle=None)) is None
    closed = replace(OPEN_SESSION, end=datetime(2026, 11, 22, 9, tzinfo=UTC))
    assert apply_to_session(closed, _event(CREATED)) is None


def test_unknown_event_type_is_none() -> None:
    assert parse_event(b'{"type": "vehicle.updated", "data": {}}') is None


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe",
        b"[]",
        b'{"data": {}}',
        b'{"type": "charging_sub_session.created"}',
        b'{"type": "charging_sub_session.created", "data": {"id": "../../users"}}',
    ],
)
def test_malformed_event(body: bytes) -> None:
    with pytest.raises(MalformedEventError):
        parse_event(body)


def test_portal_url() -> None:
    assert portal_url({"url": "https://app.svix.com/login#key=xyz"}).startswith("https://")
    unusable: tuple[object, ...] = ({"url": "javascript:alert(1)"}, {}, [], {"url": 5})
    for raw in unusable:
        with pytest.raises(EvEnergyResponseError):
            portal_url(raw)
