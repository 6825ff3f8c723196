"""What a loaded config entry holds: imported by every module that needs the entry's type.

It imports none of them at run time, so no module imports another through it in a circle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from homeassistant.config_entries import ConfigEntry

if TYPE_CHECKING:
    from .api import EvEnergyClient
    from .binary_sensor import CheapestWindow
    from .coordinator import EvEnergyLiveCoordinator
    from .followers import EvEnergyConnectivityCoordinator, EvEnergySessionsCoordinator
    from .history import ChargingHistory
    from .notifications import EvEnergyNotificationsCoordinator
    from .plan_coordinator import EvEnergyPlanCoordinator
    from .price_coordinator import EvEnergyPriceCoordinator
    from .push import EvEnergyPush

type EvEnergyConfigEntry = ConfigEntry[EvEnergyRuntimeData]


@dataclass(kw_only=True)
class EvEnergyRuntimeData:
    """What a loaded config entry holds."""

    client: EvEnergyClient
    live: EvEnergyLiveCoordinator
    prices: EvEnergyPriceCoordinator
    sessions: EvEnergySessionsCoordinator
    connectivity: EvEnergyConnectivityCoordinator
    plans: EvEnergyPlanCoordinator
    notifications: EvEnergyNotificationsCoordinator
    push: EvEnergyPush
    # Set once set up: the binary sensor platform's, and the import (none without a recorder).
    cheapest_window: CheapestWindow | None = None
    history: ChargingHistory | None = None
