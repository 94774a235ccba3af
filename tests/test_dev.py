"""bin/dev: the real environment beats .env in every process it starts (factor III).

A project with a worker gets a .env naming one port and one pair of databases; bin/dev
then runs with another port and pair in its real environment. The release step must
migrate the environment's databases, the web process must serve on the environment's port
and keep its sessions in the environment's store, and no process may touch .env's. The
web process gets the project's test-only session routes (tests/extra_routes.py), so the
test does not depend on the demo, which a project may delete.
"""

from __future__ import annotations

import json
import re
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from helpers import PROJECT_ENV, free_port, interrupt, render_cookiecutter, run, sync

pytestmark = pytest.mark.xdist_group("dev")

BOOT_LIMIT = 120.0  # seconds; a bound for a loaded machine, not a benchmark


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = render_cookiecutter(tmp_path_factory.mktemp("dev"), {"with_worker": True})
    sync(project)
    run(["bin/build"], project)
    return project


def wait_for_healthz(port: int, dev: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + BOOT_LIMIT
    while True:
        assert dev.poll() is None, "bin/dev exited early"
        assert time.monotonic() < deadline, f"no answer on port {port}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 200
                return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)


def post_visit(port: int) -> str:
    url = f"http://127.0.0.1:{port}/test/session/count"
    with urllib.request.urlopen(urllib.request.Request(url, method="POST")) as response:
        assert json.loads(response.read()) == {"count": 1}
        cookie: str = response.headers["set-cookie"]
        return cookie


def refuses(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def tables(database: Path) -> set[str]:
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {name for (name,) in rows}


def test_the_real_environment_beats_dotenv_in_every_process(project: Path, tmp_path: Path) -> None:
    dotenv_port, real_port = free_port(), free_port()
    example = (project / ".env.example").read_text(encoding="utf-8")
    dotenv = re.sub(r"(?m)^SECRET_KEY=.*$", "SECRET_KEY=" + "k" * 40, example)
    dotenv = re.sub(r"(?m)^PORT=.*$", f"PORT={dotenv_port}", dotenv)
    dotenv = re.sub(r"(?m)^DATABASE_URL=.*$", "DATABASE_URL=sqlite:///var/dotenv.sqlite3", dotenv)
    dotenv = re.sub(
        r"(?m)^SESSION_STORE_URL=.*$", "SESSION_STORE_URL=sqlite:///var/dotenv-s.sqlite3", dotenv
    )
    (project / ".env").write_text(dotenv, encoding="utf-8")
    (project / "var").mkdir(exist_ok=True)
    database, sessions = tmp_path / "real.sqlite3", tmp_path / "real-sessions.sqlite3"
    env = {
        **PROJECT_ENV,
        "PORT": str(real_port),
        "DATABASE_URL": f"sqlite:///{database}",
        "SESSION_STORE_URL": f"sqlite:///{sessions}",
        "PYTHONPATH": f"{project / 'tests' / 'with_test_routes'}:{project / 'tests'}",
    }
    log = tmp_path / "dev.log"
    with log.open("wb") as sink:
        dev = subprocess.Popen(
            ["bin/dev"],
            cwd=project,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_healthz(real_port, dev)
        assert post_visit(real_port)
        deadline = time.monotonic() + BOOT_LIMIT
        while b"worker started" not in log.read_bytes():
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        time.sleep(2)  # a poll of the job table or two (one a second)
        assert refuses(dotenv_port), "a process listens on .env's PORT"
    finally:
        interrupt(dev)  # Ctrl-C, as the README says
    output = log.read_text(encoding="utf-8", errors="replace")
    assert {"alembic_version", "jobs"} <= tables(database), output  # release and worker's
    with sqlite3.connect(sessions) as connection:
        [(count,)] = connection.execute("SELECT count(*) FROM sessions")
    assert count == 1, output  # the web process's session
    assert not list((project / "var").glob("dotenv*")), output  # nothing opened .env's
