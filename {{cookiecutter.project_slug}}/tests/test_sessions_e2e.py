# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Share-nothing, end to end: real web processes (the Procfile's command) on every store.

Two processes serve one user alternately; then every process is SIGKILLed and a new one
(with two workers) takes over: the user is still logged in and the counter intact.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest

from helpers import ROOT, WITH_TEST_ROUTES, process_command, process_env
from servers import free_port, wait_until

pytestmark = pytest.mark.slow  # the slow tier: CI runs it, `-m ""` locally


@contextmanager
def web_process(store_url: str, tmp_path: Path, concurrency: int) -> Iterator[httpx2.Client]:
    """`bin/python -m <package>.web` as the Procfile runs it; SIGKILLed at the end."""
    port = free_port()
    env = process_env(
        f"sqlite:///{tmp_path / 'db.sqlite3'}",
        PORT=str(port),
        WEB_CONCURRENCY=str(concurrency),
        SESSION_STORE_URL=store_url,
        SESSION_COOKIE_SECURE="false",  # plain HTTP on loopback
        LOG_LEVEL="WARNING",
        PYTHONPATH=WITH_TEST_ROUTES,  # adds /test/session/*
    )
    process: subprocess.Popen[bytes] = subprocess.Popen(
        process_command("web"), cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL
    )
    client = httpx2.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)

    def up() -> bool:
        try:
            return client.get("/healthz").status_code == 200
        except httpx2.TransportError:
            return False

    try:
        wait_until(up, process, "web process")
        yield client
    finally:
        client.close()
        os.killpg(process.pid, signal.SIGKILL)  # the whole group: gunicorn and its workers
        process.wait()


def call(
    client: httpx2.Client, cookie: dict[str, str], method: str, path: str, body: object = None
) -> object:
    """One request carrying the user's session cookie; keeps the cookie the server sets."""
    client.cookies.clear()
    headers = {"cookie": f"session={cookie['session']}"} if cookie else {}
    response = client.request(method, path, json=body, headers=headers)
    assert response.status_code == 200, response.text
    if "session" in response.cookies:
        cookie["session"] = response.cookies["session"]
    return response.json()


def test_sessions_survive_killing_every_process(session_store_url: str, tmp_path: Path) -> None:
    cookie: dict[str, str] = {}
    with (
        web_process(session_store_url, tmp_path, 1) as a,
        web_process(session_store_url, tmp_path, 1) as b,
    ):
        assert call(a, cookie, "POST", "/test/session/login?user=ada") == {"user": "ada"}
        for n, server in enumerate([b, a, b, a], start=1):
            session = call(server, cookie, "POST", "/test/session/count")
            assert session == {"user": "ada", "count": n}
        assert call(b, cookie, "GET", "/test/session") == {"user": "ada", "count": 4}
    # Every process is gone (SIGKILL: no clean shutdown). A new one with two workers:
    with web_process(session_store_url, tmp_path, 2) as c:
        assert call(c, cookie, "GET", "/test/session") == {"user": "ada", "count": 4}
        for n in range(5, 9):  # new connections each time: both workers take turns
            assert call(c, cookie, "POST", "/test/session/count") == {"user": "ada", "count": n}
