# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""SIGTERM under load, as a deploy does it: the Procfile's web command with 2 workers and
Redis sessions, 16 keep-alive clients counting visits in their sessions, then SIGTERM.
No request sent before the signal may fail, and the process exits 0 within 25 s.

Among them, a few clients are in the middle of sending a request on a keep-alive
connection when the signal comes: its first bytes went out before, the rest arrives once
the worker has begun to shut down. web.py's drain answers them; without it uvicorn closes
the connection at once (it looks idle: no whole request yet) and those requests fail.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.client import HTTPException, HTTPResponse
from pathlib import Path

import httpx2
import pytest

from helpers import ROOT, WITH_TEST_ROUTES, process_command, process_env
from servers import free_port

pytestmark = pytest.mark.slow  # the slow tier: CI runs it, `-m ""` locally

CLIENTS = 16
MID_REQUEST_CLIENTS = 4  # of them, sending a request when the signal comes
LOAD_SECONDS = 3.0  # of traffic before the signal
BOOT_LIMIT = 60.0  # seconds: a bound for a loaded CI machine, not a benchmark
EXIT_LIMIT = 25.0  # seconds: platforms SIGKILL at 30


@dataclass
class Tally:
    """What one client saw: (sent at, status or error) for each request."""

    results: list[tuple[float, int | str]] = field(default_factory=list)


def start_web(tmp_path: Path, redis_url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = process_env(
        f"sqlite:///{tmp_path}/db.sqlite3",
        PORT=str(port),
        WEB_CONCURRENCY="2",
        SESSION_STORE_URL=redis_url,
        SESSION_COOKIE_SECURE="false",  # plain HTTP here: the clients must send the cookie
        LOG_LEVEL="WARNING",
        PYTHONPATH=WITH_TEST_ROUTES,  # POST /test/session/count counts in the session
    )
    log = (tmp_path / "web.log").open("wb")
    process = subprocess.Popen(process_command("web"), cwd=ROOT, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + BOOT_LIMIT
    while time.monotonic() < deadline:
        assert process.poll() is None, (tmp_path / "web.log").read_text()
        try:
            if httpx2.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx2.TransportError:
            time.sleep(0.05)
    process.kill()
    raise AssertionError(f"web not ready within {BOOT_LIMIT}s")


def visit_until_refused(url: str, tally: Tally, done: threading.Event) -> None:
    with httpx2.Client(base_url=url, timeout=30) as client:  # one keep-alive connection
        while not done.is_set():
            sent = time.monotonic()
            try:
                outcome: int | str = client.post("/test/session/count").status_code
            except httpx2.TransportError as error:
                outcome = type(error).__name__
            tally.results.append((sent, outcome))
            if outcome != 200:
                return  # the server is going away: nothing more to send


class MidRequest:
    """A keep-alive connection (one request answered on it) with the next request begun:
    its first line is sent, its last header line not yet."""

    REQUEST = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        assert self.finish(self.REQUEST) == 200
        self.sock.sendall(self.REQUEST)

    def finish(self, request: bytes = b"") -> int | str:
        """Send the rest of the request; the answer's status, or what went wrong."""
        try:
            self.sock.sendall(request + b"\r\n")
            response = HTTPResponse(self.sock)
            response.begin()
            response.read()
            return response.status
        except (OSError, HTTPException) as error:
            return type(error).__name__


def connects(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def test_sigterm_under_load_fails_no_request_sent_before_it(tmp_path: Path, redis_url: str) -> None:
    process, url = start_web(tmp_path, redis_url)
    tallies = [Tally() for _ in range(CLIENTS)]
    done = threading.Event()
    clients = [
        threading.Thread(target=visit_until_refused, args=(url, tally, done)) for tally in tallies
    ]
    try:
        for client in clients:
            client.start()
        time.sleep(LOAD_SECONDS)
        port = int(url.rpartition(":")[2])
        mid_request = [MidRequest(port) for _ in range(MID_REQUEST_CLIENTS)]
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        while connects(port):  # until the workers begin to shut down
            assert time.monotonic() - signalled < EXIT_LIMIT, "the listener stayed open"
            time.sleep(0.01)
        finished = [client.finish() for client in mid_request]
        returncode = process.wait(timeout=EXIT_LIMIT)  # raises if it takes longer
        exited_after = time.monotonic() - signalled
    finally:
        done.set()
        for client in clients:
            client.join(timeout=EXIT_LIMIT)
        if process.poll() is None:
            process.kill()
    results = [result for tally in tallies for result in tally.results]
    before = [outcome for sent, outcome in results if sent < signalled]
    before += finished  # begun before the signal too
    failed = [outcome for outcome in before if outcome != 200]
    log = (tmp_path / "web.log").read_text()
    assert len(before) > CLIENTS, "too little load to show anything"
    assert failed == [], f"{len(failed)} of {len(before)} requests sent before SIGTERM failed"
    assert returncode == 0, log
    assert exited_after < EXIT_LIMIT
    assert "Traceback" not in log
