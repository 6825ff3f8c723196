"""Home Assistant's hassfest and HACS's checks pass, as their GitHub actions would run them."""

from __future__ import annotations

from pathlib import Path
import subprocess
import sys

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Kept next to the project, not in it: HA's and HACS's code, not ours.
VALIDATORS = ROOT.parent / "shared/validators/run"


@pytest.mark.skipif(
    not VALIDATORS.exists(), reason=f"the validators are not installed at {VALIDATORS}"
)
def test_hassfest_and_hacs_validators_pass() -> None:
    result = subprocess.run(  # noqa: S603  # our own interpreter and the shared script
        [VALIDATORS, sys.executable],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
