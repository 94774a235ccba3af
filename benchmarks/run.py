"""Everything a user of the template waits on, measured in one run: one table, one JSON file.

    uv run python benchmarks/run.py [--seconds 3] [--rounds 2] [--json PATH]

Run from the template root. Renders the default project, then measures, on this machine:

- generation: cookiecutter and copier, wall clock of one render each;
- fresh clone to first 200: `git clone` of the generated project, `bin/setup`, the
  Procfile's web command, until GET /healthz answers 200;
- web cold start to first 200 (bytecode compiled by bin/setup), `bin/admin --help`, and
  `bin/admin migrate` when the database is already at head;
- session read (GET /api/visits with a cookie) and write (POST) against the bare GET
  /healthz, per store: Redis, Memcached, PostgreSQL, SQLite, and the peer starsessions on
  Redis (see sessions.py), with wrk (1 thread, 16 connections, WEB_CONCURRENCY=1);
- 32 concurrent writers on 2 workers (wrk -t2 -c32) per database store: non-2xx answers;
- scale-out: /healthz and the Redis session read with 1 and then 2 workers;
- RSS growth of a worker over 10,000 session requests (Redis store);
- CPU per GETEX of the Redis clients: ours, redis-py, redis-py's cluster client
  (redis_clients.py).

Servers (Redis, Memcached, PostgreSQL) are started from the machine's binaries on free
loopback ports. wrk is Debian's `wrk` package (apt-get install -y wrk). Not a test:
numbers depend on the machine; the claims are ratios within one run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import redis_clients
import sessions
from helpers import PROJECT_ENV, render_cookiecutter, render_copier, run, sync

PACKAGE = "my_service"
WEB = ["bin/python", "-m", f"{PACKAGE}.web"]


def seconds_of(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def generation(scratch: Path) -> dict[str, float]:
    return {
        "cookiecutter": seconds_of(lambda: render_cookiecutter(scratch / "gen-cc")),
        "copier": seconds_of(lambda: render_copier(scratch / "gen-copier" / PACKAGE)),
    }


def first_200(project: Path, env: dict[str, str]) -> float:
    """Seconds from starting the web command to the first 200 from /healthz."""
    start = time.perf_counter()
    server = subprocess.Popen(
        WEB,
        cwd=project,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        sessions.wait_http(f"http://127.0.0.1:{env['PORT']}/healthz", interval=0.01)
        return time.perf_counter() - start
    finally:
        sessions.stop(server)


def fresh_clone(project: Path, scratch: Path) -> float:
    """git clone + bin/setup + web start, until the first 200."""
    run(["git", "init", "-q"], project)
    run(["git", "add", "-A"], project)
    run(["git", "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "b"], project)
    clone = scratch / "clone"
    env = {**sessions.server_env(sessions.free_port(), "sqlite:///var/sessions.sqlite3")}
    for name in ("SECRET_KEY", "DATABASE_URL", "SESSION_STORE_URL"):
        env.pop(name)  # from the .env bin/setup writes, as a developer would have them
    start = time.perf_counter()
    run(["git", "clone", "-q", str(project), str(clone)], scratch)
    run(["bin/setup"], clone, env=PROJECT_ENV)
    return time.perf_counter() - start + first_200(clone, env)


def startup(project: Path, env: dict[str, str]) -> dict[str, float]:
    admin_env = {**PROJECT_ENV, **sessions.bench_env()}
    return {
        "web cold start": first_200(project, {**env, "PORT": str(sessions.free_port())}),
        "bin/admin --help": seconds_of(lambda: run(["bin/admin", "--help"], project)),
        "bin/admin migrate (at head)": seconds_of(
            lambda: run(["bin/admin", "migrate"], project, env=admin_env)
        ),
    }


def rss_growth(project: Path, url: str, requests: int = 10_000) -> float:
    """KB a worker's RSS grew over `requests` session reads (after a warm-up)."""
    env = sessions.server_env(sessions.free_port(), url)
    server = subprocess.Popen(WEB, cwd=project, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{env['PORT']}"
    try:
        sessions.wait_http(base + "/healthz")
        cookie = sessions.session_cookie(base)
        worker = sessions.worker_pid(server.pid)
        sessions.wrk_requests(base + "/api/visits", cookie, 2_000)  # warm-up
        before = sessions.rss_kb(worker)
        sessions.wrk_requests(base + "/api/visits", cookie, requests)
        return sessions.rss_kb(worker) - before
    finally:
        sessions.stop(server)


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{os.cpu_count()} cores, {cpu}, {platform.system()} {platform.release()}; load {load}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3, help="per wrk run")
    parser.add_argument("--rounds", type=int, default=2, help="alternating wrk runs per cell")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results.json"))
    args = parser.parse_args()
    for tool in ("wrk", "redis-server", "memcached", "git"):
        if shutil.which(tool) is None:
            hint = " (Debian: apt-get install -y wrk)" if tool == "wrk" else ""
            sys.exit(f"benchmarks/run.py: {tool} is missing{hint}; nothing was measured")
    results: dict[str, object] = {"date": datetime.now(UTC).isoformat(timespec="minutes")}
    results["machine"] = machine()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        scratch = Path(tmp)
        results["generation s"] = generation(scratch)
        project = render_cookiecutter(scratch / "out")
        sync(project)
        run(["bin/build"], project)
        results["fresh clone to first 200 s"] = fresh_clone(project, scratch)
        # bin/setup compiles bytecode; the rendered project is synced the same way.
        run(["uv", "sync", "--locked", "--quiet", "--compile-bytecode"], project, env=PROJECT_ENV)
        run(["bin/admin", "migrate"], project, env={**PROJECT_ENV, **sessions.bench_env()})
        env = sessions.server_env(sessions.free_port(), "sqlite:///var/sessions.sqlite3")
        results["startup s"] = startup(project, env)
        with sessions.servers(scratch) as urls:
            sessions.migrate(project, urls["postgresql"])
            results["sessions req/s"] = sessions.store_rows(project, scratch, urls, args)
            results["32 writers, 2 workers"] = {
                store: sessions.writers(project, urls[store], args.seconds)
                for store in ("postgresql", "sqlite")
            }
            results["scale-out req/s"] = sessions.scale_out(project, urls["redis"], args)
            results["RSS growth KB over 10,000 session reads"] = rss_growth(project, urls["redis"])
        results["redis client CPU us per GETEX"] = redis_clients.measure(project)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print_table(results, args)
    print(f"\n(JSON: {args.json})")


def print_table(results: dict[str, object], args: argparse.Namespace) -> None:
    print(f"{results['date']} UTC; {results['machine']}")
    print(f"wrk: {args.seconds} s per run, median of {args.rounds} alternating rounds\n")
    print("| measure | value |")
    print("| --- | ---: |")
    for engine, seconds in results["generation s"].items():  # type: ignore[attr-defined]
        print(f"| generation, {engine} | {seconds:.2f} s |")
    print(
        f"| fresh clone to first 200 (git clone, bin/setup, web) | "
        f"{results['fresh clone to first 200 s']:.1f} s |"
    )
    for name, seconds in results["startup s"].items():  # type: ignore[attr-defined]
        print(f"| {name}{' to first 200' if name == 'web cold start' else ''} | {seconds:.2f} s |")
    for store, failures in results["32 writers, 2 workers"].items():  # type: ignore[attr-defined]
        print(f"| {store}: POST with 32 writers, 2 workers | {failures} |")
    scale = results["scale-out req/s"]
    for name, (one, two) in scale.items():  # type: ignore[attr-defined]
        print(f"| scale-out 1 -> 2 workers, {name} | {two / one:.2f}x ({one:.0f} -> {two:.0f}/s) |")
    print(
        f"| RSS growth over 10,000 session reads | "
        f"{results['RSS growth KB over 10,000 session reads']:.0f} KB |"
    )
    print()
    sessions.print_table(results["sessions req/s"])  # type: ignore[arg-type]
    print()
    redis_clients.print_table(results["redis client CPU us per GETEX"])  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
