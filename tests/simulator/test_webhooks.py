"""Webhooks: the signer, delivery of sub-session events, retries, faults, the portal."""

import base64

import pytest

from simulator.webhooks import new_secret, secret_key, sign

# The Standard Webhooks / Svix reference vector (also the spec's svix-signature example).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_sign_matches_the_reference_vector() -> None:
    assert sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY) == VECTOR_SIGNATURE
    # Any change to what is signed changes the signature.
    assert sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP + 1, VECTOR_BODY) != VECTOR_SIGNATURE
    assert sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY + b" ") != VECTOR_SIGNATURE


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "starting with whsec_"),
        ("whsec_not base64!", "base64"),
        ("whsec_", "empty"),
        (42, "string"),
    ],
)
def test_bad_secrets(secret: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        secret_key(secret)


def test_new_secrets_are_random_24_byte_keys() -> None:
    first, second = new_secret(), new_secret()
    assert first != second
    assert secret_key(first) == base64.b64decode(first.removeprefix("whsec_"))
    assert len(secret_key(first)) == 24
