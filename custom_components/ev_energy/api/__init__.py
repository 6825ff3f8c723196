"""Client for the ev.energy API v2 (no Home Assistant imports here)."""

from .auth import AbstractAuth, StaticTokenAuth
from .client import CHARGE_LIMIT_RANGE, DEFAULT_API_URL, EvEnergyClient
from .currency import minor_to_major, minor_unit_exponent
from .exceptions import (
    EvEnergyApiError,
    EvEnergyAuthError,
    EvEnergyConnectionError,
    EvEnergyError,
    EvEnergyRateLimitError,
    EvEnergyResponseError,
    Problem,
)
from .models import (
    ChargingMode,
    ChargingSession,
    ControlPilot,
    Evse,
    EvseConnectivity,
    EvseStatus,
    IntegrationStatus,
    LifecycleState,
    LockMode,
    SubSession,
    Tariff,
    TariffType,
    User,
    Vehicle,
    VehicleState,
    VehicleStatus,
)
from .prices import PriceInterval, PriceSchedule, PriceWindow, RateBand, intervals_from_bands
from .session_meter import SessionMeter

__all__ = [
    "CHARGE_LIMIT_RANGE",
    "DEFAULT_API_URL",
    "AbstractAuth",
    "ChargingMode",
    "ChargingSession",
    "ControlPilot",
    "EvEnergyApiError",
    "EvEnergyAuthError",
    "EvEnergyClient",
    "EvEnergyConnectionError",
    "EvEnergyError",
    "EvEnergyRateLimitError",
    "EvEnergyResponseError",
    "Evse",
    "EvseConnectivity",
    "EvseStatus",
    "IntegrationStatus",
    "LifecycleState",
    "LockMode",
    "PriceInterval",
    "PriceSchedule",
    "PriceWindow",
    "Problem",
    "RateBand",
    "SessionMeter",
    "StaticTokenAuth",
    "SubSession",
    "Tariff",
    "TariffType",
    "User",
    "Vehicle",
    "VehicleState",
    "VehicleStatus",
    "intervals_from_bands",
    "minor_to_major",
    "minor_unit_exponent",
]
