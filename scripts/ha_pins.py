"""Print the requirements that align this virtualenv with the Home Assistant installed in it.

`scripts/bootstrap --ha VERSION` installs the test requirements (whose phcc pins an older Home
Assistant), then that Home Assistant with `--no-deps`, then what this prints, one requirement a
line, until it prints nothing. Derived from the installed Home Assistant itself:
- its core requirements (wheel metadata) that the venv does not satisfy;
- for each package already installed, the version Home Assistant pins for it in
  `package_constraints.txt` or in a component manifest, if the installed one differs.
Packages nothing here installed stay out: `hass --skip-pip` only needs what the tests load.
"""

from __future__ import annotations

from collections.abc import Iterator
import importlib.metadata as md
import json
from pathlib import Path
import sys

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name


def _pinned(lines: Iterator[str]) -> Iterator[Requirement]:
    for line in lines:
        text = line.split("#", 1)[0].strip()
        if not text or text.startswith("-"):
            continue
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue  # URLs and other forms Home Assistant's own installer handles
        if requirement.marker is None or requirement.marker.evaluate():
            yield requirement


def _installed() -> dict[str, str]:
    return {
        canonicalize_name(dist.metadata["Name"]): dist.version
        for dist in md.distributions()
        if dist.metadata["Name"]
    }


def main() -> int:
    """Print the missing or mismatched requirements; exit 1 if Home Assistant is absent."""
    try:
        package = md.distribution("homeassistant")
    except md.PackageNotFoundError:
        print("ha_pins: homeassistant is not installed", file=sys.stderr)
        return 1
    root = Path(str(package.locate_file("homeassistant")))
    installed = _installed()

    def unmet(requirement: Requirement) -> bool:
        version = installed.get(canonicalize_name(requirement.name))
        return version is None or not requirement.specifier.contains(version, prereleases=True)

    wanted: dict[str, Requirement] = {}
    for requirement in _pinned(iter(package.requires or [])):
        if unmet(requirement):
            wanted[canonicalize_name(requirement.name)] = requirement

    pins = list(_pinned(iter((root / "package_constraints.txt").read_text().splitlines())))
    for manifest in sorted(root.glob("components/*/manifest.json")):
        pins.extend(_pinned(iter(json.loads(manifest.read_text()).get("requirements", []))))
    for requirement in pins:
        name = canonicalize_name(requirement.name)
        if name in installed and name not in wanted and unmet(requirement):
            wanted[name] = requirement

    for requirement in sorted(wanted.values(), key=lambda r: canonicalize_name(r.name)):
        print(requirement)
    return 0


if __name__ == "__main__":
    sys.exit(main())
