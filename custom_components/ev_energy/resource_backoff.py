"""Failures and back-off of data read one request per resource. No Home Assistant here.

Chargers' connectivity and cars' plans are read with one request per charger or car, and one
that fails is that resource's problem alone. Its first failure in a row keeps its last copy
(a blip shows nothing) and is worth one warning; later ones drop the copy, so only that
resource's entities go unavailable; the first success after them is worth one info. It is
retried on a back-off of its own, doubling from a first delay up to a cap. A failure of the
sign-in or the rate limit is the account's, not the resource's: it fails the whole data set
and counts against no resource. Times are monotonic seconds.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Final

from .api import EvEnergyAuthError, EvEnergyError, EvEnergyRateLimitError

# Home Assistant starts a coordinator's refresh up to a second before its interval is over
# (it schedules from the whole second): a resource due that soon is due now.
EARLY: Final = 1.0


def backoff_delay(first: float, failures: int, cap: float) -> float:
    """Return the wait after `failures` in a row: `first`, doubling each time, at most `cap`."""
    return min(first * 2.0 ** min(failures - 1, 16), cap)


def account_wide(err: EvEnergyError) -> bool:
    """Whether a resource's failure is the whole data set's: the sign-in or the rate limit."""
    return isinstance(err, EvEnergyAuthError | EvEnergyRateLimitError)


class ResourceBackoff:
    """Each resource's failures in a row, and when each is due to be read again."""

    def __init__(self) -> None:
        """Start with every resource due and none failing."""
        self._failures: dict[str, int] = {}
        self._due_at: dict[str, float] = {}

    def due_at(self, resource_id: str, now: float) -> float:
        """When the resource is due (`now` if nothing was said about it)."""
        return self._due_at.get(resource_id, now)

    def due(self, resource_id: str, now: float) -> bool:
        """Whether the resource may be read at `now`."""
        return self.due_at(resource_id, now) <= now + EARLY

    def failing(self, resource_id: str) -> bool:
        """Whether the resource's last read failed."""
        return resource_id in self._failures

    def next_retry(self, now: float) -> float | None:
        """When the first failing resource is due again; None while none is failing."""
        return min(
            (self.due_at(resource_id, now) for resource_id in self._failures),
            default=None,
        )

    def succeeded(self, resource_id: str, next_due: float | None = None) -> bool:
        """Note a read that worked; return whether the resource had been failing (log that).

        `next_due` is when to read it again; None leaves that to the caller.
        """
        if next_due is None:
            self._due_at.pop(resource_id, None)
        else:
            self._due_at[resource_id] = next_due
        return self._failures.pop(resource_id, None) is not None

    def failed(self, resource_id: str, now: float, *, first: float, cap: float) -> bool:
        """Note a failed read and back off; return whether it is the first in a row.

        The first keeps the resource's last copy and is logged; later ones drop the copy.
        """
        failures = self._failures.get(resource_id, 0) + 1
        self._failures[resource_id] = failures
        self._due_at[resource_id] = now + backoff_delay(first, failures, cap)
        return failures == 1

    def retry_now(self) -> bool:
        """Make every failing resource due now, after an outage; return whether there is one.

        Their failures still count: one that fails again is not logged again.
        """
        for resource_id in self._failures:
            self._due_at.pop(resource_id, None)
        return bool(self._failures)

    def forget_all_but(self, resource_ids: Collection[str]) -> None:
        """Forget resources no longer read (gone, or unplugged): they start afresh."""
        for known in (self._failures, self._due_at):
            for resource_id in known.keys() - resource_ids:
                del known[resource_id]
