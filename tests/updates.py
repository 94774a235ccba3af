"""What the update tests share: a throwaway copy of the committed template, projects
generated from it by either engine, git, and a home folder of each test's own.

test_update.py, test_update_check.py, test_local_checkout.py and test_ownership.py use it.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import copier
import pytest
import yaml
from cookiecutter.main import cookiecutter
from helpers import ANSWERS_FILE, TEMPLATE, layout

ROOT = "{{cookiecutter.project_slug}}"  # the template folder of both engines
DATA = {"project_name": "Demo Service"}
SLUG = "demo_service"
ENGINES = ["cookiecutter", "copier"]
CONFLICT_MARKERS = ("<<<<<<< ", ">>>>>>> ")


@pytest.fixture(autouse=True)
def no_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """git, copier and cookiecutter see an empty home and a fixed git identity."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Template Tests")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "tests@example.invalid")
    monkeypatch.delenv("COPIER_OPERATION", raising=False)


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"git {' '.join(args)} in {cwd}:\n{result.stderr}"
    return result.stdout


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", message)


def edit(path: Path, old: str, new: str) -> None:
    """Replace one anchor in a template file; fail clearly when the anchor moved."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{path.name} no longer contains {old!r}: update this test"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as file:
        file.write(text)


def committed_template(tmp_path: Path) -> Path:
    """A fresh git repository holding the template's last commit, without its tags."""
    repo = tmp_path / "template"
    archive = subprocess.run(
        ["git", "archive", "HEAD"], cwd=TEMPLATE, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(repo, filter="data")
    git(repo, "init", "-q")
    commit_all(repo, "The template as committed")
    return repo


def generate(engine: str, repo: Path, tmp_path: Path, ref: str) -> Path:
    """A project from the template at `ref`, committed to its own git repository."""
    if engine == "copier":
        project = tmp_path / "project" / SLUG
        copier.run_copy(
            str(repo), project, data=DATA, vcs_ref=ref, defaults=True, unsafe=True, quiet=True
        )
    else:
        out = tmp_path / "project"
        out.mkdir()
        config = tmp_path / "cookiecutterrc.yml"  # clones and replays out of $HOME
        config.write_text(
            f"cookiecutters_dir: {json.dumps(str(tmp_path / 'cc-clones'))}\n"
            f"replay_dir: {json.dumps(str(tmp_path / 'cc-replay'))}\n"
        )
        # A release is pinned with --checkout, which needs a repository URL; HEAD is
        # the local folder as it is.
        pinned = ref != "HEAD"
        project = Path(
            cookiecutter(
                f"git+{repo.as_uri()}" if pinned else str(repo),
                checkout=ref if pinned else None,
                no_input=True,
                extra_context=DATA,
                output_dir=str(out),
                config_file=str(config),
            )
        )
    git(project, "init", "-q")
    commit_all(project, "Generated")
    return project


def answers(project: Path) -> dict[str, Any]:
    record: dict[str, Any] = yaml.safe_load((project / ANSWERS_FILE).read_text())
    return record


def leftovers(project: Path) -> list[str]:
    """Files with conflict markers, and *.rej files, anywhere in the project."""
    found = []
    for rel in layout.project_files(project):
        path = project / rel
        lines = path.read_bytes().decode("utf-8", errors="replace").splitlines()
        if rel.endswith(".rej") or any(line.startswith(CONFLICT_MARKERS) for line in lines):
            found.append(rel)
    return found


def bin_update(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The project's bin/update, with this suite's copier first on PATH."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        [str(project / "bin" / "update"), *args],
        cwd=project,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
