"""Simulator clock: a start instant plus scaled real elapsed time plus manual offsets."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
import time


class SimClock:
    """Time source for everything in the simulator (tokens, prices, physics, rate limits).

    ``time_scale`` 0 freezes the clock so tests only move it with ``advance``/``set``.
    """

    def __init__(
        self,
        start: datetime | None = None,
        time_scale: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """Start the clock at ``start`` (default: the real current UTC time)."""
        self._monotonic = monotonic
        self._time_scale = time_scale
        self._listeners: list[Callable[[], None]] = []
        self._rebase(start or datetime.now(UTC))

    def _rebase(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("clock instants must be timezone-aware")
        self._base = instant.astimezone(UTC)
        self._base_mono = self._monotonic()
        for listener in self._listeners:
            listener()

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` whenever the clock is set, advanced or rescaled.

        A frozen clock only moves this way, so this is how work due at a simulated instant
        (not just at a real one) learns that its time may have come.
        """
        self._listeners.append(listener)

    def now(self) -> datetime:
        """Return the current simulator time (UTC)."""
        elapsed = (self._monotonic() - self._base_mono) * self._time_scale
        return self._base + timedelta(seconds=elapsed)

    @property
    def time_scale(self) -> float:
        """Simulated seconds per real second."""
        return self._time_scale

    @time_scale.setter
    def time_scale(self, value: float) -> None:
        # Rebase first so the change only affects time from now on.
        self._rebase(self.now())
        self._time_scale = value

    def advance(self, seconds: float) -> datetime:
        """Jump forward (or backward, if negative) by ``seconds``; return the new time."""
        self._rebase(self.now() + timedelta(seconds=seconds))
        return self.now()

    def set(self, instant: datetime) -> datetime:
        """Jump to ``instant``; return the new time."""
        self._rebase(instant)
        return self.now()
