"""Base entities: one device per vehicle, per charger and per account."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable
from datetime import datetime
from functools import wraps
from typing import Any, Concatenate, Final

from homeassistant.core import callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import CoordinatorEntity
from homeassistant.util import dt as dt_util

from .api import (
    ChargingSession,
    EvEnergyAuthError,
    EvEnergyError,
    Evse,
    EvseConnectivity,
    Vehicle,
)
from .const import DOMAIN
from .coordinator import (
    EvEnergyBaseCoordinator,
    EvEnergyData,
    EvEnergyLiveCoordinator,
    error_translation,
)
from .followers import (
    EvEnergyConnectivityCoordinator,
    EvEnergySessionsCoordinator,
    FollowerCoordinator,
)
from .lifecycle import Lifecycle
from .plan import ChargePlan
from .plan_coordinator import EvEnergyPlanCoordinator
from .price_coordinator import EvEnergyPriceCoordinator, PriceView
from .runtime import EvEnergyConfigEntry


def vehicle_device_info(vehicle: Vehicle) -> DeviceInfo:
    """Return a vehicle's device: named by the user's label, else make and model."""
    return DeviceInfo(
        identifiers={(DOMAIN, vehicle.id)},
        name=vehicle.display_name,
        translation_key=None if vehicle.display_name else "vehicle",
        manufacturer=vehicle.make,
        model=vehicle.model,
        model_id=vehicle.trim,
    )


def charger_device_info(evse: Evse) -> DeviceInfo:
    """Return a charger's device, named by make and model."""
    name = " ".join(part for part in (evse.make, evse.model) if part) or None
    return DeviceInfo(
        identifiers={(DOMAIN, evse.id)},
        name=name,
        translation_key=None if name else "charger",
        manufacturer=evse.make,
        model=evse.model,
        serial_number=evse.cpid,
    )


type EntityBuilder = Callable[[EvEnergyData, str], Iterable[Entity]]


@callback
def async_add_resource_entities(
    entry: EvEnergyConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    build: EntityBuilder,
) -> None:
    """Add a platform's entities for every vehicle and charger, now and as new ones appear.

    A resource whose device was removed (gone from the account for several polls) is
    forgotten, so its entities come back if it reappears later.
    """
    live = entry.runtime_data.live
    known: set[str] = set()

    @callback
    def add_new() -> None:
        data = live.data
        known.intersection_update(data.ids_with_device)
        present = data.ids_with_device & (data.vehicles.keys() | data.evses.keys())
        if new := present - known:
            known.update(new)
            async_add_entities(
                entity for resource_id in sorted(new) for entity in build(data, resource_id)
            )

    add_new()
    entry.async_on_unload(live.async_add_listener(add_new))


# What an entity shows when it cannot tell cheaply: then every update is written.
UNKNOWN_SHOWN: Final = object()


class ChangeFilter(Entity):
    """Writes a state only when it shows something new, and on time when time alone changes it.

    A coordinator tells its listeners which resources changed (`changed_ids`, in its own
    terms: vehicle, charger or account ids). An entity reads one or more of them
    (`_source_ids`: its own, and e.g. the charger a car's session is on); an update that
    changed none of them has nothing new for it unless its availability flipped. An entity
    that can say cheaply what it shows (`_shown_value`) also skips an update that leaves that
    unchanged. A new `sampled_at` moves every status on nearly every poll: unless the entity
    shows that time (`_follows_sample_time`), a resource whose only change it is has nothing
    new for it, which it learns without computing its value.

    A state that changes as time passes says when it next may (`_next_flip`): after every
    evaluation a timer is armed for that instant, and it re-evaluates through this same
    filter, so it writes only if the shown value did change.
    """

    resource_id: str
    _shown_available: bool | None = None
    _shown: object = UNKNOWN_SHOWN
    # Created with the first flip to arm; stops with the entity.
    timers: Lifecycle | None = None
    _flip_at: datetime | None = None

    async def async_added_to_hass(self) -> None:
        """Remember what the first state is written with."""
        await super().async_added_to_hass()
        self._remember_shown(self.available)

    def _shown_value(self) -> object:
        """Return what the entity shows (its value), or UNKNOWN_SHOWN."""
        return UNKNOWN_SHOWN

    def _follows_sample_time(self) -> bool:
        """Whether what the entity shows depends on its sources' sample time."""
        return False

    def _source_ids(self) -> Iterable[str]:
        """Return the resources whose data the entity shows or derives its state from."""
        return (self.resource_id,)

    def _next_flip(self, now: datetime) -> datetime | None:
        """Return when what it shows may next change with no new data; None: not by itself."""
        return None

    def _sources_changed(self, changed_ids: set[str], sample_only_ids: frozenset[str]) -> bool:
        for source in self._source_ids():
            if source in changed_ids and (
                source not in sample_only_ids or self._follows_sample_time()
            ):
                return True
        return False

    def _evaluate(self) -> object:
        """Return what it shows now, and arm the timer for when time alone changes that."""
        shown = self._shown_value()
        self._arm_flip(self._next_flip(dt_util.utcnow()))
        return shown

    def _remember_shown(self, available: bool) -> None:
        self._shown_available = available
        # An unavailable entity shows no value (its resource may be gone from the data).
        if available:
            self._shown = self._evaluate()
        else:
            self._shown = UNKNOWN_SHOWN
            self._arm_flip(None)

    def _shows_news(
        self,
        changed_ids: set[str] | None,
        available: bool,
        sample_only_ids: frozenset[str] = frozenset(),
    ) -> bool:
        if available == self._shown_available:
            if changed_ids is not None and not self._sources_changed(changed_ids, sample_only_ids):
                return False
            if available:
                shown = self._evaluate()
                if shown is not UNKNOWN_SHOWN and shown == self._shown:
                    return False
                self._shown = shown
                return True
        self._remember_shown(available)
        return True

    def _shows_news_of(self, source: EvEnergyBaseCoordinator[Any]) -> bool:
        """Whether the update `source` is telling its listeners of shows anything new."""
        return self._shows_news(source.changed_ids, self.available, source.sample_only_ids)

    @callback
    def _arm_flip(self, when: datetime | None) -> None:
        if when == self._flip_at:
            return
        self._flip_at = when
        if self.timers is None:
            if when is None:
                return
            self.timers = Lifecycle(self.hass, self.async_on_remove, self.entity_id)
        self.timers.at("flip", when, self._on_flip)

    @callback
    def _on_flip(self) -> None:
        self._flip_at = None
        if self._shows_news(None, self.available):
            self.async_write_ha_state()


class EvEnergyEntity(ChangeFilter, CoordinatorEntity[EvEnergyLiveCoordinator]):
    """An entity of one ev.energy resource, unique id `<resource id>_<key>`."""

    _attr_has_entity_name = True

    def __init__(
        self,
        coordinator: EvEnergyLiveCoordinator,
        resource_id: str,
        description: EntityDescription,
    ) -> None:
        """Bind the entity to a resource and its description."""
        super().__init__(coordinator)
        self.entity_description = description
        self.resource_id = resource_id
        self._attr_unique_id = f"{resource_id}_{description.key}"

    @callback
    def _handle_coordinator_update(self) -> None:
        if self._shows_news_of(self.coordinator):
            super()._handle_coordinator_update()


class EvEnergyVehicleEntity(EvEnergyEntity):
    """An entity of a vehicle's device."""

    def __init__(
        self, coordinator: EvEnergyLiveCoordinator, vehicle: Vehicle, description: EntityDescription
    ) -> None:
        """Attach to the vehicle's device."""
        super().__init__(coordinator, vehicle.id, description)
        self._attr_device_info = vehicle_device_info(vehicle)

    @property
    def vehicle(self) -> Vehicle:
        """The vehicle as last polled."""
        return self.coordinator.data.vehicles[self.resource_id]

    @property
    def available(self) -> bool:
        """Unavailable when the last poll failed or the vehicle is gone from the account."""
        return super().available and self.resource_id in self.coordinator.data.vehicles


class EvEnergyChargerEntity(EvEnergyEntity):
    """An entity of a charger's (EVSE's) device."""

    def __init__(
        self, coordinator: EvEnergyLiveCoordinator, evse: Evse, description: EntityDescription
    ) -> None:
        """Attach to the charger's device."""
        super().__init__(coordinator, evse.id, description)
        self._attr_device_info = charger_device_info(evse)

    @property
    def evse(self) -> Evse:
        """The charger as last polled."""
        return self.coordinator.data.evses[self.resource_id]

    @property
    def available(self) -> bool:
        """Unavailable when the last poll failed or the charger is gone from the account."""
        return super().available and self.resource_id in self.coordinator.data.evses


def account_device_info(user_id: str) -> DeviceInfo:
    """Return the account's service device, home of the tariff and price entities."""
    return DeviceInfo(
        identifiers={(DOMAIN, user_id)},
        translation_key="account",
        manufacturer="ev.energy",
        entry_type=DeviceEntryType.SERVICE,
        configuration_url="https://ev.energy",
    )


class EvEnergyFollowerEntity[CoordinatorT: FollowerCoordinator[Any]](
    ChangeFilter, CoordinatorEntity[CoordinatorT]
):
    """An entity of a slower coordinator that also follows the live poll.

    The live poll says whether its vehicle or charger is still in the account (and carries
    the tariff), so its updates refresh this entity's state too.
    """

    _attr_has_entity_name = True
    # Whether it shows data of the live poll itself (the tariff, a car's plug state), not just
    # whether its resource is still in the account.
    _shows_live_data = False

    def __init__(
        self,
        coordinator: CoordinatorT,
        resource_id: str,
        device_info: DeviceInfo,
        description: EntityDescription,
    ) -> None:
        """Bind the entity to a resource, its device and its description."""
        super().__init__(coordinator)
        self.entity_description = description
        self.resource_id = resource_id
        self._attr_unique_id = f"{resource_id}_{description.key}"
        self._attr_device_info = device_info

    async def async_added_to_hass(self) -> None:
        """Also follow the live poll."""
        await super().async_added_to_hass()
        self.async_on_remove(self.coordinator.live.async_add_listener(self._handle_live_update))

    @callback
    def _handle_coordinator_update(self) -> None:
        if self._shows_news_of(self.coordinator):
            super()._handle_coordinator_update()

    @callback
    def _handle_live_update(self) -> None:
        """Rewrite when the availability flipped, or what it shows of the live poll changed."""
        if self._shows_live_data:
            news = self._shows_news_of(self.coordinator.live)
        else:
            news = self._shows_news(set(), self.available)
        if news:
            super()._handle_coordinator_update()

    @callback
    def _follow(self, source: EvEnergyBaseCoordinator[Any]) -> None:
        """Also follow another coordinator it reads, through the same filter."""

        @callback
        def update() -> None:
            if self._shows_news_of(source):
                self.async_write_ha_state()

        self.async_on_remove(source.async_add_listener(update))

    @property
    def in_account(self) -> bool:
        """Whether the live poll still lists this entity's vehicle or charger."""
        data = self.coordinator.live.data
        return self.resource_id in data.vehicles or self.resource_id in data.evses


class EvEnergyPriceEntity(EvEnergyFollowerEntity[EvEnergyPriceCoordinator]):
    """An entity of the account device that reads the tariff's prices.

    The live poll carries the tariff's own current price, used when the list has no price
    for now.
    """

    _shows_live_data = True

    def __init__(
        self, coordinator: EvEnergyPriceCoordinator, description: EntityDescription
    ) -> None:
        """Attach to the account's device."""
        user_id = coordinator.live.data.user.id
        super().__init__(coordinator, user_id, account_device_info(user_id), description)

    @property
    def prices(self) -> PriceView:
        """The prices as of now."""
        return self.coordinator.view

    @property
    def available(self) -> bool:
        """Available while the tariff is known and either source is healthy."""
        live = self.coordinator.live
        return live.data.tariff is not None and (
            live.last_update_success or self.coordinator.last_update_success
        )


class EvEnergyAccountEntity(EvEnergyEntity):
    """An entity of the account's service device, from the live poll."""

    def __init__(
        self, coordinator: EvEnergyLiveCoordinator, description: EntityDescription
    ) -> None:
        """Attach to the account's device."""
        user_id = coordinator.data.user.id
        super().__init__(coordinator, user_id, description)
        self._attr_device_info = account_device_info(user_id)


class EvEnergySessionEntity(EvEnergyFollowerEntity[EvEnergySessionsCoordinator]):
    """A vehicle entity read from its latest charging session."""

    def __init__(
        self,
        coordinator: EvEnergySessionsCoordinator,
        vehicle: Vehicle,
        description: EntityDescription,
    ) -> None:
        """Attach to the vehicle's device."""
        super().__init__(coordinator, vehicle.id, vehicle_device_info(vehicle), description)

    @property
    def session(self) -> ChargingSession | None:
        """The vehicle's latest session, if there is one."""
        return self.coordinator.data.get(self.resource_id) if self.coordinator.data else None

    @property
    def available(self) -> bool:
        """Unavailable when sessions cannot be read or the vehicle left the account."""
        return super().available and self.in_account


class EvEnergyConnectivityEntity(EvEnergyFollowerEntity[EvEnergyConnectivityCoordinator]):
    """A charger entity read from its connectivity snapshot."""

    def __init__(
        self,
        coordinator: EvEnergyConnectivityCoordinator,
        evse: Evse,
        description: EntityDescription,
    ) -> None:
        """Attach to the charger's device."""
        super().__init__(coordinator, evse.id, charger_device_info(evse), description)

    @property
    def connectivity(self) -> EvseConnectivity | None:
        """The charger's last connectivity snapshot."""
        return self.coordinator.data.get(self.resource_id) if self.coordinator.data else None

    @property
    def available(self) -> bool:
        """Unavailable until read, or once the charger left the account."""
        return super().available and self.connectivity is not None and self.in_account


def translate_error(err: EvEnergyError) -> HomeAssistantError:
    """Return the user-facing, translated form of a failed API call."""
    key, placeholders = error_translation(err)
    return HomeAssistantError(
        translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders
    )


def handle_api_errors[EntityT: CoordinatorEntity[Any], **P](
    func: Callable[Concatenate[EntityT, P], Coroutine[Any, Any, None]],
) -> Callable[Concatenate[EntityT, P], Coroutine[Any, Any, None]]:
    """Turn API failures of a write into translated errors; the entity shows the real state."""

    @wraps(func)
    async def wrapper(self: EntityT, /, *args: P.args, **kwargs: P.kwargs) -> None:
        try:
            await func(self, *args, **kwargs)
        except EvEnergyError as err:
            if isinstance(err, EvEnergyAuthError):
                self.coordinator.config_entry.async_start_reauth(self.hass)
            # The frontend may already show the requested value; push the real one back.
            self.async_write_ha_state()
            raise translate_error(err) from err

    return wrapper


class EvEnergyPlanEntity(EvEnergyFollowerEntity[EvEnergyPlanCoordinator]):
    """A vehicle entity read from its charging plan, priced from the tariff's prices."""

    def __init__(
        self, coordinator: EvEnergyPlanCoordinator, vehicle: Vehicle, description: EntityDescription
    ) -> None:
        """Attach to the vehicle's device."""
        super().__init__(coordinator, vehicle.id, vehicle_device_info(vehicle), description)

    async def async_added_to_hass(self) -> None:
        """Also follow the prices, which the plan's cost comes from."""
        await super().async_added_to_hass()
        self._follow(self.coordinator.prices)

    @property
    def plan(self) -> ChargePlan:
        """The vehicle's plan as of now (empty while it has no open session)."""
        return self.coordinator.plan_for(self.resource_id)

    @property
    def available(self) -> bool:
        """Unavailable when plans, or this vehicle's, cannot be read or it left the account."""
        return super().available and self.in_account and self.coordinator.readable(self.resource_id)
