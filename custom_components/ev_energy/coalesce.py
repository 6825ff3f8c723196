"""Run a job at once when asked, then at most once per window however often it is asked."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from homeassistant.core import callback
from homeassistant.util import dt as dt_util

from .lifecycle import Lifecycle


class Coalescer:
    """A burst of requests costs one run now and at most one more per window.

    A request while the window is open is remembered and served by a single run when it
    closes (which opens the next window). The timers and runs belong to `lifecycle`: once it
    stops, requests do nothing.
    """

    def __init__(
        self,
        lifecycle: Lifecycle,
        key: str,
        window: timedelta,
        job: Callable[[], Coroutine[Any, Any, None]],
    ) -> None:
        """Run `job` as the timer and task `key` of `lifecycle`, once per `window`."""
        self._lifecycle = lifecycle
        self._key = key
        self._window = window
        self._job = job
        self._pending = False

    @callback
    def request(self) -> None:
        """Run the job now, or once the current window closes."""
        if self._lifecycle.armed(self._key):
            self._pending = True
            return
        self._run()

    @callback
    def _run(self) -> None:
        self._pending = False
        self._lifecycle.at(self._key, dt_util.utcnow() + self._window, self._window_closed)
        self._lifecycle.spawn(self._job(), self._key)

    @callback
    def _window_closed(self) -> None:
        if self._pending:
            self._run()
