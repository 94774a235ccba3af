"""`bin/update --check`: tells a project that is behind the template, and changes nothing.

A throwaway repository of the committed template is tagged v0.1.0 and a project made from
it by either engine; `bin/update --check` must then exit 0. The template gains a commit
tagged v0.2.0; the check must exit 2 naming 0.2.0, and leave the project untouched.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from updates import (  # the same throwaway template, engines and isolation
    ENGINES,
    ROOT,
    answers,
    append,
    bin_update,
    commit_all,
    committed_template,
    generate,
    git,
    no_home,
)

pytestmark = pytest.mark.xdist_group("update")
__all__ = ["no_home"]  # an autouse fixture: imported to apply here too


def status(project: Path) -> str:
    return git(project, "status", "--porcelain", "--untracked-files=all")


@pytest.mark.parametrize("engine", ENGINES)
def test_check_says_current_then_names_the_newer_release(tmp_path: Path, engine: str) -> None:
    repo = committed_template(tmp_path)
    git(repo, "tag", "v0.1.0")
    project = generate(engine, repo, tmp_path, "v0.1.0")
    assert answers(project)["_commit"] == "v0.1.0"

    current = bin_update(project, "--check")
    assert current.returncode == 0, current.stderr
    assert "on the newest template release (0.1.0)" in current.stdout

    append(repo / ROOT / "README.md", "A line of the next release.\n")
    commit_all(repo, "The next release")
    git(repo, "tag", "v0.2.0")
    (project / "scratch.txt").write_text("uncommitted work does not stop a check\n")
    before = status(project)

    behind = bin_update(project, "--check")
    assert behind.returncode == 2, behind.stderr
    assert "template release 0.2.0 is out" in behind.stderr
    assert "on 0.1.0" in behind.stderr
    assert "bin/update --defaults" in behind.stderr  # the command that needs no terminal
    assert status(project) == before  # nothing changed, nothing written
    assert answers(project)["_commit"] == "v0.1.0"


def test_check_fails_clearly_without_a_template_record(tmp_path: Path) -> None:
    repo = committed_template(tmp_path)
    git(repo, "tag", "v0.1.0")
    project = generate("copier", repo, tmp_path, "v0.1.0")
    git(project, "rm", "-q", ".copier-answers.yml")
    commit_all(project, "No record")
    result = bin_update(project, "--check")
    assert result.returncode == 1
    assert ".copier-answers.yml is missing" in result.stderr


def test_check_fails_when_the_template_cannot_be_reached(tmp_path: Path) -> None:
    repo = committed_template(tmp_path)
    git(repo, "tag", "v0.1.0")
    project = generate("copier", repo, tmp_path, "v0.1.0")
    repo.rename(tmp_path / "gone")
    result = bin_update(project, "--check")
    assert result.returncode not in (0, 2), result.stdout
