# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Every process type runs through bin/python, the project's one interpreter entrypoint,
and bin/python finds the right interpreter from any directory.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from helpers import ROOT, procfile

BIN_PYTHON = ROOT / "bin" / "python"
EXECS_BIN_PYTHON = re.compile(r"^\s*exec\s+\S*bin/python\b", re.MULTILINE)


def test_web_and_release_are_declared() -> None:
    assert procfile()["web"] == "bin/python -m {{ cookiecutter.project_slug }}.web"
    assert "release" in procfile()


def test_every_process_goes_through_bin_python() -> None:
    for name, command in procfile().items():
        entrypoint = shlex.split(command)[0]
        if entrypoint == "bin/python":
            continue
        script = ROOT / entrypoint
        assert entrypoint.startswith("bin/"), f"{name}: {entrypoint} bypasses bin/python"
        assert script.is_file(), f"{name}: {entrypoint} does not exist"
        assert EXECS_BIN_PYTHON.search(script.read_text()), f"{entrypoint} must exec bin/python"


def test_honcho_accepts_the_procfile() -> None:
    check = subprocess.run(
        [sys.executable, "-m", "honcho", "check"], cwd=ROOT, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr


def test_runs_the_project_venv_from_any_directory(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            BIN_PYTHON,
            "-c",
            "import os, sys; print(sys.prefix); print(os.environ['PYTHONUNBUFFERED'])",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    prefix, unbuffered = result.stdout.split()
    assert Path(prefix) == Path(sys.prefix)  # the venv the tests run in: the project's
    assert unbuffered == "1"


def fake_project(tmp_path: Path) -> Path:
    """A project folder with bin/python but no virtualenv."""
    (tmp_path / "bin").mkdir(parents=True)
    shutil.copy2(BIN_PYTHON, tmp_path / "bin" / "python")
    return tmp_path


def path_with(tmp_path: Path, python3: str) -> str:
    """A PATH whose python3 runs the command `python3` and that has no uv."""
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "python3").write_text(f'#!/bin/sh\nexec {python3} "$@"\n')
    (tools / "python3").chmod(0o755)
    for tool in ("dirname", "sh", "touch"):
        found = shutil.which(tool)
        assert found
        (tools / tool).symlink_to(found)
    return str(tools)


def test_uses_a_system_python_that_has_the_package(tmp_path: Path) -> None:
    """Heroku installs the locked dependencies into its Python and makes no .venv."""
    project = fake_project(tmp_path / "project")
    env = {**os.environ, "PATH": path_with(tmp_path, sys.executable)}
    env.pop("UV_PROJECT_ENVIRONMENT", None)
    result = subprocess.run(
        [project / "bin" / "python", "-c", "import sys; print(sys.executable)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == sys.executable


def test_without_venv_or_uv_it_says_what_to_do(tmp_path: Path) -> None:
    project = fake_project(tmp_path / "project")
    env = {**os.environ, "PATH": path_with(tmp_path, "false")}  # imports nothing
    env.pop("UV_PROJECT_ENVIRONMENT", None)
    result = subprocess.run(
        [project / "bin" / "python", "-c", "pass"], env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "no virtualenv" in result.stderr
    assert "run bin/setup" in result.stderr
