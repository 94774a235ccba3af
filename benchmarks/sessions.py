"""Session overhead benchmark: requests/s of the generated service, one run, one table.

Renders the template (defaults) into a temp folder, syncs it, builds its assets, starts a
Redis server (from the machine's redis-server) and, per row, a web server with
WEB_CONCURRENCY=1, then drives it with wrk (Debian's `wrk`; 1 thread, 16 connections) on
loopback:

    GET /healthz        the bare endpoint (no session)
    GET /api/visits     the session read path (ours: one store round trip, no write)
    POST /api/visits    the session write path

Rows: our middleware on the Redis store and on the database store (SQLite), both through
the Procfile web command (`bin/python -m my_service.web`); and the peer, starsessions
(pinned below) on the same Redis, installed into a SCRATCH venv (the project's locked
dependencies + starsessions; never the project's venv) and served by the project's own
gunicorn/uvicorn setup (benchmarks/starsessions_app.py), so only the session layer differs.

The machine is shared and small, so each server is measured in --rounds rounds that
alternate the endpoints; a cell is the median of its rounds, and a ratio compares cells of
the same server measured in the same rounds.

Run from the template root:  uv run python benchmarks/sessions.py [--seconds 3] [--rounds 3]
Not a test: numbers depend on the machine. Traffic stays on 127.0.0.1, bounded in time.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[1]
# The test helpers and the hooks' modules they import (pytest's pythonpath, by hand).
sys.path[:0] = [str(TEMPLATE / "tests"), str(TEMPLATE / "hooks")]

from helpers import PROJECT_ENV, render_cookiecutter, run, sync  # noqa: E402

POST_LUA = 'wrk.method = "POST"\n'
PEER = "starsessions[redis]==2.2.1"
ENDPOINTS = ("GET /healthz", "GET /api/visits", "POST /api/visits")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


def session_cookie(base: str) -> str:
    request = urllib.request.Request(base + "/api/visits", method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.headers["set-cookie"].split(";")[0]


def wrk(url: str, seconds: int, cookie: str, lua: Path | None) -> float:
    command = ["wrk", "-t1", "-c16", f"-d{seconds}s", "-H", f"Cookie: {cookie}", url]
    if lua:
        command[1:1] = ["-s", str(lua)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    assert match, output
    return float(match[1])


def server_env(port: int, store_url: str) -> dict[str, str]:
    return {
        **PROJECT_ENV,
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "SECRET_KEY": "benchmark-" + "k" * 32,
        "DATABASE_URL": "sqlite:///var/db.sqlite3",
        "SESSION_STORE_URL": store_url,
        "SESSION_COOKIE_SECURE": "false",
        "LOG_LEVEL": "WARNING",
    }


def measure(
    project: Path, command: list[str], env: dict[str, str], args: argparse.Namespace, lua: Path
) -> dict[str, float]:
    """Median requests/s per endpoint of the server `command` starts (on env's PORT)."""
    server = subprocess.Popen(
        command, cwd=project, env=env, start_new_session=True, stdout=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{env['PORT']}"
    try:
        wait_http(base + "/healthz")
        cookie = session_cookie(base)
        rounds: dict[str, list[float]] = {name: [] for name in ENDPOINTS}
        for _ in range(args.rounds):
            rounds["GET /healthz"].append(wrk(base + "/healthz", args.seconds, cookie, None))
            rounds["GET /api/visits"].append(wrk(base + "/api/visits", args.seconds, cookie, None))
        rounds["POST /api/visits"].append(wrk(base + "/api/visits", args.seconds, cookie, lua))
        return {name: statistics.median(values) for name, values in rounds.items()}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait()


def peer_venv(project: Path, scratch: Path) -> Path:
    """A scratch venv with the project's locked dependencies plus the peer library."""
    venv = scratch / "peer-venv"
    requirements = scratch / "requirements.txt"
    exported = run(
        ["uv", "export", "--frozen", "--no-dev", "--no-emit-project", "--no-hashes"], project
    )
    requirements.write_text(exported.stdout)
    python = project / ".venv/bin/python"
    run(["uv", "venv", "--quiet", "--python", str(python.resolve()), str(venv)], project)
    run(["uv", "pip", "install", "--quiet", "-p", str(venv), "-r", str(requirements)], project)
    run(["uv", "pip", "install", "--quiet", "-p", str(venv), PEER], project)
    check = "from importlib.metadata import version as v; print(v('starlette'), v('fastapi'))"
    same = [run([str(p), "-c", check], project).stdout for p in (python, venv / "bin/python")]
    assert same[0] == same[1], f"the peer venv changed starlette/fastapi: {same}"
    return venv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3, help="per wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs per cell")
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
        venv = peer_venv(project, root)
        lua = root / "post.lua"
        lua.write_text(POST_LUA)
        redis_port = free_port()
        redis = subprocess.Popen(
            ["redis-server", "--port", str(redis_port), "--save", "", "--dir", scratch],
            stdout=subprocess.DEVNULL,
        )
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
        ours = ["bin/python", "-m", "my_service.web"]
        peer = [str(venv / "bin/python"), str(Path(__file__).with_name("starsessions_app.py"))]
        peer_env = {"PYTHONPATH": str(project / "src")}
        rows = {
            "ours, redis": (ours, redis_url, {}),
            "starsessions, redis": (peer, redis_url, peer_env),
            "ours, sqlite (database store)": (ours, "sqlite:///var/sessions.sqlite3", {}),
        }
        try:
            time.sleep(0.5)
            results = {
                name: measure(project, cmd, {**server_env(free_port(), url), **extra}, args, lua)
                for name, (cmd, url, extra) in rows.items()
            }
        finally:
            redis.terminate()
            redis.wait()
    print(f"wrk -t1 -c16, {args.seconds} s per run, median of {args.rounds} rounds (POST: 1 run)")
    print_table(results)


def bench_env() -> dict[str, str]:
    return {
        "SECRET_KEY": "benchmark-" + "k" * 32,
        "DATABASE_URL": "sqlite:///var/db.sqlite3",
        "SESSION_STORE_URL": "sqlite:///var/sessions.sqlite3",
    }


def print_table(results: dict[str, dict[str, float]]) -> None:
    print("| sessions, store | GET /healthz | GET /api/visits | POST /api/visits | read / bare |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, row in results.items():
        ratio = row["GET /api/visits"] / row["GET /healthz"]
        cells = " | ".join(f"{row[k]:.0f}" for k in ENDPOINTS)
        print(f"| {name} | {cells} | {ratio:.2f}x |")
    ours, peer = results["ours, redis"], results["starsessions, redis"]
    read = ours["GET /api/visits"] / peer["GET /api/visits"]
    write = ours["POST /api/visits"] / peer["POST /api/visits"]
    print(f"\nours / starsessions on Redis: read path {read:.2f}x, write path {write:.2f}x")


if __name__ == "__main__":
    main()
