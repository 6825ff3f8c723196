"""Where the contract tests find ev.energy's OpenAPI description, and the cache download."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import openapi_spec
from tests.openapi_spec import SPEC_ENV, cache_path, main, require_spec_path, spec_path

VALID = b"openapi: 3.1.0\ninfo: {title: t, version: '2'}\npaths:\n  /users: {}\n"


@pytest.fixture
def places(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[Path, Path]:
    """A shared spec location and a cache folder, both empty, with no override set."""
    shared = tmp_path / "shared" / "openapi.yaml"
    monkeypatch.setattr(openapi_spec, "SHARED_SPEC", shared)
    monkeypatch.setenv("EV_ENERGY_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(SPEC_ENV, raising=False)
    monkeypatch.delenv("CI", raising=False)
    return shared, tmp_path / "cache" / "openapi.yaml"


def write(path: Path, data: bytes = VALID) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_shared_folder_first_then_cache(places: tuple[Path, Path]) -> None:
    shared, cached = places
    assert cache_path() == cached
    assert spec_path() is None
    write(cached)
    assert spec_path() == cached
    write(shared)
    assert spec_path() == shared


def test_override_is_the_only_place_looked_at(
    places: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    write(places[0])
    write(places[1])
    monkeypatch.setenv(SPEC_ENV, str(tmp_path / "missing.yaml"))
    assert spec_path() is None
    monkeypatch.setenv(SPEC_ENV, str(write(tmp_path / "mine.yaml")))
    assert spec_path() == tmp_path / "mine.yaml"


def test_missing_spec_says_how_to_get_it(
    places: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(pytest.skip.Exception) as skipped:
        require_spec_path()
    message = str(skipped.value)
    assert "python -m tests.openapi_spec download" in message
    assert str(places[1]) in message
    assert SPEC_ENV in message
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"tests\.openapi_spec download"):
        require_spec_path()


def test_download_fills_the_cache(places: tuple[Path, Path], tmp_path: Path) -> None:
    source = write(tmp_path / "published.yaml")
    assert main(["download", "--url", source.as_uri()]) == 0
    assert places[1].read_bytes() == VALID
    assert require_spec_path() == places[1]


@pytest.mark.parametrize(
    "published",
    [b"<!doctype html><title>Not found</title>", b"openapi: 3.1.0\npaths: {}\n", b"a: [b"],
)
def test_download_keeps_the_cache_unless_valid(
    places: tuple[Path, Path], tmp_path: Path, published: bytes
) -> None:
    cached = write(places[1], b"openapi: 3.0.0\npaths: {/old: {}}\n")
    source = write(tmp_path / "published.yaml", published)
    assert main(["download", "--force", "--url", source.as_uri()]) == 1
    assert cached.read_bytes() == b"openapi: 3.0.0\npaths: {/old: {}}\n"
    assert [p.name for p in cached.parent.iterdir()] == ["openapi.yaml"], "a temp file was left"


def test_download_unreachable_fails_softly(places: tuple[Path, Path], tmp_path: Path) -> None:
    assert main(["download", "--url", (tmp_path / "nowhere.yaml").as_uri()]) == 1
    assert not places[1].exists()


def test_download_skipped_when_a_spec_is_found(places: tuple[Path, Path], tmp_path: Path) -> None:
    write(places[0])
    assert main(["download", "--url", (tmp_path / "nowhere.yaml").as_uri()]) == 0
    assert not places[1].exists()
