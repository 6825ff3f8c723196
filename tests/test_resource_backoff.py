"""Failures and back-off per resource (no Home Assistant)."""

from __future__ import annotations

import pytest

from custom_components.ev_energy.api import (
    EvEnergyApiError,
    EvEnergyAuthError,
    EvEnergyConnectionError,
    EvEnergyError,
    EvEnergyRateLimitError,
)
from custom_components.ev_energy.api.exceptions import Problem
from custom_components.ev_energy.resource_backoff import (
    EARLY,
    ResourceBackoff,
    account_wide,
    backoff_delay,
)


def test_delay_doubles_up_to_the_cap() -> None:
    assert [backoff_delay(30, n, 3600) for n in range(1, 10)] == [
        30,
        60,
        120,
        240,
        480,
        960,
        1920,
        3600,
        3600,
    ]
    # Hundreds of failures in a row do not overflow.
    assert backoff_delay(30, 500, 3600) == 3600


def test_unknown_resource_is_due_and_not_failing() -> None:
    backoff = ResourceBackoff()
    assert backoff.due("a", 100.0)
    assert backoff.due_at("a", 100.0) == 100.0
    assert not backoff.failing("a")
    assert backoff.next_retry(100.0) is None


def test_first_failure_keeps_then_drops_and_backs_off() -> None:
    backoff = ResourceBackoff()
    assert backoff.failed("a", 0.0, first=30, cap=100) is True
    assert backoff.failing("a")
    assert not backoff.due("a", 28.0)
    # A refresh starting a little early still finds it due.
    assert backoff.due("a", 30.0 - EARLY)
    assert backoff.next_retry(0.0) == 30.0
    assert backoff.failed("a", 30.0, first=30, cap=100) is False
    assert backoff.due_at("a", 30.0) == 90.0
    assert backoff.failed("a", 90.0, first=30, cap=100) is False
    assert backoff.due_at("a", 90.0) == 190.0  # 120, capped at 100
    # Others are unaffected.
    assert backoff.due("b", 91.0)
    assert not backoff.failing("b")


def test_recovery_is_told_once() -> None:
    backoff = ResourceBackoff()
    assert backoff.succeeded("a", next_due=3600.0) is False
    assert backoff.due_at("a", 0.0) == 3600.0
    assert backoff.next_retry(0.0) is None, "a resource read fine is no retry"
    backoff.failed("a", 3600.0, first=300, cap=3600)
    assert backoff.succeeded("a") is True
    assert backoff.succeeded("a") is False
    # Without a next due time the caller decides: due whenever asked.
    assert backoff.due("a", 3601.0)
    # Failing again after a recovery counts from one.
    assert backoff.failed("a", 4000.0, first=300, cap=3600) is True


def test_retry_now_after_an_outage_keeps_the_count() -> None:
    backoff = ResourceBackoff()
    assert backoff.retry_now() is False
    backoff.succeeded("ok", next_due=3600.0)
    backoff.failed("a", 0.0, first=300, cap=3600)
    assert backoff.retry_now() is True
    assert backoff.due("a", 1.0)
    assert backoff.next_retry(1.0) == 1.0
    assert not backoff.due("ok", 1.0), "only failing resources are read again"
    assert backoff.failed("a", 1.0, first=300, cap=3600) is False, "not warned twice"
    assert backoff.due_at("a", 1.0) == 601.0


def test_forget_all_but() -> None:
    backoff = ResourceBackoff()
    backoff.failed("gone", 0.0, first=300, cap=3600)
    backoff.failed("kept", 0.0, first=300, cap=3600)
    backoff.forget_all_but({"kept", "new"})
    assert not backoff.failing("gone")
    assert backoff.due("gone", 0.0)
    assert backoff.failing("kept")
    # Back again later, it starts afresh: its first failure is the first again.
    assert backoff.failed("gone", 10.0, first=300, cap=3600) is True


@pytest.mark.parametrize(
    ("err", "whole"),
    [
        (EvEnergyAuthError("refused"), True),
        (EvEnergyRateLimitError(60), True),
        (EvEnergyApiError(404, Problem(status=404)), False),
        (EvEnergyApiError(500, Problem(status=500)), False),
        (EvEnergyConnectionError("timeout"), False),
    ],
)
def test_account_wide(err: EvEnergyError, whole: bool) -> None:
    assert account_wide(err) is whole
