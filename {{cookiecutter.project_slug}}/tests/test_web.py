# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""The web process as the platform runs it: the Procfile's web command, as a subprocess.

It binds PORT, answers /healthz, and on SIGTERM stops accepting connections, lets the
in-flight request finish with 200, keeps idle keep-alive connections open for the drain
(web.py's DrainingServer, checked both in effect and against the upstream code it
overrides), and exits 0 well within 25 s. Bad settings stop it before it binds.
"""

from __future__ import annotations

import hashlib
import inspect
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
import uvicorn
from uvicorn_worker import UvicornWorker

from {{ cookiecutter.project_slug }}.web import IDLE_DRAIN_SECONDS

from helpers import ROOT, WITH_TEST_ROUTES, process_command, process_env
from servers import free_port

BOOT_LIMIT = 60.0  # seconds: a generous bound for a loaded CI machine, not a benchmark
EXIT_LIMIT = 25.0  # seconds: the platform kills the process at 30


def environment(tmp_path: Path, **values: str) -> dict[str, str]:
    web = {
        "PORT": str(free_port()),
        "WEB_CONCURRENCY": "2",
        "SESSION_STORE_URL": f"sqlite:///{tmp_path}/sessions.sqlite3",
        "PYTHONPATH": WITH_TEST_ROUTES,  # adds GET /test/slow
    }
    return process_env(f"sqlite:///{tmp_path}/db.sqlite3", **(web | values))


def connects(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


class Web:
    def __init__(self, tmp_path: Path) -> None:
        self.env = environment(tmp_path)
        self.port = int(self.env["PORT"])
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            process_command("web"),
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + BOOT_LIMIT
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"web exited: {self.output()}"
            try:
                if httpx2.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx2.TransportError:
                time.sleep(0.05)
        raise AssertionError(f"web not ready within {BOOT_LIMIT}s: {self.output()}")

    def stop(self) -> None:
        """SIGTERM, as a platform stops it; SIGKILL only if that fails. (A SIGKILLed
        gunicorn leaves its workers running, holding the port.)
        """
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=EXIT_LIMIT)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process.wait()

    def output(self) -> str:
        self.stop()
        stdout, _ = self.process.communicate()
        return stdout.decode(errors="replace")


@pytest.fixture
def web(tmp_path: Path) -> Iterator[Web]:
    server = Web(tmp_path)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def test_serves_healthz_on_ipv4_and_ipv6(web: Web) -> None:
    response = httpx2.get(f"{web.url}/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    if socket.has_ipv6 and connects(web.port, "::1"):
        ipv6 = httpx2.get(f"http://[::1]:{web.port}/healthz")
        assert ipv6.status_code == 200


@pytest.mark.slow
def test_sigterm_drains_the_in_flight_request_and_exits_0(web: Web, tmp_path: Path) -> None:
    started = tmp_path / "started"
    result: dict[str, httpx2.Response] = {}

    def slow_request() -> None:
        params = {"started": str(started), "seconds": "3"}
        result["slow"] = httpx2.get(f"{web.url}/test/slow", params=params, timeout=30)

    client = threading.Thread(target=slow_request)
    client.start()
    deadline = time.monotonic() + BOOT_LIMIT
    while not started.exists():
        assert time.monotonic() < deadline, "the slow request never started"
        time.sleep(0.01)

    web.process.send_signal(signal.SIGTERM)
    # The listener closes while the slow request is still running.
    while connects(web.port):
        assert client.is_alive(), "new connections were still accepted after SIGTERM"
        time.sleep(0.05)
    assert client.is_alive()

    returncode = web.process.wait(timeout=EXIT_LIMIT)  # raises if it takes longer
    client.join(timeout=EXIT_LIMIT)
    assert result["slow"].status_code == 200
    assert result["slow"].json() == {"slept": 3}
    assert returncode == 0, web.output()


def test_bad_settings_stop_it_before_it_binds(tmp_path: Path) -> None:
    env = environment(
        tmp_path,
        PORT="http-alt",  # set explicitly: the project's .env cannot fill these in
        DATABASE_URL="mysql://root:hunter2-password@db/app",
        LOG_LEVEL="chatty",
    )
    result = subprocess.run(
        process_command("web"), cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    message = result.stdout + result.stderr
    for name in ("PORT", "DATABASE_URL", "LOG_LEVEL"):
        assert f"  {name}: " in message
    for value in ("http-alt", "hunter2-password", "mysql://", "chatty"):
        assert value not in message
    assert "Traceback" not in message
    assert "Listening" not in message  # it never bound


@pytest.mark.slow
def test_sigterm_keeps_idle_keep_alive_connections_for_the_drain(web: Web) -> None:
    """A request that reaches an idle keep-alive connection just as shutdown begins (sent
    before SIGTERM, not yet read by a busy worker) is answered: web.py's DrainingServer
    waits IDLE_DRAIN_SECONDS after closing the listener. Plain uvicorn closes the
    connection at once, and the request is lost."""
    with httpx2.Client(base_url=web.url, timeout=10) as client:
        assert client.get("/healthz").status_code == 200  # the connection, now idle
        web.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + EXIT_LIMIT
        while connects(web.port):  # until every worker has closed the listener
            assert time.monotonic() < deadline, "the listener stayed open after SIGTERM"
            time.sleep(0.01)
        closed = time.monotonic()
        response = client.get("/healthz")  # on the idle connection, the drain under way
    assert time.monotonic() - closed < IDLE_DRAIN_SECONDS, "too slow to show the drain"
    assert response.status_code == 200
    assert web.process.wait(timeout=EXIT_LIMIT) == 0


# The upstream code web.py's drain depends on, as it was when the override was written:
# Worker._serve copies UvicornWorker._serve (with DrainingServer for uvicorn.Server), and
# DrainingServer.shutdown runs before uvicorn.Server.shutdown, using Server.servers.
CHECKED_UPSTREAM = {
    "uvicorn_worker.UvicornWorker._serve": (
        UvicornWorker._serve,
        "eb799ef03d6393179135c6235dc0a9a00884ad34bc600a0b8cc514d22c25aafc",
    ),
    "uvicorn.Server.shutdown": (
        uvicorn.Server.shutdown,
        "9b33c50562992b1e3cef2a9611408ece6c01d46ee17eaae2091b6091bf826eab",
    ),
}


@pytest.mark.parametrize("name", sorted(CHECKED_UPSTREAM))
def test_the_drain_override_matches_the_upstream_code_it_was_written_against(name: str) -> None:
    function, checked = CHECKED_UPSTREAM[name]
    found = hashlib.sha256(inspect.getsource(function).encode()).hexdigest()
    assert found == checked, (
        f"{name} changed upstream (uvicorn or uvicorn-worker was upgraded). web.py's drain "
        "overrides it: compare the new code with Worker._serve and DrainingServer in web.py, "
        "update them (or drop them if upstream now drains idle connections itself), check "
        "that the drain tests in test_web.py and test_web_under_load.py pass, then record "
        f"the new hash here: {found}"
    )
