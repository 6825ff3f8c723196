"""The README stays short and the documentation's links hold.

README.md is the page a user reads before installing: at most 15,000 characters, linking every
page in docs/. Every relative link and image in the README, BENCHMARKS.md and docs/*.md (the
benchmark history among them) points at a file that exists and, with an anchor, at a heading of
that file; no document names a path of the machine it was written on, not even in a command.
"""

from __future__ import annotations

from pathlib import Path
import re

import pytest

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"
BENCHMARKS = ROOT / "BENCHMARKS.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
BENCHMARK_HISTORY = ROOT / "docs" / "benchmark-history.md"
DOCUMENTS = [README, BENCHMARKS, *DOCS]
README_LIMIT = 15_000

_FENCE = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1[^\n]*$", re.MULTILINE | re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`]*`")
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
# Absolute paths of a development machine or CI runner, which mean nothing to a reader.
_MACHINE_PATHS = ("/work/", "/root/", "/home/", "/tmp/", "/Users/")  # noqa: S108 (searched for)


def _without_blocks(text: str) -> str:
    """The text without fenced code blocks (kept as blank lines): their `#` are no headings."""
    return _FENCE.sub(lambda match: "\n" * match.group(0).count("\n"), text)


def _without_code(text: str) -> str:
    """The text without fenced code blocks or inline code: what is left can hold links."""
    return _INLINE_CODE.sub("", _without_blocks(text))


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "")
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    """The anchors of a Markdown file's headings (a repeated one gets -1, -2, ...)."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    for heading in _HEADING.findall(_without_blocks(path.read_text(encoding="utf-8"))):
        slug = _slug(heading)
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def _relative_links(path: Path) -> list[str]:
    """The link and image targets of a Markdown file that stay inside the repository."""
    targets = _LINK.findall(_without_code(path.read_text(encoding="utf-8")))
    return [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t, re.IGNORECASE)]


def _resolve(document: Path, target: str) -> tuple[Path, str]:
    """The file a relative link points at, and its anchor ("" without one)."""
    location, _, anchor = target.partition("#")
    return ((document.parent / location).resolve() if location else document), anchor


def test_readme_is_short() -> None:
    """The README reads in minutes: the details live in docs/."""
    size = len(README.read_bytes())
    assert size <= README_LIMIT, f"README.md is {size} bytes; move details to docs/"


def test_docs_exist() -> None:
    """There are pages to link to."""
    assert DOCS


@pytest.mark.parametrize("page", DOCS, ids=lambda page: page.name)
def test_readme_links_every_docs_page(page: Path) -> None:
    """Every page in docs/ is reachable from the README."""
    linked = {_resolve(README, target)[0] for target in _relative_links(README)}
    assert page.resolve() in linked, f"README.md does not link docs/{page.name}"


def test_benchmarks_link_their_history() -> None:
    """Today's figures in BENCHMARKS.md lead to the rounds before them, and the history back."""
    assert BENCHMARK_HISTORY in DOCS
    linked = {_resolve(BENCHMARKS, target)[0] for target in _relative_links(BENCHMARKS)}
    assert BENCHMARK_HISTORY.resolve() in linked
    back = {_resolve(BENCHMARK_HISTORY, t)[0] for t in _relative_links(BENCHMARK_HISTORY)}
    assert BENCHMARKS.resolve() in back


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_relative_links_resolve(document: Path) -> None:
    """Each relative link names an existing file and, with an anchor, one of its headings."""
    broken = []
    for target in _relative_links(document):
        path, anchor = _resolve(document, target)
        if not path.exists():
            broken.append(f"{target}: no such file")
        elif anchor and (path.suffix != ".md" or anchor not in _anchors(path)):
            broken.append(f"{target}: no heading #{anchor} in {path.name}")
    assert broken == []


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_no_machine_paths(document: Path) -> None:
    """No document names a directory of the machine it was written on."""
    text = document.read_text(encoding="utf-8")
    assert [path for path in _MACHINE_PATHS if path in text] == []


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("Why isn't it charging?", "why-isnt-it-charging"),
        ("Action: `ev_energy.get_prices`", "action-ev_energyget_prices"),
        ('The "EV charging" dashboard', "the-ev-charging-dashboard"),
        ("HACS (recommended)", "hacs-recommended"),
    ],
)
def test_slug_matches_github(heading: str, anchor: str) -> None:
    """Anchors are computed the way GitHub renders them."""
    assert _slug(heading) == anchor
