"""Every language says everything en.json says, with the same placeholders and key order."""

from __future__ import annotations

from collections.abc import Iterator
import json
from pathlib import Path
from string import Formatter
from typing import Any

import pytest

TRANSLATIONS = Path(__file__).resolve().parents[1] / "custom_components/ev_energy/translations"
LANGUAGES = ("de", "es", "fr", "it", "nl")
# A few words read the same in another language ("Boost", French "Active").
MAX_UNTRANSLATED_SHARE = 0.05


def leaves(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if not isinstance(node, dict):
        yield path, node
        return
    for key, value in node.items():
        yield from leaves(value, f"{path}.{key}" if path else key)


def load(language: str) -> list[tuple[str, Any]]:
    text = (TRANSLATIONS / f"{language}.json").read_text(encoding="utf-8")
    return list(leaves(json.loads(text)))


def placeholders(text: str) -> list[str]:
    return sorted(field for _, field, _, _ in Formatter().parse(text) if field is not None)


def test_every_translation_file_is_checked() -> None:
    files = {path.stem for path in TRANSLATIONS.glob("*.json")}
    assert files == {"en", *LANGUAGES}, f"translations on disk: {sorted(files)}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_same_keys_as_english(language: str) -> None:
    english, other = [p for p, _ in load("en")], [p for p, _ in load(language)]
    missing, extra = sorted(set(english) - set(other)), sorted(set(other) - set(english))
    assert not missing, f"{language} lacks {missing}"
    assert not extra, f"{language} has extra {extra}"
    assert other == english, f"{language}.json keys are not in en.json's order"


@pytest.mark.parametrize("language", LANGUAGES)
def test_placeholders_match_english(language: str) -> None:
    english = dict(load("en"))
    for path, text in load(language):
        if path not in english:
            continue  # test_same_keys_as_english reports it
        assert isinstance(text, str), f"{language}: {path} must be a string"
        assert text.strip(), f"{language}: {path} is empty"
        assert placeholders(text) == placeholders(english[path]), f"{language}: {path}"
        # The frontend formats strings as ICU messages, where an apostrophe before a brace
        # quotes it: "l'{feature}" would print "{feature}" verbatim.
        assert "'{" not in text, f"{language}: {path} has an apostrophe before a placeholder"


@pytest.mark.parametrize("language", LANGUAGES)
def test_strings_are_translated(language: str) -> None:
    english = dict(load("en"))
    same = [path for path, text in load(language) if text == english.get(path)]
    assert len(same) <= MAX_UNTRANSLATED_SHARE * len(english), f"{language}: English in {same}"
