"""The shared rule for timers and background work: all of it ends when the owner stops."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import CALLBACK_TYPE, HomeAssistant
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.ev_energy.lifecycle import Lifecycle


def _owned(hass: HomeAssistant) -> tuple[Lifecycle, list[CALLBACK_TYPE]]:
    """A lifecycle whose owner's stop hooks are kept in a list, as an entry keeps them."""
    hooks: list[CALLBACK_TYPE] = []
    return Lifecycle(hass, hooks.append, "test"), hooks


async def _advance(hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float) -> None:
    freezer.tick(timedelta(seconds=seconds))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()


async def test_timer_fires_once_and_a_new_one_replaces_it(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """A key holds one timer: arming it again moves it; None only cancels."""
    lifecycle, _ = _owned(hass)
    fired: list[str] = []
    now = dt_util.utcnow()
    lifecycle.at("flip", now + timedelta(seconds=10), lambda: fired.append("first"))
    lifecycle.at("flip", now + timedelta(seconds=20), lambda: fired.append("second"))
    await _advance(hass, freezer, 15)
    assert fired == []
    assert lifecycle.armed("flip")
    await _advance(hass, freezer, 10)
    assert fired == ["second"]
    assert not lifecycle.armed("flip")

    lifecycle.at("flip", dt_util.utcnow() + timedelta(seconds=5), lambda: fired.append("third"))
    lifecycle.at("flip", None, lambda: fired.append("never"))
    await _advance(hass, freezer, 60)
    assert fired == ["second"]


async def test_stop_cancels_timers_tasks_and_intervals_and_refuses_new_ones(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """The owner's stop ends everything, and what comes after it starts nothing."""
    lifecycle, hooks = _owned(hass)
    fired: list[str] = []
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def job() -> None:
        fired.append("tick")
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    lifecycle.at("flip", dt_util.utcnow() + timedelta(seconds=30), lambda: fired.append("flip"))
    lifecycle.every("import", timedelta(minutes=5), job)
    await _advance(hass, freezer, 5 * 60)
    await started.wait()
    assert fired == ["flip", "tick"]

    lifecycle.at("flip", dt_util.utcnow() + timedelta(seconds=30), lambda: fired.append("late"))
    assert len(hooks) == 1
    hooks[0]()
    await hass.async_block_till_done()
    assert cancelled.is_set()
    assert lifecycle.stopped

    async def never() -> None:
        fired.append("spawned after stop")

    assert lifecycle.spawn(never(), "late") is None
    lifecycle.at("again", dt_util.utcnow() + timedelta(seconds=1), lambda: fired.append("again"))
    lifecycle.every("import", timedelta(minutes=5), job)
    for _ in range(4):
        await _advance(hass, freezer, 5 * 60)
    assert fired == ["flip", "tick"]
