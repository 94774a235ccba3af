"""Generated projects pass their own tests and linters, for representative answers.

The two projects below, with the default answers plus a worker that
tests/test_first_week.py grows and checks the same way, cover every option value and every
Python version between them; tests/test_render.py shows that the other combinations
render the same files as these (byte for byte across engines) and verify against the
layout manifest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from helpers import AWKWARD_TEXT, render_cookiecutter, render_copier, run, sync

PROJECTS: dict[str, tuple[str, dict[str, Any]]] = {
    "everything-on": (
        "copier",
        {
            "with_worker": True,
            "ci": "gitlab",
            "with_kubernetes": True,
            "python_version": "3.13",
            "license": "Apache-2.0",
        },
    ),
    "awkward-text": (
        "cookiecutter",
        {**AWKWARD_TEXT, "python_version": "3.11", "ci": "none", "license": "Proprietary"},
    ),
}
CHECKS = {
    # -m "": every tier, the slow one too (the project's own default is the fast tier).
    "tests": ["uv", "run", "--locked", "pytest", "-q", "-p", "no:cacheprovider", "-m", ""],
    "ruff": ["uv", "run", "--locked", "ruff", "check", "--no-cache", "."],
    "format": ["uv", "run", "--locked", "ruff", "format", "--check", "--no-cache", "."],
    "mypy": ["uv", "run", "--locked", "mypy"],
}


@pytest.fixture(
    scope="module",
    # One test worker takes all of a project's checks: one render and one sync each.
    params=[
        pytest.param(p, marks=pytest.mark.xdist_group(f"generated-{n}"))
        for n, p in PROJECTS.items()
    ],
    ids=list(PROJECTS),
)
def project(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    engine, data = request.param
    out = tmp_path_factory.mktemp("generated")
    if engine == "copier":
        project = render_copier(out / "project", data)
    else:
        project = render_cookiecutter(out, data)
    sync(project)
    return project


@pytest.mark.parametrize("check", CHECKS.values(), ids=CHECKS.keys())
def test_generated_project_passes(project: Path, check: list[str]) -> None:
    run(check, project)
