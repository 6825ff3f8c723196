"""ev.energy's OpenAPI description for contract tests: locate, load once, validate traffic.

The spec is not part of the repository. It is looked up at ``$EV_ENERGY_OPENAPI`` (only there,
when set), else ``../shared/evenergy-api/openapi.yaml`` beside the repository, else the download
cache ``~/.cache/ev-energy-ha/openapi.yaml`` that ``python -m tests.openapi_spec download``
fills from ev.energy's public developer documentation (``scripts/bootstrap`` runs it when the
spec is missing). Tests never download. Without a spec, contract tests skip, except under
``CI=true`` where a missing spec fails the run.
"""

import argparse
from collections.abc import Mapping, Sequence
import functools
import json
import os
from pathlib import Path
import sys
import tempfile
import urllib.request
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
SHARED_SPEC = REPO_ROOT.parent / "shared/evenergy-api/openapi.yaml"
# The "Download OpenAPI description" link of https://developers.ev.energy/ev.energy-api-v2.
SPEC_URL = "https://developers.ev.energy/_spec/ev.energy-api-v2.yaml?download"
DOWNLOAD_TIMEOUT = 15  # seconds; the download is best effort
# The spec's server is https://api.ev.energy/v2; recorded /v2/... paths are mapped onto it.
SPEC_HOST = "https://api.ev.energy"


def cache_path() -> Path:
    """Where a downloaded spec is kept: the cache folder scripts/bootstrap uses."""
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(os.environ.get("EV_ENERGY_CACHE") or Path(xdg) / "ev-energy-ha") / "openapi.yaml"


def spec_candidates() -> list[Path]:
    """The places looked at, in order; $EV_ENERGY_OPENAPI, when set, is the only one."""
    override = os.environ.get(SPEC_ENV)
    return [Path(override)] if override else [SHARED_SPEC, cache_path()]


def spec_path() -> Path | None:
    """The first candidate that exists, if any."""
    return next((path for path in spec_candidates() if path.is_file()), None)


def require_spec_path() -> Path:
    """Return the spec's path; skip the test (fail under CI=true) if there is none."""
    path = spec_path()
    if path is None:
        looked = ", ".join(str(p) for p in spec_candidates())
        reason = (
            f"ev.energy OpenAPI spec not found ({looked}). Get it with "
            f"`.venv/bin/python -m tests.openapi_spec download` (needs the internet; "
            f"scripts/bootstrap tries it too) or set {SPEC_ENV} to its location"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def check_spec(data: bytes) -> None:
    """Raise ValueError unless `data` is an OpenAPI 3 description with paths."""
    try:
        document = yaml.load(data, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    except yaml.YAMLError as err:
        raise ValueError(f"not YAML: {err}") from err
    if not isinstance(document, dict) or not str(document.get("openapi", "")).startswith("3."):
        raise ValueError("not an OpenAPI 3 description")
    if not document.get("paths"):
        raise ValueError("the description has no paths")


def download(url: str, target: Path, timeout: float = DOWNLOAD_TIMEOUT) -> None:
    """Fetch the spec into `target`, replacing it only with a valid description."""
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
        data = response.read()
    check_spec(data)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as file:
        file.write(data)
    Path(file.name).replace(target)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m tests.openapi_spec download [--force]`: fill the cache, best effort."""
    parser = argparse.ArgumentParser(prog="python -m tests.openapi_spec")
    parser.add_argument("command", choices=["download"])
    parser.add_argument("--force", action="store_true", help="download even if a spec is found")
    parser.add_argument("--url", default=os.environ.get("EV_ENERGY_OPENAPI_URL", SPEC_URL))
    args = parser.parse_args(argv)
    found = spec_path()
    if found is not None and not args.force:
        print(f"ev.energy OpenAPI spec: {found}")
        return 0
    try:
        download(args.url, cache_path())
    except (OSError, ValueError) as err:  # URLError and timeouts are OSErrors
        print(
            f"could not download the ev.energy OpenAPI spec from {args.url}: {err}", file=sys.stderr
        )
        return 1
    print(f"ev.energy OpenAPI spec: downloaded to {cache_path()}")
    return 0


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


if __name__ == "__main__":
    sys.exit(main())
