"""A real HTTP server on 127.0.0.1 standing in for ev.energy, plus a token source that counts."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
import json
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict, CIMultiDictProxy

from custom_components.ev_energy.api import AbstractAuth

FIXTURES = Path(__file__).parent.parent / "fixtures"
PROBLEM_JSON = "application/problem+json"
NO_MORE_PAGES = '<about:blank>; rel="previous", <about:blank>; rel="next"'

type Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def load_fixture(name: str) -> Any:
    """Return a sample payload from tests/fixtures."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@dataclass(frozen=True, kw_only=True)
class Reply:
    """One canned answer: `payload` is sent as JSON unless `body` gives the raw bytes."""

    status: int = 200
    payload: Any = None
    body: bytes | None = None
    headers: Mapping[str, str] | Sequence[tuple[str, str]] = ()
    content_type: str = "application/json"


@dataclass(frozen=True, kw_only=True)
class Recorded:
    """A request as the server received it."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: CIMultiDictProxy[str]
    body: bytes

    @property
    def authorization(self) -> str | None:
        """The Authorization header, if any."""
        return self.headers.get("Authorization")

    def json(self) -> Any:
        """The request body decoded as JSON."""
        return json.loads(self.body)


@dataclass
class FakeApi:
    """Answers each (method, path) with its queued replies in order; the last one repeats.

    Anything not queued gets a 404 problem. Every request is recorded.
    """

    requests: list[Recorded] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    _replies: dict[tuple[str, str], list[Reply | Handler]] = field(default_factory=dict)
    server: TestServer = field(init=False)

    def __post_init__(self) -> None:
        """Route every path to the recorder."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.server = TestServer(app)

    @property
    def url(self) -> str:
        """The server root, as the client's `api_url`."""
        return str(self.server.make_url(""))

    def link(self, path_and_query: str) -> str:
        """An absolute URL on this server."""
        return f"{self.url.rstrip('/')}{path_and_query}"

    def reply(self, method: str, path: str, *replies: Reply | Handler) -> None:
        """Queue the answers to `method path` (path without the query)."""
        self._replies[(method, path)] = list(replies)

    def hits(self, path: str | None = None) -> int:
        """How many requests reached the server (optionally only for `path`)."""
        return sum(1 for request in self.requests if path is None or request.path == path)

    async def hang(self, request: web.Request) -> web.StreamResponse:
        """A handler that never answers before the test ends."""
        await self.release.wait()
        return web.Response(status=204)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(
            Recorded(
                method=request.method,
                path=request.path,
                query=list(request.query.items()),
                headers=request.headers,
                body=await request.read(),
            )
        )
        queue = self._replies.get((request.method, request.path))
        if not queue:
            return web.json_response(
                {"title": "Not found.", "status": 404}, status=404, content_type=PROBLEM_JSON
            )
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if not isinstance(answer, Reply):
            return await answer(request)
        body = answer.body if answer.body is not None else json.dumps(answer.payload).encode()
        headers = CIMultiDict(answer.headers)
        headers["Content-Type"] = answer.content_type
        return web.Response(status=answer.status, body=body, headers=headers)


class FakeAuth(AbstractAuth):
    """Hands out `token-1`; each invalidation makes the next token `token-2`, `token-3`, ….

    Like a real token source, refusing a token that was already replaced renews nothing.
    """

    def __init__(self) -> None:
        """Start with no invalidations."""
        self.invalidations = 0
        self.token_requests = 0
        self.refused: list[str] = []

    @property
    def current(self) -> str:
        """The token handed out now."""
        return f"token-{self.invalidations + 1}"

    async def async_get_access_token(self) -> str:
        """Return the current token."""
        self.token_requests += 1
        return self.current

    async def async_invalidate_access_token(self, refused_token: str) -> bool:
        """Record the refusal; renew only a token that is still the current one."""
        self.refused.append(refused_token)
        if refused_token == self.current:
            self.invalidations += 1
        return True


class FakeClock:
    """Replaces the `time` module inside the client, so rate-limit waits take no real time."""

    def __init__(self, now: float = 100_000.0) -> None:
        """Start at an arbitrary monotonic reading."""
        self.now = now

    def monotonic(self) -> float:
        """The fake monotonic clock."""
        return self.now

    def advance(self, seconds: float) -> None:
        """Let time pass."""
        self.now += seconds
