"""The template's own code is held to the standard of the code it generates."""

from __future__ import annotations

import subprocess

import pytest
from helpers import TEMPLATE

# Named folders: ruff would otherwise read the templated pyproject.toml of the project.
CODE = ["hooks", "tests", "scripts", "benchmarks"]
CHECKS = {
    "ruff": ["ruff", "check", "--no-cache", *CODE],
    "format": ["ruff", "format", "--check", "--no-cache", *CODE],
    "mypy": ["mypy", "--no-incremental"],
}


@pytest.mark.parametrize("check", CHECKS.values(), ids=CHECKS.keys())
def test_template_code_is_clean(check: list[str]) -> None:
    # The generated project's code is checked inside generated projects (test_generated).
    result = subprocess.run(check, cwd=TEMPLATE, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_template_github_workflow_runs_ci_run_and_validates() -> None:
    workflow = TEMPLATE / ".github" / "workflows" / "ci.yml"
    assert "run: bash .ci/run" in workflow.read_text()
    result = subprocess.run(
        ["check-jsonschema", "--builtin-schema", "vendor.github-workflows", str(workflow)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
