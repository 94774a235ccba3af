"""The template's own code is held to the standard of the code it generates."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from helpers import TEMPLATE, render_cookiecutter

# Named folders: ruff would otherwise read the templated pyproject.toml of the project.
CODE = ["hooks", "tests", "scripts", "benchmarks", "twelve_template_text_answers.py"]
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


def test_shell_scripts_are_shellcheck_clean(tmp_path: Path) -> None:
    """The generated bin/ scripts (rendered: their source holds template syntax) and the
    template's own .ci/run; the generated project runs the same check as a commit hook."""
    project = render_cookiecutter(tmp_path, {"with_worker": True})
    scripts = [*sorted((project / "bin").iterdir()), TEMPLATE / ".ci" / "run"]
    result = subprocess.run(
        ["shellcheck", *map(str, scripts)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    hooks = (project / ".pre-commit-config.yaml").read_text()
    assert "id: shellcheck" in hooks and "'shellcheck')" in hooks
