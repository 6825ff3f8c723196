"""Errors raised by the ev.energy API client."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, kw_only=True)
class Problem:
    """An RFC 9457 problem body as ev.energy sends it."""

    status: int
    title: str | None = None
    detail: str | None = None
    type: str | None = None
    field_errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def message(self) -> str:
        """Human-readable summary, field errors first since they say what to fix."""
        if self.field_errors:
            return "; ".join(
                f"{name}: {' '.join(messages)}" for name, messages in self.field_errors.items()
            )
        return self.detail or self.title or f"HTTP {self.status}"


class EvEnergyError(Exception):
    """Base class for every error the client raises."""


class EvEnergyAuthError(EvEnergyError):
    """The credentials were refused and could not be refreshed."""


class EvEnergyConnectionError(EvEnergyError):
    """The API could not be reached (network error or timeout)."""


class EvEnergyRateLimitError(EvEnergyError):
    """The API rate limit is exhausted; nothing is sent before `retry_after` passes."""

    def __init__(self, retry_after: float) -> None:
        """Remember how long to wait."""
        super().__init__(f"Rate limited, retry after {retry_after:.0f} s")
        self.retry_after = retry_after


class EvEnergyApiError(EvEnergyError):
    """The API answered with an error status."""

    def __init__(self, status: int, problem: Problem) -> None:
        """Keep the status and the parsed problem body."""
        super().__init__(f"HTTP {status}: {problem.message}")
        self.status = status
        self.problem = problem


class EvEnergyResponseError(EvEnergyError):
    """The API answered with a body the client cannot read."""
