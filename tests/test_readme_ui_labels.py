"""The Energy-dashboard directions use the labels Home Assistant's UI really shows.

They are in docs/energy-dashboard.md (linked from the README), in its two sections: setting up
the Energy dashboard, and the charging history in it.

The labels come from the installed frontend's English strings (the same package the demo serves),
so a renamed button in a new frontend fails here instead of misleading users.
"""

from __future__ import annotations

from collections.abc import Iterator
import json
from pathlib import Path
import re
from typing import Any

import hass_frontend
import pytest

ENERGY_PAGE = Path(__file__).parent.parent / "docs" / "energy-dashboard.md"

# Every UI label the Energy-dashboard directions name, in the order a user meets them.
ENERGY_LABELS = (
    "Energy",
    "Electricity",
    "Electricity grid",
    "Add grid connection",
    "Energy imported from grid",
    "Cost tracking",
    "Use an entity with current price",
    "Entity with the current price",
    "Use an entity tracking the total costs",
    "Individual electrical devices",
    "Add device",
    "Device energy consumption",
    "Device power consumption",
    "Now",
    "Current power flow",
    "Individual devices",
    "Configure",
)
# The integration's own names the Energy sections use (checked against en.json).
OUR_LABELS = (
    "Energy meter",
    "Charge power",
    "Session energy",
    "Current price",
    "Days of history to import",
    "Cheapest window, charging history and notifications",
)
# Dashboard-card names, and examples of statistics' names and log lines.
OTHER_LABELS = {"Statistic", "Statistics graph", "Add card", "Family car charging energy"}
OUR_TRANSLATIONS = (
    Path(__file__).parent.parent / "custom_components" / "ev_energy" / "translations" / "en.json"
)


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, str):
        yield node


def _frontend_strings(fragment: str) -> set[str]:
    """English strings of one frontend translation fragment (`en-<hash>.json`, not en-GB)."""
    folder = Path(hass_frontend.where()) / "static" / "translations" / fragment
    files = [path for path in folder.glob("en-*.json") if not path.name.startswith("en-GB")]
    assert len(files) == 1, f"expected one English {fragment} translation, found {files}"
    return set(_strings(json.loads(files[0].read_text(encoding="utf-8"))))


def _energy_sections() -> str:
    """The energy page's two Energy-dashboard sections, line breaks as spaces."""
    text = ENERGY_PAGE.read_text(encoding="utf-8")
    start = text.index("## Set up the Energy dashboard")
    history = text.index("## Charging history in the Energy dashboard")
    end = text.find("\n## ", history)
    return " ".join(text[start : end if end != -1 else len(text)].split())


@pytest.mark.parametrize("label", ENERGY_LABELS)
def test_readme_energy_label_exists_in_the_ui(label: str) -> None:
    """Each label the directions name is a string of the Energy configuration or dashboard."""
    ui = _frontend_strings("config") | _frontend_strings("energy") | _frontend_strings(".")
    assert label in ui
    assert f"*{label}*" in _energy_sections()


@pytest.mark.parametrize("label", OUR_LABELS)
def test_readme_energy_label_is_ours(label: str) -> None:
    """The integration's names the directions use are the ones it gives its entities/options."""
    ours = set(_strings(json.loads(OUR_TRANSLATIONS.read_text(encoding="utf-8"))))
    assert label in ours


def test_readme_names_only_real_ui_labels() -> None:
    """No italic label in the Energy sections is missing from the list checked above."""
    italic = set(re.findall(r"(?<![*\w])\*([^*]+?)\*(?![*\w])", _energy_sections()))
    unchecked = {
        label
        for label in italic - set(ENERGY_LABELS) - OTHER_LABELS
        if not any(label.endswith(name) for name in OUR_LABELS)
        and not label.startswith(("<vehicle> ", "charging ", "Charging history: "))
    }
    assert unchecked == set()
