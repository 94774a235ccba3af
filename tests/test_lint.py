"""The template's own code is held to the standard of the code it generates."""

from __future__ import annotations

import subprocess

import pytest
from helpers import TEMPLATE

CHECKS = {
    "ruff": ["ruff", "check", "--no-cache", "."],
    "format": ["ruff", "format", "--check", "--no-cache", "."],
    "mypy": ["mypy", "--no-incremental"],
}


@pytest.mark.parametrize("check", CHECKS.values(), ids=CHECKS.keys())
def test_template_code_is_clean(check: list[str]) -> None:
    # The generated project's own code is checked inside generated projects
    # (tests/test_generated.py): ruff skips it here through extend-exclude.
    result = subprocess.run(check, cwd=TEMPLATE, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
