"""Whether a vehicle or charger changed in nothing but its status's sample time.

A device that reports again moves its status's `sampled_at` on nearly every poll; only the
entities that show that time (or depend on it) have anything new to show then. Nothing here
imports Home Assistant.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from operator import attrgetter
from typing import Any

from .api import Evse, EvseStatus, Vehicle, VehicleStatus


def _all_but(cls: type[Any], name: str) -> Callable[[Any], tuple[Any, ...]]:
    """Return a getter of every field of the dataclass `cls` but `name`, as one tuple."""
    getter: Callable[[Any], tuple[Any, ...]] = attrgetter(
        *(field.name for field in fields(cls) if field.name != name)
    )
    return getter


# Tuples of plain attributes compare in C: this runs for every resource on every poll.
_BUT_STATUS = {Vehicle: _all_but(Vehicle, "status"), Evse: _all_but(Evse, "status")}
_BUT_SAMPLE_TIME = {
    VehicleStatus: _all_but(VehicleStatus, "sampled_at"),
    EvseStatus: _all_but(EvseStatus, "sampled_at"),
}


def only_sample_time_moved[ResourceT: (Vehicle, Evse)](
    old: ResourceT | None, new: ResourceT | None
) -> bool:
    """Whether `new` is `old` with another `sampled_at` and nothing else changed."""
    if old is None or new is None:
        return False
    before, after = old.status, new.status
    if before is None or after is None or before.sampled_at == after.sampled_at:
        return False
    but_status = _BUT_STATUS[type(old)]
    but_sample_time = _BUT_SAMPLE_TIME[type(before)]
    return but_status(old) == but_status(new) and but_sample_time(before) == but_sample_time(after)
