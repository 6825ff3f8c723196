"""The one-command demo: the simulator plus a real Home Assistant, signed in automatically.

`python -m simulator.demo` starts both processes, onboards Home Assistant (user `demo` /
password `demo`), stores the simulator's OAuth client as application credentials, runs the
ev.energy config flow through the simulator's authorize page, then sets Home Assistant up as a
user would (push updates through the simulator's webhook portal, cheapest-window option, area,
the "EV charging" dashboard, the Energy dashboard), prints the URL and waits for Ctrl-C. The
end-to-end tests drive the same `DemoStack`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
from collections.abc import Awaitable, Callable, Sequence
import contextlib
from dataclasses import dataclass, field
import html
import json
import os
from pathlib import Path
import re
import shutil
import signal
import socket
import sys
import time
from typing import Any, Self

import aiohttp
import yaml
from yarl import URL

ROOT = Path(__file__).resolve().parent.parent
DEMO_USER = "demo"
DEMO_PASSWORD = "demo"
SIM_CLIENT_ID = "demo-client-id"
SIM_CLIENT_SECRET = "demo-client-secret"
START_TIMEOUT = 120.0
STEP_TIMEOUT = 30.0
# A rendered page compresses to far more than a blank or half-loaded one (a few KB).
RENDERED_MIN_BYTES = 40_000
RENDER_ATTEMPTS = 3
DASHBOARD_FILE = ROOT / "dashboards" / "ev-charging.yaml"
DASHBOARD_URL = "ev-charging"
AREA = "Driveway"
CHARGER_METER = "sensor.myenergi_zappi_v2_1_energy_meter"
CHARGER_POWER = "sensor.myenergi_zappi_v2_1_charge_power"
PRICE = "sensor.ev_energy_account_current_price"
# The home's supply meter, from the simulator's household (the house's load plus the charger),
# posted to Home Assistant's state machine: the Energy dashboard's grid connection.
HOUSEHOLD_METER = "sensor.household_meter"
HOUSEHOLD_POWER = "sensor.household_power"
# The Energy dashboard's cost sensor for a grid meter priced by an entity.
HOUSEHOLD_COST = f"{HOUSEHOLD_METER}_cost"
# Hours of household history imported at start, for the Energy dashboard's week.
HISTORY_HOURS = 7 * 24
# Seconds between the household readings posted to Home Assistant.
HOUSEHOLD_EVERY = 30.0
CHEAPEST_WINDOW = "binary_sensor.ev_energy_account_cheapest_window"
# Served at /local/: opens the Energy dashboard's Electricity view (grid, cost, individual
# devices) on its last 7 days (the frontend keeps the chosen period in localStorage) instead of
# today, which has little charging so far.
ENERGY_WEEK_PAGE = "energy-last-7-days.html"
ENERGY_WEEK_HTML = """<!doctype html>
<script>
localStorage.setItem("energy-default-period-_energy_dashboard", "now-7d");
location.replace("/energy/electricity" + location.search);
</script>
"""
# The integration imports charging history with a tenth of the API's hourly allowance, in
# five-minute shares, which the start-up polls also draw on. Ten times the usual allowance lets
# the scenario's past sessions arrive in the first share, so /energy has bars at once instead
# of after the next shares, five minutes apart.
DEMO_RATE_LIMIT = 10_000
# Shown on the dashboard: the cheapest three hours before 07:00.
DEMO_OPTIONS = {"cheapest_window_hours": 3, "cheapest_window_end": "07:00:00"}

# `default_config:` pulls in bluetooth, usb, dhcp, ssdp, stream and go2rtc, whose libraries the
# test virtualenv lacks (the demo starts Home Assistant with --skip-pip, offline): they fail and
# take `default_config` down with them. So the parts the demo shows are listed one by one.
# The external URL is Home Assistant's own local address: the options' push step offers only an
# external URL (ev.energy posts from the internet), and the simulator posts from this machine.
CONFIGURATION_YAML = """\
homeassistant:
  name: ev.energy demo
  external_url: {ha_url}
  time_zone: Europe/London
  country: GB
  currency: GBP
  unit_system: metric
frontend:
recorder:
history:
logbook:
energy:
logger:
  default: warning
  logs:
    custom_components.ev_energy: info
ev_energy:
  api_url: {sim_url}
"""


def http_storage(port: int) -> dict[str, Any]:
    """Home Assistant's stored HTTP settings (`.storage/http`), written before its first start.

    Since 2026.10 the HTTP server is configured in storage (an `http:` block in YAML raises a
    deprecation repair). This is the layout of that store, version 2.2, as already confirmed
    ("stable"), so no trial is pending and no revert is scheduled.
    """
    return {
        "version": 2,
        "minor_version": 2,
        "key": "http",
        "data": {
            "stable": {
                "server_host": ["127.0.0.1"],
                "server_port": port,
                "cors_allowed_origins": ["https://cast.home-assistant.io"],
                "login_attempts_threshold": -1,
                "ip_ban_enabled": True,
                "ssl_profile": "modern",
                "use_x_frame_options": True,
                "created_at": "2026-01-01T00:00:00+00:00",
                "error": None,
                "error_message": None,
            },
            "pending": None,
            "yaml_migration_done": True,
        },
    }


def onboarding_storage() -> dict[str, Any]:
    """Home Assistant's onboarding progress (`.storage/onboarding`), written before its first start.

    The location step (`core_config`) is marked done: the YAML already sets the location, and
    finishing that step through the API adds Shopping list, Google Translate, Met.no and Radio
    Browser, the last three with libraries the offline demo lacks (a "Failed to set up" card and
    errors in the log).
    """
    done = ["core_config"]
    return {"version": 4, "minor_version": 1, "key": "onboarding", "data": {"done": done}}


def dashboard_config() -> dict[str, Any]:
    """Load the shipped "EV charging" dashboard as the raw configuration editor would save it."""
    config: dict[str, Any] = yaml.safe_load(DASHBOARD_FILE.read_text())  # type: ignore[no-untyped-call]
    return config


def energy_prefs(vehicles: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the Energy dashboard's settings, as a user with a household meter would set them.

    The household meter is the grid connection, priced by the current-price entity. The charger
    is an individual device and each car's imported charging statistic a device inside it, so
    nothing is counted twice; what the meter counts beyond the charger is the house's own load.
    Power sensors (`stat_rate`) give the grid's and the charger's live power.
    """
    return {
        "energy_sources": [
            {
                "type": "grid",
                "stat_energy_from": HOUSEHOLD_METER,
                "stat_energy_to": None,
                "stat_cost": None,
                "entity_energy_price": PRICE,
                "number_energy_price": None,
                "stat_compensation": None,
                "entity_energy_price_export": None,
                "number_energy_price_export": None,
                "stat_rate": HOUSEHOLD_POWER,
                "cost_adjustment_day": 0,
            }
        ],
        "device_consumption": [
            {"stat_consumption": CHARGER_METER, "stat_rate": CHARGER_POWER},
            *(
                {
                    "stat_consumption": f"ev_energy:{vehicle['id'].lower()}_charging_energy",
                    "included_in_stat": CHARGER_METER,
                }
                for vehicle in vehicles
            ),
        ],
    }


def household_states(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return the household meter's and power's states for a view of `/_sim/household`."""
    return {
        HOUSEHOLD_METER: {
            "state": f"{view['meter_wh'] / 1000:.3f}",
            "attributes": {
                "friendly_name": "Household meter",
                "device_class": "energy",
                "state_class": "total_increasing",
                "unit_of_measurement": "kWh",
            },
        },
        HOUSEHOLD_POWER: {
            "state": f"{view['power_watts']:.0f}",
            "attributes": {
                "friendly_name": "Household power",
                "device_class": "power",
                "state_class": "measurement",
                "unit_of_measurement": "W",
            },
        },
    }


@dataclass(frozen=True)
class MeterHistory:
    """A meter's hourly statistics to import, and how far its recorded sum must then move up.

    Imported sums count from the first imported hour's start, as a meter's statistics do from
    their first hour (the dashboard takes the first hour's sum as its energy). The recorder
    compiles a sensor's sum on from its own latest five-minute row, which imports do not write,
    and from zero at the sensor's first recorded state when there is none: so once it has
    compiled a row, its sums move up by the meter's advance from the history's start to that
    first state (`adjustment`, in `metadata`'s unit), as "Adjust a statistic" in Developer
    tools → Statistics would, and carry on from the imported history.
    """

    metadata: dict[str, Any]
    stats: list[dict[str, Any]]
    adjustment: float


def _sum_metadata(statistic_id: str, unit: str, unit_class: str | None) -> dict[str, Any]:
    """Metadata as the recorder compiles it for a sensor with a sum, so the two agree."""
    return {
        "has_sum": True,
        "mean_type": 0,
        "name": None,
        "source": "recorder",
        "statistic_id": statistic_id,
        "unit_class": unit_class,
        "unit_of_measurement": unit,
    }


def price_history(view: dict[str, Any], unit: str) -> dict[str, Any]:
    """Return the price's hourly means over the last day to import (`view` as for the others).

    They fill the dashboard's 24-hour price graph, which falls back on hourly statistics for
    the hours before Home Assistant recorded the price itself.
    """
    return {
        "metadata": {
            "has_sum": False,
            "mean_type": 1,  # arithmetic, as the recorder compiles a measurement's
            "name": None,
            "source": "recorder",
            "statistic_id": PRICE,
            "unit_class": None,
            "unit_of_measurement": unit,
        },
        "stats": [
            {"start": hour["start"], "mean": hour["price"]} for hour in view["hours"][-25:-1]
        ],
    }


def household_power_history(view: dict[str, Any]) -> dict[str, Any]:
    """Return the household power's hourly means to import (`view` as for `household_history`).

    A mean needs no carrying on: the recorder's own hours after these are means of their own.
    """
    return {
        "metadata": {
            "has_sum": False,
            "mean_type": 1,  # arithmetic, as the recorder compiles a power sensor's
            "name": None,
            "source": "recorder",
            "statistic_id": HOUSEHOLD_POWER,
            "unit_class": "power",
            "unit_of_measurement": "W",
        },
        "stats": [
            # Watt-hours in an hour are the hour's mean watts.
            {"start": hour["start"], "mean": hour["house_wh"] + hour["charging_wh"]}
            for hour in view["hours"][1:-1]
        ],
    }


def household_history(view: dict[str, Any], charger_zero_kwh: float) -> list[MeterHistory]:
    """Return the household meter's, its cost's and the charger meter's history to import.

    `view` is `/_sim/household` with one hour more than is imported: that first hour's end is
    the history's start. The household meter's first state is `view`'s reading (posted with it),
    its cost sensor starts at zero when the Energy dashboard is configured right after, and the
    charger's meter first read `charger_zero_kwh`.
    """
    before, *hours, _ = view["hours"]  # the hour in progress is the recorder's to compile
    (charger,) = view["charger_meter_wh"]  # the demo's scenario has one charger
    costs = [hour["cost"] for hour in view["hours"][1:]]
    return [
        MeterHistory(
            _sum_metadata(HOUSEHOLD_METER, "kWh", "energy"),
            [
                {
                    "start": hour["start"],
                    "state": hour["meter_wh"] / 1000,
                    "sum": (hour["meter_wh"] - before["meter_wh"]) / 1000,
                }
                for hour in hours
            ],
            (view["meter_wh"] - before["meter_wh"]) / 1000,
        ),
        MeterHistory(
            _sum_metadata(HOUSEHOLD_COST, view["currency"], None),
            [{"start": hour["start"], "sum": sum(costs[: i + 1])} for i, hour in enumerate(hours)],
            sum(costs),
        ),
        MeterHistory(
            _sum_metadata(CHARGER_METER, "kWh", "energy"),
            [
                {
                    "start": hour["start"],
                    "state": hour["charger_meter_wh"][charger] / 1000,
                    "sum": (hour["charger_meter_wh"][charger] - before["charger_meter_wh"][charger])
                    / 1000,
                }
                for hour in hours
            ],
            charger_zero_kwh - before["charger_meter_wh"][charger] / 1000,
        ),
    ]


class DemoError(RuntimeError):
    """A step of the demo start-up failed; the message says which."""


async def _until(check: Callable[[], Awaitable[bool]], failure: str, every: float = 0.25) -> None:
    """Call `check` until it holds, for up to START_TIMEOUT; else raise DemoError(failure)."""
    deadline = time.monotonic() + START_TIMEOUT
    while not await check():
        if time.monotonic() > deadline:
            raise DemoError(failure)
        await asyncio.sleep(every)


def find_chromium() -> str | None:
    """Path of a Chromium binary, if one is installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def free_port(preferred: int = 0) -> int:
    """Return `preferred` if it is free on 127.0.0.1, else any free port."""
    for port in (preferred, 0) if preferred else (0,):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise DemoError("no free port on 127.0.0.1")


@dataclass
class DemoStack:
    """Simulator and Home Assistant as child processes, with helpers to drive both."""

    work_dir: Path
    ha_port: int = 0
    sim_port: int = 0
    sim_args: Sequence[str] = ()
    processes: list[asyncio.subprocess.Process] = field(default_factory=list)
    session: aiohttp.ClientSession | None = None
    ha_token: str = ""
    entry_id: str = ""
    # Where the simulator posts its webhooks: the URL the options' push step showed.
    webhook_url: str = ""
    notices: list[str] = field(default_factory=list)
    household_task: asyncio.Task[None] | None = None

    @property
    def ha_url(self) -> str:
        """Home Assistant's base URL."""
        return f"http://127.0.0.1:{self.ha_port}"

    @property
    def sim_url(self) -> str:
        """The simulator's base URL."""
        return f"http://127.0.0.1:{self.sim_port}"

    @property
    def client_id(self) -> str:
        """The OAuth client id of the Home Assistant frontend (its own URL)."""
        return f"{self.ha_url}/"

    @property
    def http(self) -> aiohttp.ClientSession:
        """The HTTP session (created by `start`)."""
        assert self.session is not None
        return self.session

    async def __aenter__(self) -> Self:
        """Start everything."""
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        """Stop everything."""
        await self.stop()

    async def start(self) -> None:
        """Start both processes and sign Home Assistant in to the simulator."""
        self.ha_port = self._claim_port("Home Assistant", self.ha_port)
        self.sim_port = self._claim_port("the ev.energy simulator", self.sim_port)
        config_dir = self.work_dir / "config"
        shutil.rmtree(config_dir, ignore_errors=True)
        (config_dir / ".storage").mkdir(parents=True)
        (config_dir / "custom_components").symlink_to(ROOT / "custom_components")
        (config_dir / ".storage" / "http").write_text(json.dumps(http_storage(self.ha_port)))
        (config_dir / ".storage" / "onboarding").write_text(json.dumps(onboarding_storage()))
        (config_dir / "www").mkdir()
        (config_dir / "www" / ENERGY_WEEK_PAGE).write_text(ENERGY_WEEK_HTML)
        (config_dir / "configuration.yaml").write_text(
            CONFIGURATION_YAML.format(sim_url=self.sim_url, ha_url=self.ha_url)
        )
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=STEP_TIMEOUT))
        try:
            await self._spawn(
                "simulator",
                [
                    *(sys.executable, "-m", "simulator", "--port", str(self.sim_port)),
                    *("--rate-limit", str(DEMO_RATE_LIMIT), *self.sim_args),
                ],
            )
            hass = str(Path(sys.executable).with_name("hass"))
            await self._spawn("home-assistant", [hass, "-c", str(config_dir), "--skip-pip"])
            await self._wait_ready(f"{self.sim_url}/_sim/clock")
            await self._wait_ready(f"{self.ha_url}/api/onboarding")
            await self._onboard()
            # The HTTP API answers while integrations still set up (application_credentials,
            # which the next steps use, among them); seen under load on Home Assistant 2026.11.
            await self._wait_running()
            await self._add_application_credentials()
            self.entry_id = await self._sign_in()
            await self._furnish()
        except BaseException:
            await self.stop()
            raise

    def _claim_port(self, name: str, preferred: int) -> int:
        """Take `preferred` if free, else a free port, noting the move in `notices`."""
        port = free_port(preferred)
        if preferred and port != preferred:
            self.notices.append(f"port {preferred} is busy; {name} is on {port}")
        return port

    async def _spawn(self, name: str, argv: list[str]) -> None:
        log = (self.work_dir / f"{name}.log").open("wb")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        process = await asyncio.create_subprocess_exec(
            *argv, cwd=ROOT, stdout=log, stderr=asyncio.subprocess.STDOUT, env=env
        )
        log.close()
        self.processes.append(process)

    async def _wait_ready(self, url: str) -> None:
        async def answers() -> bool:
            if any(process.returncode is not None for process in self.processes):
                raise DemoError(f"a process exited early; see the logs in {self.work_dir}")
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with self.http.get(url) as response:
                    return response.status < 500
            return False

        await _until(answers, f"{url} did not answer within {START_TIMEOUT:.0f} s")

    async def _wait_running(self) -> None:
        async def running() -> bool:
            return bool((await self._json("GET", "/api/config"))["state"] == "RUNNING")

        await _until(running, f"Home Assistant did not finish starting in {START_TIMEOUT:.0f} s")

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"HA-Frontend-Base": self.ha_url}
        if self.ha_token:
            headers["Authorization"] = f"Bearer {self.ha_token}"
        async with self.http.request(
            method, f"{self.ha_url}{path}", headers=headers, **kwargs
        ) as response:
            if response.status >= 400:
                raise DemoError(f"{method} {path}: HTTP {response.status} {await response.text()}")
            return await response.json()

    async def _onboard(self) -> None:
        created = await self._json(
            "POST",
            "/api/onboarding/users",
            json={
                "client_id": self.client_id,
                "name": "Demo",
                "username": DEMO_USER,
                "password": DEMO_PASSWORD,
                "language": "en",
            },
        )
        tokens = await self._json(
            "POST",
            "/auth/token",
            data={
                "grant_type": "authorization_code",
                "code": created["auth_code"],
                "client_id": self.client_id,
            },
        )
        self.ha_token = tokens["access_token"]
        await self._json("POST", "/api/onboarding/analytics")
        await self._json(
            "POST",
            "/api/onboarding/integration",
            json={"client_id": self.client_id, "redirect_uri": f"{self.ha_url}/?auth_callback=1"},
        )

    async def websocket(self, message: dict[str, Any]) -> Any:
        """Send one websocket command and return its result."""
        async with self.http.ws_connect(f"{self.ha_url}/api/websocket") as ws:
            await ws.receive_json()  # auth_required
            await ws.send_json({"type": "auth", "access_token": self.ha_token})
            if (reply := await ws.receive_json())["type"] != "auth_ok":
                raise DemoError(f"websocket auth failed: {reply}")
            await ws.send_json({"id": 1, **message})
            reply = await ws.receive_json()
        if not reply.get("success"):
            raise DemoError(f"websocket {message['type']} failed: {reply.get('error')}")
        return reply["result"]

    async def _add_application_credentials(self) -> None:
        await self.websocket(
            {
                "type": "application_credentials/create",
                "domain": "ev_energy",
                "client_id": SIM_CLIENT_ID,
                "client_secret": SIM_CLIENT_SECRET,
                "name": "ev.energy simulator",
            }
        )

    async def _sign_in(self) -> str:
        """Run the ev.energy config flow as a user would, through the simulator's consent."""
        flow = await self._json(
            "POST", "/api/config/config_entries/flow", json={"handler": "ev_energy"}
        )
        return await self.complete_oauth_flow(flow)

    async def complete_oauth_flow(self, flow: dict[str, Any]) -> str:
        """Follow an OAuth external step to its end; return the created/updated entry id."""
        if flow.get("type") != "external":
            raise DemoError(f"expected the OAuth step, got {flow}")
        callback = await self.approve(flow["url"])
        async with self.http.get(callback) as response:
            if response.status != 200:
                raise DemoError(f"OAuth callback: HTTP {response.status}")
        result = await self._json("POST", f"/api/config/config_entries/flow/{flow['flow_id']}")
        if result.get("type") == "create_entry":
            return str(result["result"]["entry_id"])
        if result.get("type") == "abort" and result.get("reason") in (
            "reauth_successful",
            "reconfigure_successful",
        ):
            return self.entry_id
        raise DemoError(f"the ev.energy sign-in did not finish: {result}")

    async def approve(self, authorize_url: str) -> str:
        """Open the simulator's authorize URL (approving its consent page if shown)."""
        async with self.http.get(authorize_url, allow_redirects=False) as response:
            if response.status == 200 and "text/html" in response.content_type:
                form = await response.text()
                if 'name="approve"' not in form and "Approve" not in form:
                    raise DemoError("unexpected consent page")
                async with self.http.post(
                    authorize_url.split("?")[0],
                    data={**dict(response.url.query), "approve": "1"},
                    allow_redirects=False,
                ) as approved:
                    location = approved.headers.get("Location", "")
            else:
                location = response.headers.get("Location", "")
        if "/auth/external/callback" not in location:
            raise DemoError(f"the simulator did not redirect back to Home Assistant: {location}")
        return location

    async def _furnish(self) -> None:
        """Set Home Assistant up as a user would: options, area, dashboard, Energy dashboard."""
        await self.wait_for(CHARGER_METER, lambda s: s not in ("unknown", "unavailable"))
        # Options apply in place (no reload); the push step asks the loaded entry for its portal
        # link, and the Energy dashboard wants the first charging history: wait for both.
        await self._wait_loaded()
        await self.wait_charging_statistics()
        await self._set_up_push()
        await self.submit_options("settings", DEMO_OPTIONS)
        await self.wait_for(CHEAPEST_WINDOW, lambda s: s in ("on", "off"), within=START_TIMEOUT)
        devices = [
            device
            for device in await self.websocket({"type": "config/device_registry/list"})
            if self.entry_id in device["config_entries"]
        ]
        area = await self.websocket({"type": "config/area_registry/create", "name": AREA})
        for device in devices:
            await self.websocket(
                {
                    "type": "config/device_registry/update",
                    "device_id": device["id"],
                    "area_id": area["area_id"],
                }
            )
        await self.websocket(
            {
                "type": "lovelace/dashboards/create",
                "url_path": DASHBOARD_URL,
                "title": "EV charging",
                "icon": "mdi:ev-station",
                "show_in_sidebar": True,
                "require_admin": False,
                "mode": "storage",
            }
        )
        await self.websocket(
            {
                "type": "lovelace/config/save",
                "url_path": DASHBOARD_URL,
                "config": dashboard_config(),
            }
        )
        await self._furnish_energy()

    async def open_options(self, step: str) -> dict[str, Any]:
        """Open the entry's options, choose `step` in their menu and return its form."""
        menu = await self._json(
            "POST", "/api/config/config_entries/options/flow", json={"handler": self.entry_id}
        )
        if menu.get("type") != "menu" or step not in menu.get("menu_options", []):
            raise DemoError(f"the ev.energy options offer no {step!r}: {menu}")
        form: dict[str, Any] = await self._json(
            "POST",
            f"/api/config/config_entries/options/flow/{menu['flow_id']}",
            json={"next_step_id": step},
        )
        if form.get("type") != "form" or form.get("step_id") != step:
            raise DemoError(f"expected the options' {step!r} form, got {form}")
        return form

    async def submit_options(
        self, step: str, user_input: dict[str, Any], form: dict[str, Any] | None = None
    ) -> None:
        """Fill in the options' `step` form (`form`, if already open) and save it."""
        form = form or await self.open_options(step)
        result = await self._json(
            "POST", f"/api/config/config_entries/options/flow/{form['flow_id']}", json=user_input
        )
        if result.get("type") != "create_entry":
            raise DemoError(f"the options' {step!r} form was not saved: {result}")

    async def _set_up_push(self) -> None:
        """Turn push updates on as the options' push step tells a user to.

        The step shows the webhook URL and a one-time link to the webhook portal (the
        simulator's page); the portal takes the URL as a new endpoint and shows the signing
        secret it generated, which goes back into the step's form.
        """
        form = await self.open_options("push")
        if form.get("errors"):
            raise DemoError(f"the push updates step reports {form['errors']}")
        placeholders = form["description_placeholders"]
        self.webhook_url = placeholders["webhook_url"]
        secret = await self.add_portal_endpoint(placeholders["portal_url"], self.webhook_url)
        await self.submit_options("push", {"webhook_secret": secret}, form)

    async def add_portal_endpoint(self, portal_url: str, endpoint_url: str) -> str:
        """Add `endpoint_url` on the webhook portal's page; return the secret it shows."""
        async with self.http.get(portal_url) as response:
            page = await response.text()
            if response.status != 200:
                raise DemoError(f"webhook portal: HTTP {response.status}")
        form = re.search(r'<form method="post" action="([^"]+)">', page)
        key = re.search(r'<input type="hidden" name="key" value="([^"]*)">', page)
        if form is None or key is None:
            raise DemoError("unexpected webhook portal page")
        async with self.http.post(
            URL(portal_url).join(URL(html.unescape(form[1]))),
            data={"key": html.unescape(key[1]), "url": endpoint_url, "secret": ""},
        ) as response:
            page = await response.text()
            if response.status != 200:
                raise DemoError(f"webhook portal did not save the endpoint: HTTP {response.status}")
        shown = re.search(r"Endpoint: <code>([^<]*)</code><br>Signing secret: <code>([^<]*)<", page)
        if shown is None or html.unescape(shown[1]) != endpoint_url:
            raise DemoError("the webhook portal does not show the new endpoint")
        return html.unescape(shown[2])

    async def _furnish_energy(self) -> None:
        """Give the home a household meter with a week's history, then set up Energy with it."""
        view = await self.sim("GET", f"/_sim/household?hours={HISTORY_HOURS + 1}")
        await self._post_household(view)
        history = household_history(view, await self._first_recorded_value(CHARGER_METER))
        price = await self._json("GET", f"/api/states/{PRICE}")
        for statistics in (
            household_power_history(view),
            price_history(view, price["attributes"]["unit_of_measurement"]),
        ):
            await self.websocket({"type": "recorder/import_statistics", **statistics})
        for meter in history:
            await self.websocket(
                {
                    "type": "recorder/import_statistics",
                    "metadata": meter.metadata,
                    "stats": meter.stats,
                }
            )
        await self._wait_imported(history)
        vehicles = (await self.sim("GET", "/_sim/state"))["vehicles"]
        await self.websocket({"type": "energy/save_prefs", **energy_prefs(vehicles)})
        self.household_task = asyncio.create_task(
            self._follow_household(view["hours"][-1]["start"], history)
        )

    async def _wait_imported(self, history: list[MeterHistory]) -> None:
        """Wait until the recorder has written the imported hours (it commits every few s).

        It writes them in the order they came, so the power's and price's, imported first, are
        in too.
        """

        async def written() -> bool:
            rows = await self.websocket(
                {
                    "type": "recorder/statistics_during_period",
                    "start_time": history[0].stats[0]["start"],
                    "statistic_ids": [meter.metadata["statistic_id"] for meter in history],
                    "period": "hour",
                    "types": ["sum"],
                }
            )
            return all(
                len(rows.get(meter.metadata["statistic_id"], [])) >= len(meter.stats)
                for meter in history
            )

        await _until(written, f"the household's history was not recorded in {START_TIMEOUT:.0f} s")

    async def _post_household(self, view: dict[str, Any]) -> None:
        for entity_id, state in household_states(view).items():
            await self._json("POST", f"/api/states/{entity_id}", json=state)

    async def _follow_household(self, since: str, history: list[MeterHistory]) -> None:
        """Post the household meter every HOUSEHOLD_EVERY s; move the sums up once compiled.

        `since` is the hour the recorder compiles first, after the imported ones.
        """
        waiting = list(history)
        while True:
            await asyncio.sleep(HOUSEHOLD_EVERY)
            # A missed reading is made good by the next one (the meter counts on).
            with contextlib.suppress(DemoError, aiohttp.ClientError, TimeoutError):
                await self._post_household(await self.sim("GET", "/_sim/household?hours=0"))
                if waiting:
                    await self._adjust_compiled_sums(since, waiting)

    async def _adjust_compiled_sums(self, since: str, waiting: list[MeterHistory]) -> None:
        """Move up the sums of the meters the recorder has compiled, taking them off `waiting`."""
        compiled = await self.websocket(
            {
                "type": "recorder/statistics_during_period",
                "start_time": since,
                "statistic_ids": [meter.metadata["statistic_id"] for meter in waiting],
                "period": "5minute",
                "types": ["sum"],
            }
        )
        for meter in [meter for meter in waiting if compiled.get(meter.metadata["statistic_id"])]:
            await self.websocket(
                {
                    "type": "recorder/adjust_sum_statistics",
                    "statistic_id": meter.metadata["statistic_id"],
                    "start_time": since,
                    "adjustment": meter.adjustment,
                    "adjustment_unit_of_measurement": meter.metadata["unit_of_measurement"],
                }
            )
            waiting.remove(meter)

    async def _first_recorded_value(self, entity_id: str) -> float:
        """Return the entity's first numeric state recorded: the zero of its statistics' sum."""
        first: list[float] = []

        async def recorded() -> bool:
            history = await self.websocket(
                {
                    "type": "history/history_during_period",
                    "start_time": "2000-01-01T00:00:00+00:00",
                    "entity_ids": [entity_id],
                    "minimal_response": True,
                    "no_attributes": True,
                    "significant_changes_only": False,
                }
            )
            for state in history.get(entity_id, []):
                with contextlib.suppress(ValueError):
                    first.append(float(state["s"]))
                    return True
            return False

        await _until(recorded, f"no recorded state of {entity_id} in {START_TIMEOUT:.0f} s")
        return first[0]

    async def wait_charging_statistics(self) -> None:
        """Wait until the charging history of every car that has one is in the recorder.

        Each car's statistics are written energy first and CO2 last.
        """
        sessions = (await self.sim("GET", "/_sim/state"))["sessions"]
        ids = [
            f"ev_energy:{vehicle_id.lower()}_{quantity}"
            for vehicle_id in {session["vehicle_id"] for session in sessions}
            for quantity in ("charging_energy", "charging_co2")
        ]

        async def recorded() -> bool:
            listed = await self.websocket({"type": "recorder/list_statistic_ids"})
            return set(ids) <= {row["statistic_id"] for row in listed}

        await _until(recorded, f"no charging statistics after {START_TIMEOUT:.0f} s", every=1)

    async def _wait_loaded(self) -> None:
        async def loaded() -> bool:
            entries = await self.websocket({"type": "config_entries/get", "domain": "ev_energy"})
            return any(e["entry_id"] == self.entry_id and e["state"] == "loaded" for e in entries)

        await _until(
            loaded, f"the ev.energy entry did not finish loading within {START_TIMEOUT:.0f} s"
        )

    async def states(self) -> dict[str, dict[str, Any]]:
        """All entity states, keyed by entity id."""
        states = await self._json("GET", "/api/states")
        return {state["entity_id"]: state for state in states}

    async def wait_for(
        self, entity_id: str, predicate: Callable[[str], bool], within: float = STEP_TIMEOUT
    ) -> dict[str, Any]:
        """Wait until an entity's state satisfies `predicate(state_string)`."""
        deadline = time.monotonic() + within
        last: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            with contextlib.suppress(DemoError):
                last = await self._json("GET", f"/api/states/{entity_id}")
                if predicate(last["state"]):
                    return last
            await asyncio.sleep(0.25)
        raise DemoError(f"{entity_id} did not reach the expected state; last: {last}")

    async def sim(self, method: str, path: str, body: Any = None) -> Any:
        """Call the simulator's admin API."""
        async with self.http.request(method, f"{self.sim_url}{path}", json=body) as response:
            if response.status >= 400:
                raise DemoError(f"simulator {method} {path}: HTTP {response.status}")
            return await response.json() if response.content_type == "application/json" else None

    async def call_service(self, domain: str, service: str, data: dict[str, Any]) -> Any:
        """Call a Home Assistant action over REST."""
        return await self._json("POST", f"/api/services/{domain}/{service}", json=data)

    async def login_code(self) -> str:
        """Get an authorization code for the demo user, as the login page would."""
        flow = await self._json(
            "POST",
            "/auth/login_flow",
            json={
                "client_id": self.client_id,
                "handler": ["homeassistant", None],
                "redirect_uri": f"{self.ha_url}/?auth_callback=1",
            },
        )
        result = await self._json(
            "POST",
            f"/auth/login_flow/{flow['flow_id']}",
            json={"client_id": self.client_id, "username": DEMO_USER, "password": DEMO_PASSWORD},
        )
        return str(result["result"])

    async def logged_in_url(self, path: str) -> str:
        """Return a URL that opens `path` in the frontend, already logged in."""
        state = base64.b64encode(
            json.dumps({"hassUrl": self.ha_url, "clientId": self.client_id}).encode()
        ).decode()
        code = await self.login_code()
        return f"{self.ha_url}{path}?auth_callback=1&code={code}&state={state}"

    async def screenshot_device(self, device_name: str, out: Path, chromium: str) -> None:
        """Render a device's page in headless Chromium, logged in, into the PNG `out`."""
        devices = await self.websocket({"type": "config/device_registry/list"})
        device = next((d for d in devices if d["name"] == device_name), None)
        if device is None:
            raise DemoError(f"no device named {device_name!r}")
        await self.screenshot(f"/config/devices/device/{device['id']}", out, chromium)

    async def screenshot(
        self,
        path: str,
        out: Path,
        chromium: str,
        window: tuple[int, int] = (1280, 900),
        budget_ms: int = 15000,
    ) -> None:
        """Render a frontend page in headless Chromium, logged in, into the PNG `out`.

        A busy machine can leave the frontend half-loaded when Chromium's virtual-time budget
        ends (a near-blank PNG of a few KB): it is rendered again with twice the budget.
        """
        for attempt in range(RENDER_ATTEMPTS):
            await self._render(path, out, chromium, window, budget_ms * 2**attempt)
            if out.stat().st_size >= RENDERED_MIN_BYTES:
                return

    async def _render(
        self, path: str, out: Path, chromium: str, window: tuple[int, int], budget_ms: int
    ) -> None:
        url = await self.logged_in_url(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.unlink(missing_ok=True)
        process = await asyncio.create_subprocess_exec(
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            f"--user-data-dir={self.work_dir / 'chromium'}",
            f"--virtual-time-budget={budget_ms}",
            f"--window-size={window[0]},{window[1]}",
            f"--screenshot={out}",
            url,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise DemoError("Chromium did not finish within 120 s") from None
        if process.returncode != 0 or not out.exists():
            raise DemoError(f"Chromium failed: {output.decode(errors='replace')[-2000:]}")

    async def stop(self) -> None:
        """Stop both processes (SIGTERM, then SIGKILL after a grace period)."""
        if self.household_task is not None:
            self.household_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.household_task
            self.household_task = None
        for process in self.processes:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                await asyncio.wait_for(process.wait(), timeout=30)
            except TimeoutError:
                process.kill()
                await process.wait()
        self.processes.clear()
        if self.session is not None:
            await self.session.close()
            self.session = None


async def _screenshots(stack: DemoStack, out_dir: Path) -> None:
    """Render the README's pictures: device page, EV charging dashboard, calendar, Energy."""
    chromium = find_chromium()
    if chromium is None:
        raise DemoError("Chromium is not installed (apt-get install chromium)")
    await stack.sim("POST", "/_sim/clock", {"time_scale": 0})
    await stack.call_service(
        "homeassistant", "update_entity", {"entity_id": "sensor.family_car_state_of_charge"}
    )
    await stack.wait_for("sensor.family_car_state_of_charge", lambda s: s.isdigit())
    await stack.wait_for(
        "sensor.family_car_next_charge_start", lambda s: s not in ("unknown", "unavailable")
    )
    # name: (page, window size, virtual-time budget in ms); the Energy dashboard loads slowly.
    pages = {
        "ev-charging-dashboard.png": (f"/{DASHBOARD_URL}/ev-charging", (1280, 2000), 15000),
        "charging-plan-calendar.png": ("/calendar", (1280, 900), 15000),
        "energy-dashboard.png": (f"/local/{ENERGY_WEEK_PAGE}", (1280, 1800), 45000),
    }
    await stack.screenshot_device("Family car", out_dir / "vehicle-device.png", chromium)
    print(f"Saved {out_dir / 'vehicle-device.png'}")
    for name, (page, window, budget_ms) in pages.items():
        out = out_dir / name
        await stack.screenshot(page, out, chromium, window, budget_ms)
        print(f"Saved {out}")


async def _run(args: argparse.Namespace) -> None:
    work_dir = ROOT / ".demo"
    work_dir.mkdir(exist_ok=True)
    stack = DemoStack(work_dir, ha_port=args.port, sim_port=args.sim_port)
    print("Starting the ev.energy simulator and Home Assistant (first start takes ~30 s)…")
    await stack.start()
    if args.screenshots:
        try:
            await _screenshots(stack, args.screenshots)
        finally:
            await stack.stop()
        return
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    for notice in stack.notices:
        print(notice, flush=True)
    print(
        f"\nHome Assistant is running at {stack.ha_url}  (login: {DEMO_USER} / {DEMO_PASSWORD})\n"
        f"ev.energy simulator: {stack.sim_url}  (admin API under /_sim/)\n"
        f"Dashboards: {stack.ha_url}/{DASHBOARD_URL} (EV charging), {stack.ha_url}/energy\n"
        f"Push updates: the simulator posts its webhooks to {stack.webhook_url}\n"
        f"Logs: {work_dir}/home-assistant.log, {work_dir}/simulator.log\n"
        "Press Ctrl-C to stop.",
        flush=True,
    )
    try:
        await stop.wait()
    finally:
        print("Stopping…", flush=True)
        await stack.stop()


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of `python -m simulator.demo`."""
    parser = argparse.ArgumentParser(prog="scripts/demo", description=__doc__)
    parser.add_argument("--port", type=int, default=8123, help="Home Assistant port")
    parser.add_argument("--sim-port", type=int, default=8765, help="simulator port")
    parser.add_argument(
        "--screenshots", type=Path, metavar="DIR", help="save the README's pictures, then stop"
    )
    try:
        asyncio.run(_run(parser.parse_args(argv)))
    except DemoError as err:
        sys.exit(f"demo failed: {err}")


if __name__ == "__main__":
    main()
