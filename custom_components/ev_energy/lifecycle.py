"""Timers and background work that stop with their owner: a config entry or an entity.

One rule, one place: everything a coordinator, the history import or an entity schedules for
later goes through its `Lifecycle`, which the owner stops on unload (or removal). From then on
every timer is cancelled, every task it started is cancelled, loops see `stopped`, and nothing
new is armed or started: a late answer landing after an unload cannot bring any of it back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_track_point_in_utc_time, async_track_time_interval


class Lifecycle:
    """Named timers, interval jobs and tasks that all end when the owner stops."""

    def __init__(
        self,
        hass: HomeAssistant,
        on_stop: Callable[[CALLBACK_TYPE], object],
        name: str,
    ) -> None:
        """Stop with the owner: `on_stop` is `entry.async_on_unload` or `entity.async_on_remove`."""
        self.hass = hass
        self.name = name
        self.stopped = False
        self._timers: dict[str, CALLBACK_TYPE] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        on_stop(self.stop)

    @callback
    def at(self, key: str, when: datetime | None, action: Callable[[], None]) -> None:
        """Call `action` at `when`, replacing the timer named `key`; None only cancels it."""
        self.cancel(key)
        if self.stopped or when is None:
            return

        @callback
        def fire(_: datetime) -> None:
            del self._timers[key]
            action()

        self._timers[key] = async_track_point_in_utc_time(self.hass, fire, when)

    @callback
    def every(
        self, key: str, interval: timedelta, job: Callable[[], Coroutine[Any, Any, None]]
    ) -> None:
        """Start `job` every `interval` as a task of this lifecycle (so a stop cancels it)."""
        self.cancel(key)
        if self.stopped:
            return

        @callback
        def tick(_: datetime) -> None:
            self.spawn(job(), key)

        self._timers[key] = async_track_time_interval(
            self.hass, tick, interval, name=f"{self.name} {key}"
        )

    def armed(self, key: str) -> bool:
        """Whether the timer named `key` is waiting."""
        return key in self._timers

    @callback
    def cancel(self, key: str) -> None:
        """Cancel the timer named `key`, if armed."""
        if (unsub := self._timers.pop(key, None)) is not None:
            unsub()

    @callback
    def spawn(
        self, coro: Coroutine[Any, Any, Any], name: str, *, eager: bool = True
    ) -> asyncio.Task[Any] | None:
        """Run `coro` in the background until done or stopped; after a stop, never.

        `eager=False` when the caller is inside work `coro` would wait for (a refresh asking
        for another one): the task then starts once the caller has yielded.
        """
        if self.stopped:
            coro.close()
            return None
        task = self.hass.async_create_background_task(
            coro, f"{self.name} {name}", eager_start=eager
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @callback
    def stop(self) -> None:
        """Cancel every timer and task; arm and start nothing from now on."""
        self.stopped = True
        for unsub in self._timers.values():
            unsub()
        self._timers.clear()
        for task in self._tasks:
            task.cancel()
