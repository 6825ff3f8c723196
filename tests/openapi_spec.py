"""ev.energy's OpenAPI description for contract tests: locate, load once, validate traffic.

The spec lives outside the repository (``../shared/evenergy-api/openapi.yaml`` from the repo
root, or ``$EV_ENERGY_OPENAPI``). Without it, contract tests skip, except under ``CI=true``
where a missing spec fails the run.
"""

from collections.abc import Mapping
import functools
import json
import os
from pathlib import Path
import warnings

from jsonschema_path import SchemaPath
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse
import pytest
from werkzeug.datastructures import ImmutableMultiDict
import yaml
from yarl import URL

SPEC_ENV = "EV_ENERGY_OPENAPI"
REPO_ROOT = Path(__file__).resolve().parent.parent
# The spec's server is https://api.ev.energy/v2; recorded /v2/... paths are mapped onto it.
SPEC_HOST = "https://api.ev.energy"


def spec_path() -> Path:
    """Where the spec is expected (it may not exist)."""
    override = os.environ.get(SPEC_ENV)
    return Path(override) if override else REPO_ROOT.parent / "shared/evenergy-api/openapi.yaml"


def require_spec_path() -> Path:
    """Return the spec's path; skip the test (fail under CI=true) if the file is missing."""
    path = spec_path()
    if not path.is_file():
        reason = f"ev.energy OpenAPI spec not found at {path}; set {SPEC_ENV} to its location"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@functools.cache
def _load(path: Path) -> OpenAPI:
    with path.open(encoding="utf-8") as file:
        data = yaml.load(file, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    config = Config(
        # Validating the 785 KB spec itself takes ~8 s and is not what these tests check.
        spec_validator_cls=None,  # type: ignore[arg-type]  # None is the documented "off"
        # Error bodies are RFC 9457 problem documents.
        extra_media_type_deserializers={"application/problem+json": json.loads},
    )
    return OpenAPI(SchemaPath.from_dict(data), config=config)


def load_openapi() -> OpenAPI:
    """The parsed spec (cached per process); skips/fails like ``require_spec_path``."""
    return _load(require_spec_path())


def _request(
    method: str,
    url: str,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    content_type: str = "application/json",
) -> MockRequest:
    parsed = URL(url)
    return MockRequest(
        SPEC_HOST,
        method.lower(),
        parsed.path,
        args=ImmutableMultiDict(list(parsed.query.items())),
        headers=dict(headers or {}),
        data=body,
        content_type=content_type,
    )


def validate_request(
    method: str,
    url: str,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    content_type: str = "application/json",
) -> None:
    """Validate a request (path, query, headers, body) against the spec, whatever its host."""
    request = _request(method, url, headers, body, content_type)
    with warnings.catch_warnings():
        # openapi-core cannot check oauth2 security schemes; the simulator checks tokens.
        warnings.filterwarnings("ignore", "Unsupported scheme type", UserWarning)
        load_openapi().validate_request(request)


def validate_response(
    method: str,
    url: str,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
) -> None:
    """Validate a recorded response (status, declared headers, body schema) against the spec."""
    content_type = headers.get("Content-Type", "application/json").split(";")[0].strip()
    response = MockResponse(body, status, dict(headers), content_type)
    load_openapi().validate_response(_request(method, url), response)
