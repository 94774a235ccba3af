# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""The checks that run the project's real web processes (`bin/admin twelve_factor --live`).

Each starts the Procfile's web command, as the platform would, on a free PORT with the
caller's settings. IX: the process answers /healthz on that port, then exits 0 soon after
SIGTERM. VI: a session written through one web process is read through a second one and
ended through it, which holds only when the processes share nothing but the session store
(a session kept in a process's memory or on its disk is not seen by the other). The
session requests go to a probe route (probe/sitecustomize.py) the check adds to the
processes it starts, so the check needs none of the service's own routes.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from .project import Failed, Project

BOOT_TIMEOUT = 60.0  # seconds for the web process to answer /healthz (Heroku allows 60)
EXIT_TIMEOUT = 30.0  # seconds platforms commonly allow between SIGTERM and SIGKILL
PROBE = Path(__file__).resolve().parent / "probe"
PROBE_PATH = "/twelve-factor/session"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class WebProcess:
    """The Procfile's web command on a free port, one worker, with the caller's settings
    (and the probe route, on PYTHONPATH)."""

    def __init__(self, project: Project) -> None:
        self.port = free_port()
        paths = [str(PROBE), *filter(None, [os.environ.get("PYTHONPATH")])]
        env = {
            **os.environ,
            "PORT": str(self.port),
            "WEB_CONCURRENCY": "1",
            "PYTHONPATH": os.pathsep.join(paths),
            "TWELVE_FACTOR_PROBE": project.package,
        }
        command = project.procfile.get("web")
        if not command:
            raise Failed("the Procfile has no web process")
        self.started = time.monotonic()
        try:
            self.process = subprocess.Popen(  # noqa: S603  (the Procfile's own command)
                command,
                cwd=project.root,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        except OSError as error:
            raise Failed(f"the Procfile's web command cannot start: {error}") from None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_ready(self) -> float:
        """Seconds until /healthz answered on PORT; Failed when it exits or never answers."""
        while time.monotonic() - self.started < BOOT_TIMEOUT:
            if self.process.poll() is not None:
                error = (self.process.stderr.read() if self.process.stderr else b"").decode()
                last = (error.strip().splitlines() or ["no output"])[-1]
                raise Failed(f"web exited {self.process.returncode} while booting: {last}")
            try:
                with urllib.request.urlopen(self.url("/healthz"), timeout=2):  # noqa: S310
                    return time.monotonic() - self.started
            except OSError:
                time.sleep(0.1)
        raise Failed(f"web did not answer /healthz on PORT within {BOOT_TIMEOUT:.0f} s")

    def terminate(self) -> tuple[int | None, float]:
        """SIGTERM; the exit status (None: killed after the timeout) and seconds taken."""
        sent = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            status: int | None = self.process.wait(EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            status = None
        if self.process.stderr:
            self.process.stderr.close()
        return status, time.monotonic() - sent


def boot_and_stop(project: Project) -> str:
    """IX live: the web process answers /healthz, then exits 0 soon after SIGTERM."""
    web = WebProcess(project)
    try:
        ready = web.wait_ready()
    finally:
        status, stopping = web.terminate()
    if status != 0:
        raise Failed(f"web exited {status} on SIGTERM (after {stopping:.1f} s), not 0")
    return f"live: /healthz after {ready:.1f} s; exit 0 {stopping:.1f} s after SIGTERM"


def request(url: str, method: str, cookie: str | None) -> tuple[int, str | None]:
    """The probe's count and the session cookie (the new one, if the answer set one)."""
    call = urllib.request.Request(url, method=method, data=b"")  # noqa: S310
    if cookie:
        call.add_header("Cookie", cookie)
    with urllib.request.urlopen(call, timeout=5) as response:  # noqa: S310
        body = json.load(response)
        set_cookie = response.headers.get("Set-Cookie")
    count = body.get("count") if isinstance(body, dict) else None
    if not isinstance(count, int):
        raise Failed(f"live: the session probe answered {body!r}")
    return count, set_cookie.split(";", 1)[0] if set_cookie else cookie


def shared_session(project: Project) -> str:
    """VI live: a session written through one web process is read through another."""
    first, second = WebProcess(project), WebProcess(project)
    try:
        first.wait_ready()
        second.wait_ready()
        _, cookie = request(first.url(PROBE_PATH), "POST", None)
        if cookie is None:
            raise Failed("live: the web process set no session cookie")
        count, _ = request(second.url(PROBE_PATH), "POST", cookie)
        request(second.url(PROBE_PATH), "DELETE", cookie)
    except urllib.error.HTTPError as error:
        detail = error.read().decode(errors="replace")[:200]
        if error.code == 503:  # the store the settings name is down or not migrated
            release = " ".join(project.procfile.get("release", ["the release step"]))
            detail += f" (is the store up, and has the release step run: {release}?)"
        raise Failed(f"live: the session request failed: {error} {detail}") from None
    except urllib.error.URLError as error:
        raise Failed(f"live: the session request failed: {error}") from None
    finally:
        first.terminate()
        second.terminate()
    if count != 2:  # the first process counted 1
        raise Failed(f"live: the second process did not see the first's session (count {count})")
    return "live: two web processes shared a session through SESSION_STORE_URL"
