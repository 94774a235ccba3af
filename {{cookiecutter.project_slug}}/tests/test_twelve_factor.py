# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""`bin/admin twelve_factor`: the project passes, and each rule catches its own breakage.

Every breaking test edits a copy of this project (in a fresh git repository) the way a
change could, in several spellings, and expects the factor of that rule, and only it, to
fail: the checks judge what the code and scripts do, not how they are written. The
breakages live in new modules (a feature the web process imports through routes.py), so
they hold whichever routes the project keeps.
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

import twelve_factor_check

from helpers import team_values

PROJECT = Path(__file__).resolve().parents[1]
PACKAGE = "{{ cookiecutter.project_slug }}"
SRC = f"src/{PACKAGE}"
FEATURE = f"{SRC}/feature.py"  # a new module of the package, imported by the web process
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
    return {v.factor: v.evidence for v in twelve_factor_check.check(root) if not v.ok}


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


def feature(code: str) -> Callable[[Path], None]:
    """A breakage: a new module with `code`, which the web process imports (routes.py)."""

    def add(root: Path) -> None:
        append(root, FEATURE, f'"""A feature."""\n\n{code}\n')
        append(root, f"{SRC}/routes.py", "\nfrom . import feature  # noqa: E402, F401\n")

    return add


def admin_launcher(line: str) -> Callable[[Path], None]:
    """A breakage: bin/admin's last line (the exec of bin/python) replaced by `line`."""
    return lambda root: replace(root, "bin/admin", 'exec "$root/bin/python" -m', line)


def bind(value: str, module_code: str = "") -> Callable[[Path], None]:
    """A breakage: web.py binds `value` instead of the address made from PORT."""

    def edit(root: Path) -> None:
        replace(root, f"{SRC}/web.py", '"bind": [bind_address(settings.port)]', value)
        append(root, f"{SRC}/web.py", module_code)

    return edit


Breakage = Callable[[Path], None]
BREAKAGES: dict[str, tuple[set[str], Breakage]] = {
    "no revision control": ({"I"}, lambda root: shutil.rmtree(root / ".git")),
    "a package the build leaves out": (
        {"I"},
        lambda root: append(root, "src/other/__init__.py", ""),
    ),
    "a dependency not in the lock": (
        {"II"},
        lambda root: replace(
            root, "pyproject.toml", "dependencies = [\n", 'dependencies = [\n    "attrs>=20",\n'
        ),
    ),
    "a process run by python": (
        {"II"},
        lambda root: replace(
            root, "Procfile", "release: bin/admin", f"release: python -m {PACKAGE}.admin admin"
        ),
    ),
    "a process run by another bin/python": (
        {"II"},
        lambda root: replace(
            root, "Procfile", "release: bin/admin", f"release: bin/python3 -m {PACKAGE}.admin admin"
        ),
    ),
    "bin/admin running python3": (
        {"II", "XII"},
        admin_launcher("exec python3 -m"),
    ),
    "bin/admin running python3, bin/python in a comment": (
        {"II", "XII"},
        admin_launcher('exec python3 -m  # like "$root/bin/python" -m'),
    ),
    "bin/admin running /usr/bin/env python": (
        {"II", "XII"},
        admin_launcher('# exec "$root/bin/python"\nexec /usr/bin/env python -m'),
    ),
    "an environment read outside the settings": (
        {"III"},
        feature("import os\n\nDEBUG = os.getenv('DEBUG')"),
    ),
    "an environment read in an admin task": (
        {"III"},
        lambda root: append(root, "admin/migrate.py", "\nfrom os import environ\n"),
    ),
    "a setting missing from .env.example": (
        {"III"},
        lambda root: replace(root, ".env.example", "\nLOG_LEVEL=INFO", "\n"),
    ),
    "a variable .env.example invents": (
        {"III"},
        lambda root: append(root, ".env.example", "FEATURE_FLAG=on\n"),
    ),
    "an engine on a literal URL": (
        {"IV"},
        feature(
            "from sqlalchemy import create_engine\n\n"
            'engine = create_engine("postgresql://app@db.internal/app")'
        ),
    ),
    "an engine on a literal SQLite URL": (
        {"IV"},
        feature('from sqlalchemy import create_engine\n\nengine = create_engine("sqlite:///x.db")'),
    ),
    "a URL constant used later": (
        {"IV"},
        feature(
            'CACHE = "redis://cache.internal:6379/0"\n\n\n'
            "def client() -> object:\n    import redis\n\n    return redis.from_url(CACHE)"
        ),
    ),
    "a URL in an f-string": (
        {"IV"},
        feature(
            'HOST = "db.internal"\n\n\n'
            "def url(user: str) -> str:\n"
            '    return f"postgresql://{user}@{HOST}/app"'
        ),
    ),
    "a URL as a keyword argument": (
        {"IV"},
        feature(
            "import aiomcache\n\n"
            'client = aiomcache.Client.from_url(url="memcached://cache.internal:11211")'
        ),
    ),
    "a URL put together": (
        {"IV"},
        feature('SCHEME = "redis"\nURL = SCHEME + "://cache.internal:6379"'),
    ),
    "a URL in an admin task": (
        {"IV"},
        lambda root: append(root, "admin/migrate.py", '\nTARGET = "postgresql://db/app"\n'),
    ),
    "no release step": (
        {"V"},
        lambda root: replace(
            root, "Procfile", "release: bin/admin migrate", "release: bin/admin console"
        ),
    ),
    "the web importing the migration tool": (
        {"V"},
        feature("import alembic"),
    ),
    "no build step in the image": (
        {"V"},
        lambda root: replace(root, "Dockerfile", "RUN bin/build", "RUN true"),
    ),
    "the web appending to a file": (
        {"VI"},
        feature('def visit() -> None:\n    open("var/visits.txt", "a").close()'),
    ),
    "the web appending to a Path": (
        {"VI"},
        feature(
            "from pathlib import Path\n\nLOG = Path('var') / 'visits.txt'\n\n\n"
            'def visit() -> None:\n    with LOG.open("a") as file:\n        file.write("1")'
        ),
    ),
    "the web writing a Path's text": (
        {"VI"},
        feature(
            "from pathlib import Path\n\n\ndef save(t: str) -> None:\n    Path(t).write_text(t)"
        ),
    ),
    "the web keeping sessions in a dict": (
        {"VI"},
        feature(
            "SESSIONS: dict[str, dict[str, int]] = {}\n\n\n"
            "def save(key: str, data: dict[str, int]) -> None:\n    SESSIONS[key] = data"
        ),
    ),
    "the web keeping sessions in an in-memory store": (
        {"VI"},
        feature(
            "class MemoryStore:\n"
            "    def __init__(self) -> None:\n"
            "        self._records: dict[str, str] = {}\n\n"
            "    async def save(self, key: str, record: str, ttl: int) -> None:\n"
            "        self._records[key] = record\n\n"
            "    async def load(self, key: str, ttl: int) -> str | None:\n"
            "        return self._records.get(key)"
        ),
    ),
    "the web counting in a global": (
        {"VI"},
        feature("VISITS = 0\n\n\ndef visit() -> None:\n    global VISITS\n    VISITS += 1"),
    ),
    "the web keeping sessions in a shelve file": (
        {"VI"},
        feature(
            "import shelve\n\n\ndef save(k: str, v: str) -> None:\n    shelve.open('s')[k] = v"
        ),
    ),
    "a port as a number": ({"VII"}, bind('"bind": [bind_address(8000)]')),
    "a port as a constant": ({"VII"}, bind('"bind": [bind_address(PORT)]', "\nPORT = 8000\n")),
    "a bind string": ({"VII"}, bind('"bind": ["0.0.0.0:8000"]')),
    "a bind f-string": ({"VII"}, bind('"bind": [f"0.0.0.0:{8000}"]')),
    "a fixed worker count": (
        {"VIII"},
        lambda root: replace(
            root, f"{SRC}/web.py", '"workers": settings.web_concurrency', '"workers": 4'
        ),
    ),
    "a program with no process type": (
        {"VIII"},
        lambda root: append(root, f"{SRC}/clock.py", 'if __name__ == "__main__":\n    pass\n'),
    ),
    "a platform without a process type": (
        {"VIII"},
        lambda root: replace(root, "app.json", '"web": {', '"www": {'),
    ),
    "a shell between the platform and the process": (
        {"IX"},
        lambda root: replace(root, "Dockerfile", 'CMD ["bin/python", "-m",', "CMD bin/python -m #"),
    ),
    "another Python in the image": (
        {"X"},
        lambda root: replace(root, "Dockerfile", "ARG PYTHON_VERSION=", "ARG PYTHON_VERSION=2.7 #"),
    ),
    "a log file": (
        {"XI"},
        feature('import logging\n\nlogging.getLogger().addHandler(logging.FileHandler("app.log"))'),
    ),
    "logs configured into a file": (
        {"XI"},
        feature('import logging\n\nlogging.basicConfig(filename="app.log")'),
    ),
    "an admin task bin/admin cannot run": (
        {"XII"},
        lambda root: append(root, "admin/report.py", '"""A report."""\n\nprint("report")\n'),
    ),
}

HOLDING: dict[str, Breakage] = {
    "a URL setting with a default": lambda root: declare(
        root, 'payments_url: str = "https://payments.example.com/v1"'
    ),
    "a required URL setting": lambda root: declare(root, "payments_url: str"),
    "a URL in a message or a comparison": feature(
        "def check(url: str) -> None:\n"
        '    if url == "redis://localhost:6379":\n'
        '        raise ValueError("use redis://host:port, not redis://localhost:6379")'
    ),
    "a registry a decorator fills at import": feature(
        "from collections.abc import Callable\n\n"
        "HANDLERS: dict[str, Callable[[], None]] = {}\n\n\n"
        "def handler(function: Callable[[], None]) -> Callable[[], None]:\n"
        "    HANDLERS[function.__name__] = function\n"
        "    return function"
    ),
    "bin/python named in a comment of bin/admin": lambda root: append(
        root, "bin/admin", "# not python3: bin/python\n"
    ),
}


def declare(root: Path, field: str) -> None:
    """A team's setting at the end of settings.py's class (and in .env.example)."""
    append(root, f"{SRC}/settings.py", f"\n    {field}\n")
    append(root, ".env.example", "PAYMENTS_URL=https://payments.example.com/v1\n")


def test_the_project_holds_every_factor(copy: Path) -> None:
    verdicts = twelve_factor_check.check(copy)
    factors = [v.factor for v in verdicts]
    assert factors == ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII"]
    assert failing(copy) == {}
    report = twelve_factor_check.report(verdicts)
    assert report.endswith("every factor holds")
    assert all(v.evidence for v in verdicts)


@pytest.mark.slow
@pytest.mark.parametrize(("factors", "breakage"), BREAKAGES.values(), ids=BREAKAGES.keys())
def test_each_rule_names_its_factor(copy: Path, factors: set[str], breakage: Breakage) -> None:
    breakage(copy)
    failed = failing(copy)
    assert set(failed) == factors, failed
    report = twelve_factor_check.report(twelve_factor_check.check(copy))
    for factor in factors:
        assert re.search(rf"^ *{factor}  .* FAIL  ", report, re.M), report
    assert report.endswith(f"failing: {', '.join(failed)}")


@pytest.mark.parametrize("change", HOLDING.values(), ids=HOLDING.keys())
def test_changes_that_keep_every_factor(copy: Path, change: Breakage) -> None:
    change(copy)
    assert failing(copy) == {}


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


def without_the_demo(copy: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The copy with the demo deleted (its module, and its line in routes.py) if the
    project still has it, runnable: this project's virtualenv and built assets, and the
    copy's code first on the path."""
    (copy / SRC / "demo.py").unlink(missing_ok=True)
    routes = copy / SRC / "routes.py"
    lines = routes.read_text(encoding="utf-8").splitlines(keepends=True)
    routes.write_text("".join(line for line in lines if "demo" not in line), encoding="utf-8")
    (copy / ".venv").symlink_to(PROJECT / ".venv")
    shutil.copytree(PROJECT / "build", copy / "build")
    monkeypatch.setenv("PYTHONPATH", str(copy / "src"))
    return copy


@pytest.mark.slow
def test_live_checks_boot_stop_and_share_a_session(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, copy: Path
) -> None:
    """The live checks hold on a project that deleted the demo: they need no route of it."""
    live_environment(monkeypatch, tmp_path)
    project = without_the_demo(copy, monkeypatch)
    verdicts = {v.factor: v for v in twelve_factor_check.check(project, live=True)}
    assert not any("demo" in line for line in (project / SRC / "routes.py").open())
    assert [f for f, v in verdicts.items() if not v.ok] == [], verdicts
    assert "exit 0" in verdicts["IX"].evidence
    assert "shared a session" in verdicts["VI"].evidence


@pytest.mark.slow
def test_live_check_fails_a_web_process_that_cannot_boot(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    live_environment(monkeypatch, tmp_path)
    monkeypatch.setenv("DATABASE_URL", "mysql://nowhere")  # refused by the settings
    [verdict] = twelve_factor_check.check(PROJECT, live=True, only={"IX"})
    assert not verdict.ok
    assert "exited 2 while booting" in verdict.evidence


@pytest.mark.slow
def test_live_check_names_the_release_step_when_the_store_is_not_migrated(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    live_environment(monkeypatch, tmp_path)
    monkeypatch.setenv("SESSION_STORE_URL", f"sqlite:///{tmp_path}/never-migrated.sqlite3")
    [verdict] = twelve_factor_check.check(PROJECT, live=True, only={"VI"})
    assert not verdict.ok
    assert "503" in verdict.evidence
    assert "has the release step run: bin/admin migrate?" in verdict.evidence
