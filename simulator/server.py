"""SimulatorServer: wires world, OAuth, rate limiter, faults and admin API into one app."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from aiohttp.typedefs import Handler

from .admin import AdminApi
from .api import V2Api
from .care import CareApi
from .clock import SimClock
from .energy import SubSessionApi
from .faults import FaultRegistry
from .model import DEFAULT_SCENARIO, World
from .oauth import DEFAULT_REDIRECT_URIS, INTEGRATION_SCOPES, OAuthServer
from .problems import ProblemError, method_not_allowed, not_found, problem
from .ratelimit import RateLimiter
from .views import iso
from .webhook_portal import WebhookPortal
from .webhooks import Webhooks


@dataclass(frozen=True)
class SimulatorConfig:
    """Server options (the CLI flags map onto these)."""

    scenario: Path | str | None = None
    rate_limit: int = 1000
    access_token_ttl: int = 36000
    time_scale: float = 1.0
    client_id: str = "demo-client-id"
    client_secret: str = "demo-client-secret"
    consent_page: bool = False
    redirect_uris: tuple[str, ...] = DEFAULT_REDIRECT_URIS
    # Overrides the scenario's "start" (which defaults to the real current time).
    start: datetime | None = None
    seed: int = 0


class SimulatorServer:
    """The ev.energy simulator; ``start()`` serves it, attributes give tests direct access."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        """Load the scenario and build the app (nothing listens until ``start``)."""
        self.config = config = config or SimulatorConfig()
        if config.rate_limit < 1:
            raise ValueError("rate_limit must be at least 1")
        scenario = json.loads(Path(config.scenario or DEFAULT_SCENARIO).read_text())
        if config.start is not None:
            scenario["start"] = config.start.isoformat()
        self.clock = SimClock(time_scale=config.time_scale)
        self.world = World(self.clock, scenario, config.seed)
        self.faults = FaultRegistry()
        self.webhooks = Webhooks(self.clock, self.world)
        self.requests: list[dict[str, Any]] = []
        self.limiter = RateLimiter(self.clock, config.rate_limit)
        self.oauth = OAuthServer(
            self.clock,
            self.faults,
            self.world.user.id,
            config.client_id,
            config.client_secret,
            config.access_token_ttl,
            config.redirect_uris,
            config.consent_page,
        )
        self.app = web.Application(
            middlewares=[self._log_requests, self._v2_envelope, self.faults.middleware()]
        )
        self.app.add_routes(self.oauth.routes())
        v2 = V2Api(self.world, self.oauth, self.limiter)
        self.app.add_routes(v2.routes())
        self.app.add_routes(SubSessionApi(v2).routes())
        self.app.add_routes(CareApi(self.world, self.oauth, self.limiter, scenario).routes())
        self.app.add_routes(WebhookPortal(self.webhooks, v2).routes())
        self.app.add_routes(AdminApi(self).routes())
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on ``host:port`` (0 = any free port); return the base URL."""
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        self.base_url = f"http://{host}:{self._runner.addresses[0][1]}"
        self.webhooks.api_root = f"{self.base_url}/v2"
        return self.base_url

    async def stop(self) -> None:
        """Release hanging requests, stop webhook deliveries and shut the server down."""
        self.faults.clear()
        await self.webhooks.reset()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def issue_token(self, scopes: Iterable[str] | None = None) -> dict[str, Any]:
        """Issue a token for the demo user without the browser flow (token endpoint JSON)."""
        return self.oauth.issue(self.world.user.id, scopes or INTEGRATION_SCOPES)

    @web.middleware
    async def _v2_envelope(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Problem bodies for /v2 errors plus the version and rate-limit headers."""
        if not request.path.startswith("/v2/"):
            return await handler(request)
        version = request.headers.get("EvEnergy-Version", "2").strip()
        response: web.StreamResponse
        try:
            if version not in ("2", "2.0"):
                detail = f"Unsupported version requested: {version}"
                kind = "pagination-parameters"  # sic: the spec's example uses this type
                response = problem(400, "Unsupported version", detail, kind)
            else:
                response = await handler(request)
        except ProblemError as exc:
            response = exc.response
        except web.HTTPMethodNotAllowed:
            response = method_not_allowed(request.method)
        except web.HTTPNotFound:
            response = not_found()
        limit = self.limiter.limit
        response.headers["EvEnergy-Version"] = "2"
        response.headers["X-RateLimit-Limit"] = str(limit)
        response.headers["X-RateLimit-Remaining"] = str(request.get("rate_remaining", limit))
        return response

    @web.middleware
    async def _log_requests(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Record every API and OAuth request (not the admin API), newest last."""
        if request.path.startswith("/_sim/"):
            return await handler(request)
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            self.requests.append(await self._log_entry(request, exc.status))
            raise
        self.requests.append(await self._log_entry(request, response.status))
        return response

    async def _log_entry(self, request: web.Request, status: int) -> dict[str, Any]:
        raw = await request.read()
        body: Any = None
        if raw and request.content_type == "application/x-www-form-urlencoded":
            body = dict(parse_qsl(raw.decode(errors="replace")))
            if "client_secret" in body:
                body["client_secret"] = "***"
        elif raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode(errors="replace")
        return {
            "time": iso(self.clock.now()),
            "method": request.method,
            "path": request.path,
            "query": {key: request.query.getall(key) for key in request.query},
            "body": body,
            "status": status,
            "user": request.get("sim_user"),
        }
