"""A status whose only change is its sample time (pure logic, no Home Assistant)."""

from __future__ import annotations

from typing import Any

from custom_components.ev_energy.api import Evse, Vehicle
from custom_components.ev_energy.sample_time import only_sample_time_moved


def _vehicle(**status: Any) -> Vehicle:
    return Vehicle.from_api(
        {
            "id": "vhcl1",
            "latest_status_log": {
                "sampled_at": "2026-11-22T10:00:00Z",
                "state_of_charge_percentage": 50,
                **status,
            },
        }
    )


def _evse(**status: Any) -> Evse:
    return Evse.from_api(
        {"id": "evse1", "latest_status_log": {"sampled_at": "2026-11-22T10:00:00Z", **status}}
    )


def test_only_the_sample_time_moved() -> None:
    """A later sampled_at with everything else equal is a sample-time-only change."""
    assert only_sample_time_moved(_vehicle(), _vehicle(sampled_at="2026-11-22T10:01:00Z"))
    assert only_sample_time_moved(_evse(), _evse(sampled_at="2026-11-22T10:01:00Z"))


def test_anything_else_changing_is_news() -> None:
    """Another figure, equal times, a status appearing or the resource coming or going: no."""
    moved = "2026-11-22T10:01:00Z"
    assert not only_sample_time_moved(
        _vehicle(), _vehicle(sampled_at=moved, state_of_charge_percentage=51)
    )
    assert not only_sample_time_moved(_vehicle(), _vehicle(state_of_charge_percentage=51))
    assert not only_sample_time_moved(_vehicle(), _vehicle())
    assert not only_sample_time_moved(_evse(), _evse(sampled_at=moved, is_plugged_in=True))
    assert not only_sample_time_moved(
        Vehicle.from_api({"id": "vhcl1", "latest_status_log": None}), _vehicle()
    )
    assert not only_sample_time_moved(None, _vehicle())
    assert not only_sample_time_moved(_vehicle(), None)
