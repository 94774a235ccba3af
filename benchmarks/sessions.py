"""Session overhead: requests/s of the generated service per session store, one table.

Used by benchmarks/run.py (the one benchmark command), and runnable alone for just these
rows. Renders the template (defaults), syncs it, builds its assets, starts Redis,
Memcached and PostgreSQL from the machine's binaries and, per row, a web server with
WEB_CONCURRENCY=1, then drives it with wrk (Debian's `wrk`; 1 thread, 16 connections) on
loopback:

    GET /healthz        the bare endpoint (no session)
    GET /api/visits     the session read path (one store read, no write)
    POST /api/visits    the session write path (read, then write)

Rows: our middleware on each store (redis, memcached, postgresql, sqlite), through the
Procfile web command; and the peer, starsessions (pinned below) on the same Redis,
installed into a SCRATCH venv (the project's locked dependencies + starsessions; never the
project's venv) and served by the project's own gunicorn/uvicorn setup
(benchmarks/starsessions_app.py), so only the session layer differs.

The machine is shared and small, so each server is measured in --rounds rounds that
alternate the endpoints; a cell is the median of its rounds, and a ratio compares cells of
the same server measured in the same rounds. Any answer that is not 2xx fails the run.

Run from the template root:  uv run python benchmarks/sessions.py [--seconds 3] [--rounds 2]
Not a test: numbers depend on the machine. Traffic stays on 127.0.0.1, bounded in time.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
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
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[1]
# The test helpers and the hooks' modules they import (pytest's pythonpath, by hand).
sys.path[:0] = [str(TEMPLATE / "tests"), str(TEMPLATE / "hooks")]

from helpers import PROJECT_ENV, render_cookiecutter, run, sync  # noqa: E402

POST_LUA = 'wrk.method = "POST"\n'
OURS = ["bin/python", "-m", "my_service.web"]
PEER = "starsessions[redis]==2.2.1"
ENDPOINTS = ("GET /healthz", "GET /api/visits", "POST /api/visits")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 60, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(interval)
    raise RuntimeError(f"{url} did not answer")


def stop(server: subprocess.Popen[bytes]) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    server.wait()


def session_cookie(base: str) -> str:
    request = urllib.request.Request(base + "/api/visits", method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.headers["set-cookie"].split(";")[0]


def wrk(url: str, seconds: int, cookie: str, lua: Path | None, *flags: str) -> tuple[float, int]:
    """Requests/s, and how many answers were not 2xx/3xx."""
    command = ["wrk", *(flags or ("-t1", "-c16")), f"-d{seconds}s", "-H", f"Cookie: {cookie}", url]
    if lua:
        command[1:1] = ["-s", str(lua)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    assert match, output
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return float(match[1]), int(errors[1]) if errors else 0


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
        errors = 0
        for _ in range(args.rounds):
            for name in ENDPOINTS:
                url = base + name.split()[1]
                rate, failed = wrk(url, args.seconds, cookie, lua if name[0] == "P" else None)
                rounds[name].append(rate)
                errors += failed
        assert errors == 0, f"{command}: {errors} answers were not 2xx"
        return {name: statistics.median(values) for name, values in rounds.items()}
    finally:
        stop(server)


def writers(project: Path, store_url: str, seconds: int) -> int:
    """POST /api/visits from 32 connections on 2 workers: how many answers were not 2xx."""
    env = {**server_env(free_port(), store_url), "WEB_CONCURRENCY": "2"}
    server = subprocess.Popen(OURS, cwd=project, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{env['PORT']}"
    try:
        wait_http(base + "/healthz")
        lua = project / "var" / "post.lua"
        lua.write_text(POST_LUA)
        return wrk(base + "/api/visits", seconds, session_cookie(base), lua, "-t2", "-c32")[1]
    finally:
        stop(server)


def scale_out(project: Path, redis_url: str, args: argparse.Namespace) -> dict[str, list[float]]:
    """/healthz and the Redis session read with 1, then 2 workers (wrk -t2 -c32)."""
    rates: dict[str, list[float]] = {"GET /healthz": [], "GET /api/visits (redis)": []}
    for workers in ("1", "2"):
        env = {**server_env(free_port(), redis_url), "WEB_CONCURRENCY": workers}
        server = subprocess.Popen(OURS, cwd=project, env=env, start_new_session=True)
        base = f"http://127.0.0.1:{env['PORT']}"
        try:
            wait_http(base + "/healthz")
            cookie = session_cookie(base)
            for name, path in (
                ("GET /healthz", "/healthz"),
                ("GET /api/visits (redis)", "/api/visits"),
            ):
                rates[name].append(wrk(base + path, args.seconds, cookie, None, "-t2", "-c32")[0])
        finally:
            stop(server)
    return rates


def worker_pid(master: int) -> int:
    """The (single) worker under the gunicorn master that `master` is or started."""
    for _ in range(100):
        children = subprocess.run(
            ["pgrep", "-P", str(master)], capture_output=True, text=True
        ).stdout.split()
        if children:
            return (
                worker_pid(int(children[0])) if _is_master(int(children[0])) else int(children[0])
            )
        time.sleep(0.1)
    return master


def _is_master(pid: int) -> bool:
    return bool(subprocess.run(["pgrep", "-P", str(pid)], capture_output=True).stdout.strip())


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def wrk_requests(url: str, cookie: str, count: int) -> None:
    """`count` session reads over one keep-alive connection."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        for _ in range(count):
            connection.request("GET", parts.path, headers={"Cookie": cookie})
            response = connection.getresponse()
            response.read()
            assert response.status == 200, response.status
    finally:
        connection.close()


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    """A PostgreSQL server from the machine's binaries (as the project's tests start one)."""
    bindir = Path(
        subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip()
    )
    if not (bindir / "initdb").exists():
        bindir = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    # Not under the scratch folder: that is private to root, and the server runs as postgres.
    workdir = Path(tempfile.mkdtemp(prefix="bench-postgres-"))
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres", "postgres")
    data, port = workdir / "data", free_port()
    initdb = [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"]
    subprocess.run(
        [*as_postgres, *initdb, "--no-sync", "-E", "UTF8"], check=True, capture_output=True
    )
    options = f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -F"
    pg_ctl = [*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(workdir / "log")]
    subprocess.run([*pg_ctl, "-o", options, "-w", "start"], check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*pg_ctl, "-m", "fast", "-w", "stop"], capture_output=True)
        shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def servers(scratch: Path) -> Iterator[dict[str, str]]:
    """Redis, Memcached and PostgreSQL on free loopback ports; yields their URLs."""
    redis_port, memcached_port = free_port(), free_port()
    started = [
        subprocess.Popen(
            ["redis-server", "--port", str(redis_port), "--save", "", "--dir", str(scratch)],
            stdout=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            ["memcached", "-l", "127.0.0.1", "-p", str(memcached_port), "-U", "0"]
            + (["-u", "nobody"] if os.geteuid() == 0 else [])  # it refuses to run as root
        ),
    ]
    try:
        with postgres() as postgres_url:
            yield {
                "redis": f"redis://127.0.0.1:{redis_port}/0",
                "memcached": f"memcached://127.0.0.1:{memcached_port}",
                "postgresql": postgres_url,
                "sqlite": "sqlite:///var/sessions.sqlite3",
            }
    finally:
        for process in started:
            process.terminate()
            process.wait()


def migrate(project: Path, store_url: str) -> None:
    """The sessions table in the store's database (what `bin/admin migrate` does)."""
    env = {**PROJECT_ENV, **bench_env(), "SESSION_STORE_URL": store_url}
    run(["bin/admin", "migrate"], project, env=env)


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


def store_rows(
    project: Path, scratch: Path, urls: dict[str, str], args: argparse.Namespace
) -> dict[str, dict[str, float]]:
    """Requests/s per endpoint for our middleware on each store, and the peer on Redis."""
    venv = peer_venv(project, scratch)
    lua = scratch / "post.lua"
    lua.write_text(POST_LUA)
    peer = [str(venv / "bin/python"), str(Path(__file__).with_name("starsessions_app.py"))]
    rows: dict[str, tuple[list[str], str, dict[str, str]]] = {
        f"ours, {store}": (OURS, url, {}) for store, url in urls.items()
    }
    rows["starsessions, redis"] = (peer, urls["redis"], {"PYTHONPATH": str(project / "src")})
    return {
        name: measure(project, command, {**server_env(free_port(), url), **extra}, args, lua)
        for name, (command, url, extra) in rows.items()
    }


def main() -> None:
    """The session rows alone (benchmarks/run.py measures them with everything else)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3, help="per wrk run")
    parser.add_argument("--rounds", type=int, default=2, help="alternating runs per cell")
    parser.add_argument("--project", type=Path, help="an already rendered project to use")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing (Debian: apt-get install -y wrk); nothing was measured")
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        root = Path(scratch)
        project = args.project or render_cookiecutter(root / "out")
        sync(project)
        run(["bin/build"], project)
        run(["bin/admin", "migrate"], project, env={**PROJECT_ENV, **bench_env()})
        with servers(root) as urls:
            migrate(project, urls["postgresql"])
            results = store_rows(project, root, urls, args)
    print(f"wrk -t1 -c16, {args.seconds} s per run, median of {args.rounds} rounds")
    print_table(results)


def bench_env() -> dict[str, str]:
    return {
        "SECRET_KEY": "benchmark-" + "k" * 32,
        "DATABASE_URL": "sqlite:///var/db.sqlite3",
        "SESSION_STORE_URL": "sqlite:///var/sessions.sqlite3",
    }


def print_table(results: dict[str, dict[str, float]]) -> None:
    print(
        "| sessions, store | GET /healthz | GET /api/visits | POST /api/visits | read / bare"
        " | write / bare |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, row in results.items():
        bare = row["GET /healthz"]
        cells = " | ".join(f"{row[k]:.0f}" for k in ENDPOINTS)
        read, write = row["GET /api/visits"] / bare, row["POST /api/visits"] / bare
        print(f"| {name} | {cells} | {read:.2f}x | {write:.2f}x |")
    ours, peer = results["ours, redis"], results["starsessions, redis"]
    read = ours["GET /api/visits"] / peer["GET /api/visits"]
    write = ours["POST /api/visits"] / peer["POST /api/visits"]
    print(f"\nours / starsessions on Redis: read path {read:.2f}x, write path {write:.2f}x")


if __name__ == "__main__":
    main()
