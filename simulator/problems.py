"""RFC 9457 ``application/problem+json`` responses as ev.energy sends them."""

from typing import Any

from aiohttp import web

PROBLEM_BASE = "https://api.ev.energy/v2/problems/"


class ProblemError(Exception):
    """Raised by handlers to answer with a problem response."""

    def __init__(self, response: web.Response) -> None:
        """Wrap the response to send."""
        super().__init__(response.status)
        self.response = response


def problem(
    status: int,
    title: str,
    detail: str,
    kind: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> web.Response:
    """Build a problem response; ``kind`` names the type URL.

    Like ev.energy, ``type`` is omitted where the status says it all (401, 403, 404).
    """
    body: dict[str, Any] = {"title": title, "detail": detail, "status": status}
    if kind:
        body["type"] = f"{PROBLEM_BASE}{kind}/"
    body.update(extra)
    return web.json_response(
        body, status=status, headers=headers, content_type="application/problem+json"
    )


def unauthorized(detail: str = "Authentication credentials were not provided.") -> web.Response:
    """401 for a missing, unknown or expired bearer token."""
    return problem(401, "Unauthorized", detail, headers={"WWW-Authenticate": 'Bearer realm="api"'})


def forbidden() -> web.Response:
    """403 when the token lacks a scope."""
    return problem(403, "Forbidden", "You do not have permission to perform this action.")


def not_found() -> web.Response:
    """404 for unknown IDs and paths."""
    return problem(404, "Not found", "Resource does not exist or cannot be accessed.")


def method_not_allowed(method: str) -> web.Response:
    """405 for a method the endpoint does not support."""
    return problem(405, "Method Not Allowed", f'Method "{method}" not allowed.')


def validation_failed(kind: str, field_errors: dict[str, list[str]]) -> web.Response:
    """400 with ``field_errors`` for a request body that failed validation."""
    detail = "Error on fields: " + ", ".join(field_errors)
    return problem(400, "Request failed validation.", detail, kind, field_errors=field_errors)


def bad_parameter(name: str) -> web.Response:
    """400 for an invalid query parameter (pagination, filters, expand)."""
    if name.startswith("page"):
        detail = f"Invalid value for pagination parameter: {name}"
        return problem(400, "Invalid pagination parameter", detail, "pagination-parameters")
    detail = f"Invalid value for query parameter: {name}"
    return problem(400, "Invalid query parameter", detail, "query-parameters")


def rate_limited(retry_after: int) -> web.Response:
    """429 with ``Retry-After`` in seconds."""
    detail = f"Request was rate limited. Try again in {retry_after} seconds"
    response = problem(429, "Too Many Requests", detail, "rate-limit-exceeded")
    response.headers["Retry-After"] = str(retry_after)
    return response


def server_error(status: int) -> web.Response:
    """500/503 as an injected fault."""
    if status == 503:
        return problem(503, "Service Unavailable", "The service is temporarily unavailable.")
    return problem(status, "Internal Server Error", "A server error occurred.")
