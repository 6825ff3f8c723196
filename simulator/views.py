"""JSON representations of world objects, shaped like the ev.energy v2 schemas.

``expand`` holds dotted paths (already closed over prefixes: ``trim.model`` implies ``trim``);
anything not expanded is an absolute URL built from the request's own host.
"""

from datetime import UTC, datetime
from typing import Any

from .model import Evse, Named, Session, SubSession, Vehicle, World
from .tariff import carbon_class

type Json = dict[str, Any]


def iso(instant: datetime) -> str:
    """Format a timestamp the way the API does (UTC, ``Z`` suffix)."""
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _sub(expand: set[str], prefix: str) -> set[str]:
    """Expansions below ``prefix`` (``trim.model`` -> ``model`` for prefix ``trim``)."""
    return {path.removeprefix(prefix + ".") for path in expand if path.startswith(prefix + ".")}


class Views:
    """Serializers bound to one request: its base URL and the world's current instant."""

    def __init__(self, world: World, base: str, now: datetime) -> None:
        """Bind to the API root ``base``, e.g. ``http://127.0.0.1:8765/v2``."""
        self.world = world
        self.base = base
        self.now = now

    def url(self, *parts: str) -> str:
        """Absolute URL of a resource path below the API root."""
        return "/".join((self.base, *parts))

    # --- users and tariffs -------------------------------------------------------------

    def user(self, expand: set[str], detail: bool = False) -> Json:
        """User; ``detail`` gives the LocationDetail used by the single-user GET."""
        user = self.world.user
        return {
            "id": user.id,
            "url": self.url("users", user.id),
            "email": user.email,
            "full_name": user.full_name,
            "joined_at": iso(user.joined_at),
            "terms_consent_datetime": iso(user.joined_at),
            "default_location": self.location(_sub(expand, "default_location"), detail),
            "vehicles": [self.url("vehicles", v) for v in self.world.vehicles],
            "evses": [self.url("evses", e) for e in self.world.evses],
        }

    def location(self, expand: set[str], detail: bool) -> Json:
        """Location (or LocationDetail with the current carbon intensity)."""
        loc = self.world.user.location
        has_coordinates = loc.latitude is not None and loc.longitude is not None
        body: Json = {
            "address_1": loc.address_1,
            "address_2": loc.address_2,
            "city": loc.city,
            "state": None,
            "postal_code": loc.postal_code,
            "country_code": loc.country_code,
            "coordinates": (
                {"latitude": loc.latitude, "longitude": loc.longitude} if has_coordinates else None
            ),
            "tariff": (
                self.tariff(_sub(expand, "tariff"))
                if "tariff" in expand
                else self.url("tariffs", self.world.tariff.id)
            ),
            "evse_site": None,
        }
        if detail:
            body["current_carbon_intensity_grams_per_kilowatt_hour"] = self.world.carbon_now(
                self.now
            )
        return body

    def tariff(self, expand: set[str], detail: bool = False) -> Json:
        """Tariff, or TariffDetail with ``current_price`` and ``prices``."""
        tariff = self.world.tariff
        supplier = tariff.supplier
        body: Json = {
            "id": tariff.id,
            "url": self.url("tariffs", tariff.id),
            "supplier": (
                {
                    "id": supplier.id,
                    "url": self.url("suppliers", supplier.id),
                    "name": supplier.name,
                    "icon": supplier.icon,
                    "highlighted": True,
                }
                if "supplier" in expand
                else self.url("suppliers", supplier.id)
            ),
            "name": tariff.name,
            "currency": tariff.currency,
            "highlighted": True,
            "type": tariff.type,
            "timezone_name": tariff.timezone_name,
            "price_chart_url": tariff.price_chart_url,
            "gsp_group": tariff.gsp_group,
            "valid_from": tariff.valid_from,
            "valid_until": None,
            "scheduler_tariff": None,
        }
        if tariff.daily_prices is not None:
            body["daily_prices"] = tariff.daily_prices
        if detail:
            body["current_price"] = tariff.price_at(self.now)
            body["prices"] = (
                [self.price(start, price) for start, price in self.known_prices()]
                if "prices" in expand
                else self.url("tariffs", tariff.id, "prices")
            )
        return body

    def known_prices(self) -> list[tuple[datetime, int]]:
        """List published prices, newest first (the API's order)."""
        return self.world.tariff.known_prices(self.now)[::-1]

    @staticmethod
    def price(start: datetime, price: int) -> Json:
        """Price interval."""
        return {"started_at": iso(start), "interval_seconds": 1800, "price_minor_units": price}

    # --- vehicles ----------------------------------------------------------------------

    def vehicle(self, vehicle: Vehicle, expand: set[str]) -> Json:
        """Vehicle; UNINTEGRATED vehicles have no status log."""
        url = self.url("vehicles", vehicle.id)
        status: Json | str | None = None
        if vehicle.integrated != "UNINTEGRATED":
            status = (
                self.vehicle_status(vehicle)
                if "latest_status_log" in expand
                else f"{url}/status_logs/{iso(self.now)}"
            )
        return {
            "id": vehicle.id,
            "url": url,
            "trim": (
                self.trim(vehicle, _sub(expand, "trim"))
                if "trim" in expand
                else self.url("vehicle_trims", vehicle.trim.id)
            ),
            "user": self.user(set()) if "user" in expand else self.url("users", self.world.user.id),
            "latest_status_log": status,
            "charging_sub_sessions": f"{self.url('charging_sub_sessions')}?vehicle={vehicle.id}",
            "integrated": vehicle.integrated,
            "battery_size_watt_hours": vehicle.battery_size_watt_hours,
            "effective_battery_size_watt_hours": vehicle.battery_size_watt_hours,
            "maximum_charge_limit_percentage": vehicle.maximum_charge_limit_percentage,
            "description": vehicle.description,
            "disabled": vehicle.disabled,
            "smart_charging_enabled": vehicle.smart_charging_enabled,
            "vehicle_class": vehicle.vehicle_class,
        }

    def vehicle_status(self, vehicle: Vehicle) -> Json:
        """VehicleStatusLog sampled now."""
        url = self.url("vehicles", vehicle.id)
        session = self.world.open_session(vehicle.id)
        return {
            "url": f"{url}/status_logs/{iso(self.now)}",
            "logged_at": iso(self.now),
            "sampled_at": iso(self.now),
            "vehicle": url,
            "state_of_charge_percentage": vehicle.soc,
            "is_charging": vehicle.is_charging,
            "is_plugged_in": vehicle.plugged_in,
            "charge_rate_watts": vehicle.charge_rate_watts if vehicle.is_charging else 0,
            "estimated_charge_rate_watts": vehicle.charge_rate_watts,
            "charge_level_watt_hours": round(vehicle.charge_wh),
            "target_charge_level_percentage": vehicle.maximum_charge_limit_percentage or 100,
            "target_charge_level_watt_hours": round(vehicle.target_wh),
            "charge_energy_added_watt_hours": (
                round(sum(sub.energy_wh for sub in session.subs)) if session else None
            ),
            "minutes_to_full_charge": vehicle.minutes_to_full,
            "current_type": "AC - Typically home chargers" if vehicle.plugged_in else None,
            "is_complete": vehicle.state == "PLUGGED_IN_COMPLETE",
            "odometer_meters": vehicle.odometer_meters,
            "data_source": "SIMULATOR",
            "state": vehicle.state,
        }

    def trim(self, vehicle: Vehicle, expand: set[str]) -> Json:
        """VehicleTrim."""
        model_url = self.url("vehicle_models", vehicle.model.id)
        return {
            "id": vehicle.trim.id,
            "url": self.url("vehicle_trims", vehicle.trim.id),
            "name": vehicle.trim.name,
            "model": self.vehicle_model(vehicle, _sub(expand, "model"))
            if "model" in expand
            else model_url,
            "battery_size_watt_hours": vehicle.battery_size_watt_hours,
            "onboarding_url": None,
        }

    def vehicle_model(self, vehicle: Vehicle, expand: set[str]) -> Json:
        """VehicleModel."""
        make_url = self.url("vehicle_makes", vehicle.make.id)
        return {
            "id": vehicle.model.id,
            "url": self.url("vehicle_models", vehicle.model.id),
            "name": vehicle.model.name,
            "make": self.vehicle_make(vehicle.make) if "make" in expand else make_url,
            "onboarding_url": None,
            "vehicle_trims": f"{self.url('vehicle_trims')}?model={vehicle.model.id}",
            "default_battery_size_watt_hours": vehicle.battery_size_watt_hours,
            "default_connector_type": "CCS",
        }

    def vehicle_make(self, make: Named) -> Json:
        """VehicleMake."""
        return {
            "id": make.id,
            "url": self.url("vehicle_makes", make.id),
            "name": make.name,
            "icon": None,
            "onboarding_url": None,
            "models": f"{self.url('vehicle_models')}?make={make.id}",
            "subscription_name": None,
            "subscription_package": None,
        }

    # --- chargers ----------------------------------------------------------------------

    def evse(self, evse: Evse, expand: set[str]) -> Json:
        """EVSE."""
        url = self.url("evses", evse.id)
        has_location = evse.latitude is not None and evse.longitude is not None
        return {
            "id": evse.id,
            "url": url,
            "cpid": evse.cpid,
            "model": (
                self.evse_model(evse, _sub(expand, "model"))
                if "model" in expand
                else self.url("evse_models", evse.model.id)
            ),
            "user": self.user(set()) if "user" in expand else self.url("users", self.world.user.id),
            "latest_status_log": (
                self.evse_status(evse)
                if "latest_status_log" in expand
                else f"{url}/status_logs/{iso(self.now)}"
            ),
            "ct_clamp": None,
            "lock_mode": evse.lock_mode,
            "location": (
                {"latitude": evse.latitude, "longitude": evse.longitude} if has_location else None
            ),
            "lifecycle_state": evse.lifecycle_state,
            "charging_sub_sessions": f"{self.url('charging_sub_sessions')}?evse={evse.id}",
        }

    def evse_status(self, evse: Evse) -> Json:
        """EVSEStatusLog mirroring the plugged-in vehicle."""
        vehicle = self.world.plugged_vehicle(evse.id)
        charging = vehicle is not None and vehicle.is_charging
        pilot = "C" if charging else "B" if vehicle else "A"
        return {
            "url": f"{self.url('evses', evse.id)}/status_logs/{iso(self.now)}",
            "sampled_at": iso(self.now),
            "logged_at": iso(self.now),
            "evse": self.url("evses", evse.id),
            "is_plugged_in": vehicle is not None,
            "is_charging": charging,
            "charge_rate_watts": vehicle.charge_rate_watts if vehicle and charging else 0,
            "export_power_watts": 0,
            "control_pilot_status": pilot,
            "meter_reading_watt_hours": int(evse.meter_wh),
            "is_enabled": evse.lock_mode != "LOCKED",
            "max_current_rating_milliamps": evse.max_current_milliamps,
            "cable_current_rating_milliamps": evse.max_current_milliamps if vehicle else None,
            "signal_strength_rssi_dbm": evse.connectivity.get("signal_strength_rssi_dbm"),
            "inlet_power_watts": None,
            "voltage_millivolts": evse.voltage_millivolts,
            "state_of_charge_percentage": vehicle.soc if vehicle else None,
            "mode": "Charge" if charging else "Idle",
        }

    def evse_model(self, evse: Evse, expand: set[str]) -> Json:
        """EVSEModel."""
        make = evse.make
        return {
            "id": evse.model.id,
            "url": self.url("evse_models", evse.model.id),
            "name": evse.model.name,
            "make": (
                {
                    "id": make.id,
                    "url": self.url("evse_makes", make.id),
                    "name": make.name,
                    "display_name": make.name,
                    "icon": None,
                    "onboarding_url": None,
                    "is_beta": False,
                    "evse_models": f"{self.url('evse_models')}?make={make.id}",
                }
                if "make" in expand
                else self.url("evse_makes", make.id)
            ),
            "display_name": evse.model.name,
            "onboarding_url": None,
        }

    def connectivity(self, evse: Evse, expand: set[str]) -> Json:
        """EVSEConnectivity (every field required, most nullable)."""
        info = evse.connectivity
        return {
            **{key: info.get(key) for key in _CONNECTIVITY_FIELDS},
            "connection_reliability_30d": info.get("connection_reliability_30d", 100),
            "latest_status_log": (
                self.evse_status(evse)
                if "latest_status_log" in expand
                else f"{self.url('evses', evse.id)}/status_logs/{iso(self.now)}"
            ),
        }

    # --- charging sessions -------------------------------------------------------------

    def session(self, session: Session, expand: set[str]) -> Json:
        """ChargingSession; a session always has at least one sub-session."""
        vehicle = self.world.vehicles.get(session.vehicle_id)
        evse = self.world.evses.get(session.evse_id or "")
        vehicle_url = self.url("vehicles", session.vehicle_id)
        evse_url = self.url("evses", session.evse_id) if session.evse_id else None
        return {
            "id": session.id,
            "url": self.url("charging_sessions", session.id),
            "start": iso(session.start),
            "end": iso(session.end) if session.end else None,
            "vehicle": (
                (self.vehicle(vehicle, set()) if vehicle else None)
                if "vehicle" in expand
                else vehicle_url
            ),
            "evse": (self.evse(evse, set()) if evse else None) if "evse" in expand else evse_url,
            "sub_sessions": [
                self.sub_session(session, sub)
                if "sub_sessions" in expand
                else self.url("charging_sub_sessions", sub.id)
                for sub in session.subs
            ],
        }

    def sub_session(self, session: Session, sub: SubSession) -> Json:
        """ChargingSubSession with energy, cost (minor units) and CO2 accumulated so far."""
        tariff, loc = self.world.tariff, self.world.user.location
        vehicle = self.world.vehicles.get(session.vehicle_id)
        kwh = sub.energy_wh / 1000
        intensity = round(sub.co2_g / kwh) if kwh else self.world.carbon_now(sub.start)
        savings = None
        if sub.mode == "SMART":
            savings = max(0, round(kwh * tariff.mean_daily_price(sub.start) - sub.cost))
        location: Json = {
            "name": "Home",
            "postal_code": loc.postal_code,
            "address_1": loc.address_1,
            "timezone": tariff.timezone_name,
        }
        if loc.latitude is not None and loc.longitude is not None:
            location["coordinates"] = {"latitude": loc.latitude, "longitude": loc.longitude}
        return {
            "id": sub.id,
            "url": self.url("charging_sub_sessions", sub.id),
            "start": iso(sub.start),
            "end": iso(sub.end) if sub.end else None,
            "mode": sub.mode,
            "vehicle": self.url("vehicles", session.vehicle_id),
            "evse": self.url("evses", session.evse_id) if session.evse_id else None,
            "energy_delivered_watt_hours": round(sub.energy_wh),
            "grid_energy_delivered_watt_hours": round(sub.energy_wh),
            "solar_energy_delivered_watt_hours": 0,
            "location": location,
            "cost": round(sub.cost),
            "currency": tariff.currency,
            "cost_per_kilowatt_hour": round(sub.cost / kwh) if kwh else None,
            "savings_cost": savings,
            "savings_co2_grams": None,
            "total_co2_grams": round(sub.co2_g),
            "co2_intensity_grams_per_kilowatt_hour": intensity,
            "co2_intensity_classification": carbon_class(intensity),
            "percentage_added": (
                round(sub.energy_wh * 100 / vehicle.battery_size_watt_hours, 1) if vehicle else None
            ),
            "duration_minutes": int(((sub.end or self.now) - sub.start).total_seconds() // 60),
            "tariff": self.url("tariffs", tariff.id),
            "solar_mode_type": "OFF",
        }


_CONNECTIVITY_FIELDS = (
    "signal_strength_rssi_dbm",
    "lowest_signal_strength_rssi_dbm_7d",
    "highest_signal_strength_rssi_dbm_7d",
    "ip_address",
    "iccid",
    "firmware_version",
)
