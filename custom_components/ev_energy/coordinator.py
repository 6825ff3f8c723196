"""The coordinator that polls ev.energy: 3 requests per cycle, whatever the fleet size."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
import logging
import time
from typing import NoReturn

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from .api import (
    EvEnergyApiError,
    EvEnergyAuthError,
    EvEnergyClient,
    EvEnergyConnectionError,
    EvEnergyError,
    EvEnergyRateLimitError,
    Evse,
    Tariff,
    User,
    Vehicle,
)
from .const import DOMAIN, UPDATE_INTERVAL, USER_REFRESH_INTERVAL

_LOGGER = logging.getLogger(__name__)

type EvEnergyConfigEntry = ConfigEntry[EvEnergyRuntimeData]


@dataclass(frozen=True, kw_only=True)
class EvEnergyData:
    """One consistent snapshot of the account."""

    user: User
    vehicles: dict[str, Vehicle]
    evses: dict[str, Evse]
    tariff: Tariff | None


@dataclass(kw_only=True)
class EvEnergyRuntimeData:
    """What a loaded config entry holds."""

    client: EvEnergyClient
    coordinator: EvEnergyCoordinator


def raise_update_failed(err: EvEnergyError) -> NoReturn:
    """Map a client error to the coordinator's translated failure."""
    if isinstance(err, EvEnergyAuthError):
        raise ConfigEntryAuthFailed(
            translation_domain=DOMAIN, translation_key="auth_failed"
        ) from err
    if isinstance(err, EvEnergyRateLimitError):
        raise UpdateFailed(
            translation_domain=DOMAIN,
            translation_key="rate_limited",
            translation_placeholders={"retry_after": str(round(err.retry_after))},
            retry_after=err.retry_after,
        ) from err
    if isinstance(err, EvEnergyConnectionError):
        raise UpdateFailed(translation_domain=DOMAIN, translation_key="cannot_connect") from err
    if isinstance(err, EvEnergyApiError):
        raise UpdateFailed(
            translation_domain=DOMAIN,
            translation_key="api_error",
            translation_placeholders={"status": str(err.status), "message": err.problem.message},
        ) from err
    raise UpdateFailed(translation_domain=DOMAIN, translation_key="invalid_response") from err


class EvEnergyCoordinator(DataUpdateCoordinator[EvEnergyData]):
    """Polls vehicles, chargers and the tariff price once a minute."""

    config_entry: EvEnergyConfigEntry

    def __init__(
        self, hass: HomeAssistant, entry: EvEnergyConfigEntry, client: EvEnergyClient
    ) -> None:
        """Poll through `client` for `entry`."""
        super().__init__(
            hass,
            _LOGGER,
            config_entry=entry,
            name=DOMAIN,
            update_interval=UPDATE_INTERVAL,
        )
        self.client = client
        self._user: User | None = None
        self._user_read_at = 0.0

    async def _async_setup(self) -> None:
        """Find the account's tariff once before the first poll."""
        await self._async_refresh_user()

    async def _async_refresh_user(self) -> None:
        assert self.config_entry.unique_id is not None
        try:
            self._user = await self.client.async_get_user(self.config_entry.unique_id)
        except EvEnergyError as err:
            raise_update_failed(err)
        self._user_read_at = time.monotonic()

    async def _async_update_data(self) -> EvEnergyData:
        if time.monotonic() - self._user_read_at >= USER_REFRESH_INTERVAL.total_seconds():
            await self._async_refresh_user()
        assert self._user is not None
        user = self._user

        vehicles, evses, tariff = await asyncio.gather(
            self.client.async_get_vehicles(),
            self.client.async_get_evses(),
            self._async_get_tariff(user),
            return_exceptions=True,
        )
        if (
            isinstance(vehicles, BaseException)
            or isinstance(evses, BaseException)
            or isinstance(tariff, BaseException)
        ):
            errors = [e for e in (vehicles, evses, tariff) if isinstance(e, BaseException)]
            # An auth failure outranks whatever else went wrong in the same cycle.
            first = next((e for e in errors if isinstance(e, EvEnergyAuthError)), errors[0])
            if not isinstance(first, EvEnergyError):
                raise first
            raise_update_failed(first)

        return EvEnergyData(
            user=user,
            vehicles={vehicle.id: vehicle for vehicle in vehicles},
            evses={evse.id: evse for evse in evses},
            tariff=tariff,
        )

    async def _async_get_tariff(self, user: User) -> Tariff | None:
        if user.tariff_id is None:
            return None
        return await self.client.async_get_tariff(user.tariff_id)

    def async_set_vehicle(self, vehicle: Vehicle) -> None:
        """Publish a vehicle the API returned from a write, without another poll."""
        self.async_set_updated_data(
            replace(self.data, vehicles={**self.data.vehicles, vehicle.id: vehicle})
        )
