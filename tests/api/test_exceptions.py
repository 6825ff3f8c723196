"""The client's error types."""

from __future__ import annotations

import pytest

from custom_components.ev_energy.api import (
    EvEnergyApiError,
    EvEnergyAuthError,
    EvEnergyConnectionError,
    EvEnergyError,
    EvEnergyRateLimitError,
    EvEnergyResponseError,
    Problem,
)


@pytest.mark.parametrize(
    "error",
    [
        EvEnergyAuthError("x"),
        EvEnergyConnectionError("x"),
        EvEnergyResponseError("x"),
        EvEnergyRateLimitError(1),
        EvEnergyApiError(500, Problem(status=500)),
    ],
)
def test_every_error_is_an_ev_energy_error(error: Exception) -> None:
    """Callers can catch the base class."""
    assert isinstance(error, EvEnergyError)


def test_rate_limit_error() -> None:
    """The wait is kept and rounded for display."""
    error = EvEnergyRateLimitError(29.6)
    assert error.retry_after == 29.6
    assert str(error) == "Rate limited, retry after 30 s"


def test_api_error() -> None:
    """Status and problem are kept; the text leads with the status."""
    problem = Problem(status=409, title="Conflict", detail="Session cannot be boosted.")
    error = EvEnergyApiError(409, problem)
    assert (error.status, error.problem) == (409, problem)
    assert str(error) == "HTTP 409: Session cannot be boosted."


def test_problem_defaults() -> None:
    """A bare Problem has no details and a message built from the status."""
    problem = Problem(status=404)
    assert (problem.title, problem.detail, problem.type, problem.field_errors) == (
        None,
        None,
        None,
        {},
    )
    assert problem.message == "HTTP 404"
