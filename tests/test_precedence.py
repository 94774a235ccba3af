"""One config precedence in every process type: the real environment beats .env (factor III).

A generated project gets a .env that sets a variable one way; the process under test gets
the same variable another way in its real environment, and must behave by the
environment's value: the web process (the Procfile's command) serves on the environment's
PORT with the environment's API_DOCS, the worker logs at the environment's LOG_LEVEL and
polls the environment's database, and an admin task (`bin/admin migrate`) migrates the
environment's database. Each .env also supplies SECRET_KEY, which the environment lacks,
so each test also shows that .env is read at all. (bin/dev: tests/test_dev.py.)
"""

from __future__ import annotations

import re
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from helpers import PROJECT_ENV, render_cookiecutter, run, sync

pytestmark = pytest.mark.xdist_group("precedence")

BOOT_LIMIT = 120.0  # seconds; a bound for a loaded machine, not a benchmark
KEY = "k" * 40


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = render_cookiecutter(tmp_path_factory.mktemp("precedence"), {"with_worker": True})
    sync(project)
    run(["bin/build"], project)
    (project / "var").mkdir(exist_ok=True)
    return project


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def write_dotenv(project: Path, **values: str) -> None:
    """.env as bin/setup writes it (.env.example, a SECRET_KEY), with `values` set."""
    dotenv = (project / ".env.example").read_text(encoding="utf-8")
    for name, value in {"SECRET_KEY": KEY, **values}.items():
        dotenv, found = re.subn(rf"(?m)^{name}=.*$", f"{name}={value}", dotenv)
        assert found == 1, name
    (project / ".env").write_text(dotenv, encoding="utf-8")


def environment(project: Path, **values: str) -> dict[str, str]:
    """The real environment of the process: none of the service's variables but `values`
    (so SECRET_KEY can only come from .env)."""
    example = (project / ".env.example").read_text(encoding="utf-8")
    names = set(re.findall(r"(?m)^([A-Z][A-Z0-9_]*)=", example))
    return {**{k: v for k, v in PROJECT_ENV.items() if k not in names}, **values}


def tables(database: Path) -> set[str]:
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {name for (name,) in rows}


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            code: int = response.status
            return code
    except urllib.error.HTTPError as error:
        return error.code


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_the_web_process_takes_the_real_environment(project: Path, tmp_path: Path) -> None:
    dotenv_port, real_port = free_port(), free_port()
    write_dotenv(project, PORT=str(dotenv_port), API_DOCS="true")
    env = environment(project, PORT=str(real_port), API_DOCS="false", WEB_CONCURRENCY="1")
    log = tmp_path / "web.log"
    with log.open("wb") as sink:
        web = subprocess.Popen(
            ["bin/python", "-m", "my_service.web"], cwd=project, env=env, stdout=sink, stderr=sink
        )
    try:
        deadline = time.monotonic() + BOOT_LIMIT
        while True:
            assert web.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                if status(f"http://127.0.0.1:{real_port}/healthz") == 200:
                    break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        # API_DOCS=false from the environment, not .env's true: no schema served.
        assert status(f"http://127.0.0.1:{real_port}/openapi.json") == 404
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", dotenv_port)) != 0, ".env's PORT is bound"
    finally:
        stop(web)


def test_the_worker_takes_the_real_environment(project: Path, tmp_path: Path) -> None:
    database = tmp_path / "real.sqlite3"
    write_dotenv(project, LOG_LEVEL="ERROR", DATABASE_URL="sqlite:///var/dotenv-worker.sqlite3")
    env = environment(project, LOG_LEVEL="INFO", DATABASE_URL=f"sqlite:///{database}")
    run(["bin/admin", "migrate"], project, env=env)
    log = tmp_path / "worker.log"
    with log.open("wb") as sink:
        worker = subprocess.Popen(
            ["bin/python", "-m", "my_service.worker"],
            cwd=project,
            env=env,
            stdout=sink,
            stderr=sink,
        )
    try:
        deadline = time.monotonic() + BOOT_LIMIT
        while b"worker started" not in log.read_bytes():  # an INFO line: .env says ERROR
            assert worker.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        time.sleep(2)  # a poll of the job table or two (one a second)
        assert worker.poll() is None, log.read_text()  # polling the migrated database
    finally:
        stop(worker)
    assert not list((project / "var").glob("dotenv-worker*")), log.read_text()


def test_an_admin_task_takes_the_real_environment(project: Path, tmp_path: Path) -> None:
    database = tmp_path / "real.sqlite3"
    write_dotenv(project, DATABASE_URL="sqlite:///var/dotenv-admin.sqlite3")
    run(
        ["bin/admin", "migrate"],
        project,
        env=environment(project, DATABASE_URL=f"sqlite:///{database}"),
    )
    assert "alembic_version" in tables(database)
    assert not list((project / "var").glob("dotenv-admin*"))
