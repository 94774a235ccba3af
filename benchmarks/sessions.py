"""Session overhead benchmark: requests/s of the generated service, one run, one table.

Renders the template (defaults) into a temp folder, syncs it, builds its assets, starts a
Redis server (from the machine's redis-server) and, per store, the Procfile web command
(`bin/python -m my_service.web`, WEB_CONCURRENCY=1), then drives it with wrk (Debian's
`wrk`) on loopback for a few seconds per endpoint:

    GET /healthz        the bare endpoint (no session)
    GET /api/visits     the session read path (one store round trip, no write)
    POST /api/visits    the session write path

Run from the template root:  uv run python benchmarks/sessions.py [--seconds 5]
Not a test: numbers depend on the machine. Traffic stays on 127.0.0.1, bounded in time.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TEMPLATE / "tests"))

from helpers import PROJECT_ENV, render_cookiecutter, run, sync  # noqa: E402

POST_LUA = 'wrk.method = "POST"\n'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - loopback only
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def session_cookie(base: str) -> str:
    request = urllib.request.Request(base + "/api/visits", method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        return response.headers["set-cookie"].split(";")[0]


def wrk(url: str, seconds: int, cookie: str, lua: Path | None) -> float:
    command = ["wrk", "-t1", "-c16", f"-d{seconds}s", "-H", f"Cookie: {cookie}", url]
    if lua:
        command[1:1] = ["-s", str(lua)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    assert match, output
    return float(match[1])


def measure(project: Path, store_url: str, seconds: int, lua: Path) -> dict[str, float]:
    port = free_port()
    env = {
        **PROJECT_ENV,
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "SECRET_KEY": "benchmark-" + "k" * 32,
        "DATABASE_URL": "sqlite:///var/db.sqlite3",
        "SESSION_STORE_URL": store_url,
        "SESSION_COOKIE_SECURE": "false",
        "LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        ["bin/python", "-m", "my_service.web"],
        cwd=project,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/healthz")
        cookie = session_cookie(base)
        return {
            "GET /healthz": wrk(base + "/healthz", seconds, cookie, None),
            "GET /api/visits": wrk(base + "/api/visits", seconds, cookie, None),
            "POST /api/visits": wrk(base + "/api/visits", seconds, cookie, lua),
        }
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--project", type=Path, help="an already rendered project to use")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install -y wrk")
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        root = Path(scratch)
        project = args.project or render_cookiecutter(root / "out")
        sync(project)
        run(["bin/build"], project)
        run(["bin/admin", "migrate"], project, env={**PROJECT_ENV, **bench_env()})
        lua = root / "post.lua"
        lua.write_text(POST_LUA)
        redis_port = free_port()
        redis = subprocess.Popen(
            ["redis-server", "--port", str(redis_port), "--save", "", "--dir", scratch],
            stdout=subprocess.DEVNULL,
        )
        try:
            time.sleep(0.5)
            stores = {
                "redis": f"redis://127.0.0.1:{redis_port}/0",
                "sqlite": "sqlite:///var/sessions.sqlite3",
            }
            results = {name: measure(project, url, args.seconds, lua) for name, url in stores.items()}
        finally:
            redis.terminate()
            redis.wait()
    print_table(results)


def bench_env() -> dict[str, str]:
    return {
        "SECRET_KEY": "benchmark-" + "k" * 32,
        "DATABASE_URL": "sqlite:///var/db.sqlite3",
        "SESSION_STORE_URL": "sqlite:///var/sessions.sqlite3",
    }


def print_table(results: dict[str, dict[str, float]]) -> None:
    print("| store | GET /healthz | GET /api/visits | POST /api/visits | read / bare |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for store, row in results.items():
        ratio = row["GET /api/visits"] / row["GET /healthz"]
        cells = " | ".join(f"{row[k]:.0f}" for k in row)
        print(f"| {store} | {cells} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
