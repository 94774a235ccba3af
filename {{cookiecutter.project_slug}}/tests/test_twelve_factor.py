# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""`bin/admin twelve_factor`: the project passes, and each rule catches its own breakage.

Every breaking test edits a copy of this project (in a fresh git repository) the way a
change could, and expects the factor of that rule, and only it, to fail.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from {{ cookiecutter.project_slug }} import twelve_factor

from helpers import team_values

PROJECT = Path(__file__).resolve().parents[1]
PACKAGE = twelve_factor.__name__.partition(".")[0]
SRC = f"src/{PACKAGE}"
LOCAL_STATE = {".git", ".venv", "build", "var", ".env"}  # at the root: not in a clone
CACHES = shutil.ignore_patterns("__pycache__", ".*_cache")
GIT_IDENTITY = {
    f"GIT_{role}_{part}": value
    for role in ("AUTHOR", "COMMITTER")
    for part, value in (("NAME", "Tests"), ("EMAIL", "tests@example.invalid"))
}


def git(root: Path, *args: str) -> None:
    env = {**os.environ, **GIT_IDENTITY, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)


def not_in_a_clone(folder: str, names: list[str]) -> set[str]:
    local = LOCAL_STATE if Path(folder) == PROJECT else set()
    return (local & set(names)) | CACHES(folder, names)


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """This project's files in a new git repository, as a fresh clone would have them."""
    root = tmp_path / "project"
    shutil.copytree(PROJECT, root, ignore=not_in_a_clone)
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "--no-verify", "-m", "copy")
    return root


def failing(root: Path) -> dict[str, str]:
    """Factor -> evidence, for every factor that fails."""
    return {v.factor: v.evidence for v in twelve_factor.check(root) if not v.ok}


def replace(root: Path, name: str, old: str, new: str) -> None:
    path = root / name
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{name} no longer contains {old!r}: update this test"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def append(root: Path, name: str, text: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as file:
        file.write(text)


Breakage = Callable[[Path], None]
BREAKAGES: dict[str, tuple[str, Breakage]] = {
    "no revision control": ("I", lambda root: shutil.rmtree(root / ".git")),
    "a second package": ("I", lambda root: append(root, "src/other/__init__.py", "")),
    "a dependency not in the lock": (
        "II",
        lambda root: replace(
            root, "pyproject.toml", "dependencies = [\n", 'dependencies = [\n    "attrs>=20",\n'
        ),
    ),
    "a process outside bin/python": (
        "II",
        lambda root: replace(
            root, "Procfile", "release: bin/admin", f"release: python -m {PACKAGE}.admin admin"
        ),
    ),
    "an environment read outside the settings": (
        "III",
        lambda root: append(
            root, f"{SRC}/routes.py", "\nimport os\n\nDEBUG = os.getenv('DEBUG')\n"
        ),
    ),
    "an environment read in an admin task": (
        "III",
        lambda root: append(root, "admin/migrate.py", "\nfrom os import environ\n"),
    ),
    "a setting missing from .env.example": (
        "III",
        lambda root: replace(root, ".env.example", "\nLOG_LEVEL=INFO", "\n"),
    ),
    "a variable .env.example invents": (
        "III",
        lambda root: append(root, ".env.example", "FEATURE_FLAG=on\n"),
    ),
    "a service address in the code": (
        "IV",
        lambda root: append(root, f"{SRC}/routes.py", '\nCACHE = "redis://localhost:6379/0"\n'),
    ),
    "a URL setting with a default": (
        "IV",
        lambda root: replace(
            root, f"{SRC}/config.py", "= Field(repr=False)", '= Field("sqlite:///x", repr=False)'
        ),
    ),
    "no release step": (
        "V",
        lambda root: replace(
            root, "Procfile", "release: bin/admin migrate", "release: bin/admin console"
        ),
    ),
    "the web importing the migration tool": (
        "V",
        lambda root: append(root, f"{SRC}/routes.py", "\nimport alembic  # noqa\n"),
    ),
    "no build step in the image": (
        "V",
        lambda root: replace(root, "Dockerfile", "RUN bin/build", "RUN true"),
    ),
    "the web writing local files": (
        "VI",
        lambda root: append(root, f"{SRC}/routes.py", '\nopen("var/visits.txt", "a")\n'),
    ),
    "a fixed port": (
        "VII",
        lambda root: replace(
            root, f"{SRC}/web.py", "[bind_address(settings.port)]", '["0.0.0.0:8000"]'
        ),
    ),
    "a program with no process type": (
        "VIII",
        lambda root: append(root, f"{SRC}/clock.py", 'if __name__ == "__main__":\n    pass\n'),
    ),
    "a platform without a process type": (
        "VIII",
        lambda root: replace(root, "app.json", '"web": {', '"www": {'),
    ),
    "a shell between the platform and the process": (
        "IX",
        lambda root: replace(root, "Dockerfile", 'CMD ["bin/python", "-m",', "CMD bin/python -m #"),
    ),
    "another Python in the image": (
        "X",
        lambda root: replace(root, "Dockerfile", "ARG PYTHON_VERSION=", "ARG PYTHON_VERSION=2.7 #"),
    ),
    "a log file": (
        "XI",
        lambda root: append(
            root, f"{SRC}/routes.py", '\nimport logging\n\nlogging.FileHandler("app.log")\n'
        ),
    ),
    "an admin task bin/admin cannot run": (
        "XII",
        lambda root: append(root, "admin/report.py", '"""A report."""\n\nprint("report")\n'),
    ),
}


def test_the_project_holds_every_factor(copy: Path) -> None:
    verdicts = twelve_factor.check(copy)
    factors = [v.factor for v in verdicts]
    assert factors == ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII"]
    assert failing(copy) == {}
    report = twelve_factor.report(verdicts)
    assert report.endswith("every factor holds")
    assert all(v.evidence for v in verdicts)


@pytest.mark.parametrize(("factor", "breakage"), BREAKAGES.values(), ids=BREAKAGES.keys())
def test_each_rule_names_its_factor(copy: Path, factor: str, breakage: Breakage) -> None:
    breakage(copy)
    failed = failing(copy)
    assert list(failed) == [factor], failed
    report = twelve_factor.report(twelve_factor.check(copy))
    assert re.search(rf"^ *{factor}  .* FAIL  ", report, re.M), report
    assert report.endswith(f"failing: {factor}")


def test_the_admin_task_exits_1_naming_the_factor(copy: Path, tmp_path: Path) -> None:
    """The task on a broken copy, run as bin/admin runs it (the copy's admin/ folder with
    this project's interpreter: the copy's own bin/python would sync this venv to it)."""
    replace(copy, "Procfile", "release: bin/admin", "release: python3 -m the_admin")
    env = {
        **os.environ,
        **team_values(),
        "SECRET_KEY": "x" * 40,
        "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
        "SESSION_STORE_URL": f"sqlite:///{tmp_path}/sessions.sqlite3",
    }
    command = [sys.executable, "-m", f"{PACKAGE}.admin", str(copy / "admin"), "twelve_factor"]
    result = subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True)
    assert result.returncode == 1, result.stderr
    assert re.search(r"^ +II  Dependencies +FAIL .*release", result.stdout, re.M), result.stdout
    assert result.stdout.count("  ok  ") == 11


def live_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Settings for the web processes the live checks start: a migrated SQLite store."""
    for name, value in {
        **team_values(),
        "SECRET_KEY": "x" * 40,
        "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
        "SESSION_STORE_URL": f"sqlite:///{tmp_path}/sessions.sqlite3",
        "SESSION_COOKIE_SECURE": "false",
    }.items():
        monkeypatch.setenv(name, value)
    subprocess.run([str(PROJECT / "bin/admin"), "migrate"], check=True, capture_output=True)


def test_live_checks_boot_stop_and_share_a_session(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    live_environment(monkeypatch, tmp_path)
    verdicts = {v.factor: v for v in twelve_factor.check(PROJECT, live=True, only={"VI", "IX"})}
    assert verdicts["IX"].ok, verdicts["IX"].evidence
    assert "exit 0" in verdicts["IX"].evidence
    assert verdicts["VI"].ok, verdicts["VI"].evidence
    assert "shared a session" in verdicts["VI"].evidence


def test_live_check_fails_a_web_process_that_cannot_boot(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    live_environment(monkeypatch, tmp_path)
    monkeypatch.setenv("DATABASE_URL", "mysql://nowhere")  # refused by the settings
    [verdict] = twelve_factor.check(PROJECT, live=True, only={"IX"})
    assert not verdict.ok
    assert "exited 2 while booting" in verdict.evidence
