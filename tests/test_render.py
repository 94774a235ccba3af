"""Both engines render the same project for every option combination that matters."""

from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import (
    ANSWERS_FILE,
    AWKWARD_TEXT,
    DEFAULTS,
    TEMPLATE,
    layout,
    option_cases,
    render_cookiecutter,
    render_copier,
    run,
    tree,
)

CASES = {"-".join(f"{k}={v}" for k, v in case.items()): case for case in option_cases()} | {
    "awkward-text": AWKWARD_TEXT
}


# The template's own ruff: the version generated projects lock (a test below keeps it so),
# without a virtualenv per rendered project.
RUFF = Path(sys.executable).with_name("ruff")


def answers_record(project: Path) -> dict[str, Any]:
    record = yaml.safe_load((project / ANSWERS_FILE).read_text(encoding="utf-8"))
    return {k: v for k, v in record.items() if k not in ("_commit", "_src_path")}


@pytest.mark.parametrize("data", CASES.values(), ids=CASES.keys())
def test_engines_render_identical_projects(tmp_path: Path, data: dict[str, Any]) -> None:
    by_cookiecutter = render_cookiecutter(tmp_path / "cc", data)
    by_copier = render_copier(tmp_path / "copier" / by_cookiecutter.name, data)

    cookiecutter_tree = tree(by_cookiecutter)
    assert cookiecutter_tree == tree(by_copier)
    assert answers_record(by_cookiecutter) == answers_record(by_copier)
    answers = {**DEFAULTS, **data}
    assert answers_record(by_copier) == answers
    assert layout.verify(by_copier, layout.select(answers)) == []
    # Whatever the answers leave out, what remains lints clean (an import used only by an
    # optional test, say). tests/test_generated.py runs mypy and the tests on three projects.
    run([str(RUFF), "check", "--no-cache", "."], by_copier)
    run([str(RUFF), "format", "--check", "--no-cache", "."], by_copier)


def locked_version(lock: Path, package: str) -> str:
    entries = tomllib.loads(lock.read_text(encoding="utf-8"))["package"]
    [version] = [entry["version"] for entry in entries if entry["name"] == package]
    return str(version)


def test_every_combination_is_linted_with_the_ruff_projects_lock() -> None:
    project_lock = TEMPLATE / "{{cookiecutter.project_slug}}" / "uv.lock"
    assert locked_version(TEMPLATE / "uv.lock", "ruff") == locked_version(project_lock, "ruff")


def test_the_app_is_titled_with_the_project_name(tmp_path: Path) -> None:
    project = render_cookiecutter(tmp_path, AWKWARD_TEXT)
    app = project / "src" / AWKWARD_TEXT["project_slug"] / "app.py"
    [title] = [
        node.value
        for node in ast.parse(app.read_text(encoding="utf-8")).body
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "TITLE"
    ]
    assert ast.literal_eval(title) == AWKWARD_TEXT["project_name"]


def test_rendering_is_deterministic(tmp_path: Path) -> None:
    first = render_cookiecutter(tmp_path / "first")
    second = render_cookiecutter(tmp_path / "second")
    assert tree(first) == tree(second)


def test_cookiecutter_projects_record_their_template(tmp_path: Path) -> None:
    project = render_cookiecutter(tmp_path / "cc")
    record = yaml.safe_load((project / ANSWERS_FILE).read_text(encoding="utf-8"))
    assert Path(record["_src_path"]).is_absolute()
    assert Path(record["_src_path"], "copier.yml").is_file()
