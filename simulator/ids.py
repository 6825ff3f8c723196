"""ev.energy style resource IDs: a 4-letter prefix plus a 26-character ULID."""

from datetime import datetime
import random

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_ulid(at: datetime, rng: random.Random, previous: str | None = None) -> str:
    """Return a ULID whose time part is ``at``, so IDs sort by creation time.

    Within one millisecond the ULID is ``previous`` + 1 (monotonic ULIDs), so objects created
    at the same simulated instant still sort in creation order.
    """
    millis = int(at.timestamp() * 1000)
    time_part = "".join(_CROCKFORD[(millis >> shift) & 31] for shift in range(45, -5, -5))
    if previous is not None and previous[:10] == time_part:
        value = sum(_CROCKFORD.index(char) << (5 * i) for i, char in enumerate(previous[::-1])) + 1
        return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in range(25, -1, -1))
    return time_part + "".join(rng.choice(_CROCKFORD) for _ in range(16))
