# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Test-only jobs, and a worker process that runs them with a lease of the tests' choosing.

`write` takes the database: it writes a row of `written`, a test-only table the tests
create, in the job's own transaction.

The tests import this module (so `enqueue` knows the jobs) and run it as a process,
`bin/python tests/worker_jobs.py LEASE_SECONDS`: the project's worker (`worker.main`,
settings from the environment, SIGTERM handling) with a lease short enough that losing
it takes seconds.
"""

from __future__ import annotations

import os
import sys
import threading
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Column, MetaData, Table, Text, insert

from {{ cookiecutter.project_slug }} import worker
from {{ cookiecutter.project_slug }}.database import Database
from {{ cookiecutter.project_slug }}.worker import job

test_metadata = MetaData()
written = Table("test_written", test_metadata, Column("text", Text, nullable=False))


@job
def record_run(path: str, seconds: float = 0.0) -> None:
    """Appends this process's ID to `path` (a line per run), then works `seconds`."""
    with Path(path).open("a") as runs:
        runs.write(f"{os.getpid()}\n")
    # Not time.sleep: under libfaketime (the clock-skew tests) it fails with EINVAL.
    threading.Event().wait(seconds)


@job
def always_fails(path: str) -> None:
    record_run(path)
    raise RuntimeError("the mail server said no")


@job
def write(db: Database, text: str, before: float = 0.0, after: float = 0.0) -> None:
    """Waits `before` seconds, writes `text` to `written`, then keeps its transaction (on
    SQLite, the database's write lock) `after` seconds more."""
    threading.Event().wait(before)
    db.execute(insert(written).values(text=text))
    threading.Event().wait(after)
    if text == "fail":
        raise RuntimeError("failed after writing")


def runs_by(path: Path) -> list[int]:
    """The process ID of each run recorded in `path`, in order."""
    return [int(line) for line in path.read_text().split()] if path.exists() else []


if __name__ == "__main__":
    worker.main(lease=timedelta(seconds=float(sys.argv[1])))
