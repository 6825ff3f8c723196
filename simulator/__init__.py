"""Local simulator of the ev.energy API v2: OAuth2, an integration's endpoints, faults, webhooks."""

from .clock import SimClock
from .model import World
from .server import SimulatorConfig, SimulatorServer

__all__ = ["SimClock", "SimulatorConfig", "SimulatorServer", "World"]
