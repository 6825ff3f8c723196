"""Rolling one-hour request limit per (OAuth client, user), on the simulator clock."""

from collections import defaultdict, deque
from datetime import datetime, timedelta
import math

from .clock import SimClock

WINDOW = timedelta(hours=1)


class RateLimiter:
    """Counts requests per bucket within the last hour of simulator time."""

    def __init__(self, clock: SimClock, limit: int) -> None:
        """Allow ``limit`` requests per rolling hour per bucket."""
        self.clock = clock
        self.limit = limit
        self._hits: defaultdict[tuple[str, str], deque[datetime]] = defaultdict(deque)

    def hit(self, bucket: tuple[str, str]) -> tuple[int, int | None]:
        """Record a request; return (remaining, None) or (0, retry-after seconds) if over."""
        now = self.clock.now()
        hits = self._hits[bucket]
        while hits and hits[0] <= now - WINDOW:
            hits.popleft()
        if len(hits) >= self.limit:
            return 0, max(1, math.ceil((hits[0] + WINDOW - now).total_seconds()))
        hits.append(now)
        return self.limit - len(hits), None
