"""Reading one row through the `Database` dependency, against the bare GET /healthz.

Renders the template (defaults), adds the endpoint a team would write, a `def` taking
`db: Database` that reads one row by primary key (a module of the team's, included in
routes.py), and per database (SQLite, and PostgreSQL started from the machine's binaries)
migrates it, enqueues one job (the row to read) and starts the Procfile's web command with
WEB_CONCURRENCY=1, then drives both endpoints with wrk (1 thread, 16 connections) on
loopback, in --rounds rounds that alternate the endpoints; a cell is the median of its
rounds. Any answer that is not 2xx fails the run.

Run from the template root:  uv run python benchmarks/database.py [--seconds 3] [--rounds 2]
Not a test: numbers depend on the machine; the claim is the ratio within one run.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
from pathlib import Path

import sessions
from helpers import render_cookiecutter, run, sync

ENDPOINT = '''\
"""Benchmark only: one row through the Database dependency."""

from fastapi import APIRouter
from sqlalchemy import select

from .database import Database
from .db import jobs

router = APIRouter()


@router.get("/bench/row")
def read_row(db: Database) -> dict[str, object]:
    row = db.execute(select(jobs.c.id, jobs.c.name).where(jobs.c.id == 1)).one()
    return {"id": row.id, "name": row.name}
'''
ENDPOINTS = ("/healthz", "/bench/row")
# The row to read: job 1, enqueued through the console's `transaction()`.
ONE_JOB = (
    "from my_service.job_queue import enqueue\n"
    "with transaction() as c:\n"
    "    enqueue(c, 'greet', username='row')\n"
)


def project_with_endpoint(scratch: Path) -> Path:
    project = render_cookiecutter(scratch / "render")
    (project / "src" / "my_service" / "bench_rows.py").write_text(ENDPOINT)
    routes = project / "src" / "my_service" / "routes.py"
    text = routes.read_text().replace("from . import demo\n", "from . import bench_rows, demo\n")
    routes.write_text(text + "    app.include_router(bench_rows.router)\n")
    sync(project)
    run(["bin/build"], project)
    return project


def rates(project: Path, database_url: str, args: argparse.Namespace) -> dict[str, float]:
    """Median requests/s per endpoint, the app on `database_url` (migrated, one row)."""
    env = {
        **sessions.server_env(sessions.free_port(), "sqlite:///var/sessions.sqlite3"),
        "DATABASE_URL": database_url,
    }
    run(["bin/admin", "migrate"], project, env=env)
    run(["bin/admin", "console"], project, env=env, input=ONE_JOB)
    server = subprocess.Popen(
        sessions.OURS, cwd=project, env=env, start_new_session=True, stdout=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{env['PORT']}"
    try:
        sessions.wait_http(base + "/bench/row")
        rounds: dict[str, list[float]] = {path: [] for path in ENDPOINTS}
        for _ in range(args.rounds):
            for path in ENDPOINTS:
                rate, failed = sessions.wrk(base + path, args.seconds, "none=0", None)
                assert failed == 0, f"{path}: {failed} answers were not 2xx"
                rounds[path].append(rate)
        return {path: statistics.median(values) for path, values in rounds.items()}
    finally:
        sessions.stop(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3, help="per wrk run")
    parser.add_argument("--rounds", type=int, default=2, help="alternating wrk runs per cell")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-database-") as folder:
        scratch = Path(folder)
        project = project_with_endpoint(scratch)
        rows = {"sqlite": rates(project, "sqlite:///var/bench.sqlite3", args)}
        with sessions.postgres() as url:
            rows["postgresql"] = rates(project, url, args)
    print(f"wrk: {args.seconds} s per run, median of {args.rounds} alternating rounds\n")
    print("| database | GET /healthz | GET /bench/row (one row) | row / bare |")
    print("| --- | ---: | ---: | ---: |")
    for name, row in rows.items():
        bare, one = row["/healthz"], row["/bench/row"]
        print(f"| {name} | {bare:.0f} | {one:.0f} | {one / bare:.2f}x |")


if __name__ == "__main__":
    main()
