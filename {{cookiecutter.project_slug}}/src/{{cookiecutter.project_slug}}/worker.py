# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""The worker process (`worker:` in the Procfile): runs background jobs from the database.

The queue is the `jobs` table of DATABASE_URL (db.py), so there is no broker to run, and a
job enqueued inside a transaction exists only if that transaction commits:

    from <package>.worker import enqueue
    with engine.begin() as connection:
        ...  # the writes the job belongs to
        enqueue(connection, "greet", username="ada")

A job is a function registered with `@job`; its keyword arguments are the JSON payload,
checked when the job is enqueued (an unknown job or bad arguments raise there, in the
caller, instead of failing later in the worker).

Any number of workers can run: on PostgreSQL each claims a job with `FOR UPDATE SKIP
LOCKED`, on SQLite (one machine) the claiming UPDATE is one atomic statement. A claim is a
lease: if a worker dies mid-job, the lease runs out and another worker runs the job again,
so jobs must be safe to run twice. A job that raises is marked `failed` with the error
(and logged with its traceback); it is not retried: enqueue it again once the cause is
fixed. On SIGTERM (or Ctrl-C) the worker finishes the job in hand, takes no new one and
exits 0.
"""

from __future__ import annotations

import inspect
import json
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any

from sqlalchemy import Connection, Engine, and_, insert, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from . import logs
from .config import load_settings
from .db import create_sync_engine, jobs

POLL_SECONDS = 1.0  # how long an idle worker waits before looking for work again
RETRY_SECONDS = 5.0  # how long it waits when the database cannot be reached
LEASE = timedelta(minutes=15)  # a job running longer than this may be claimed again

log = logging.getLogger(__name__)

Job = Callable[..., None]
JOBS: dict[str, Job] = {}


def job(function: Job) -> Job:
    """Register `function` as a job, under its name."""
    JOBS[function.__name__] = function
    return function


@job
def greet(username: str, work_seconds: float = 0.0) -> None:
    """Example job: replace it with real work (e-mails, reports, cache warming).

    `work_seconds` stands in for that work; the tests use it to show that a job in
    progress when SIGTERM arrives still finishes.
    """
    time.sleep(work_seconds)
    log.info("hello, %s", username, extra={"job": "greet"})


def now() -> datetime:
    return datetime.now(UTC)


def check(name: str, payload: dict[str, Any]) -> str:
    """The payload as JSON, or ValueError saying why `name(**payload)` cannot run."""
    function = JOBS.get(name)
    if function is None:
        raise ValueError(f"unknown job {name!r}; known jobs: {', '.join(sorted(JOBS))}")
    try:
        inspect.signature(function).bind(**payload)
    except TypeError as error:
        raise ValueError(f"bad arguments for job {name!r}: {error}") from None
    try:
        return json.dumps(payload)
    except (TypeError, ValueError) as error:
        raise ValueError(f"arguments of job {name!r} are not JSON: {error}") from None


def enqueue(connection: Connection, name: str, /, **payload: Any) -> int:
    """Queue job `name` with `payload` in the caller's transaction; returns the job ID."""
    row = {"name": name, "payload": check(name, payload), "status": "queued"}
    result = connection.execute(
        insert(jobs).values(**row, attempts=0, created_at=now()).returning(jobs.c.id)
    )
    job_id: int = result.scalar_one()
    return job_id


async def enqueue_async(connection: AsyncConnection, name: str, /, **payload: Any) -> int:
    """`enqueue` for the web process's async connections."""
    return await connection.run_sync(lambda sync: enqueue(sync, name, **payload))


@dataclass(frozen=True)
class Claimed:
    id: int
    name: str
    payload: str


def claim(connection: Connection) -> Claimed | None:
    """Take the oldest job that is queued (or whose lease ran out), or None."""
    started = now()
    claimable = or_(
        jobs.c.status == "queued",
        and_(jobs.c.status == "running", jobs.c.locked_until < started),
    )
    oldest = select(jobs.c.id).where(claimable).order_by(jobs.c.id).limit(1)
    if connection.dialect.name == "postgresql":
        oldest = oldest.with_for_update(skip_locked=True)
    statement = (
        update(jobs)
        .where(jobs.c.id == oldest.scalar_subquery())
        .values(status="running", attempts=jobs.c.attempts + 1, locked_until=started + LEASE)
        .returning(jobs.c.id, jobs.c.name, jobs.c.payload)
    )
    row = connection.execute(statement).first()
    return Claimed(row.id, row.name, row.payload) if row else None


def perform(claimed: Claimed) -> str | None:
    """Run the job; returns None on success, else the error to record."""
    try:
        payload = json.loads(claimed.payload)
        check(claimed.name, payload)
        JOBS[claimed.name](**payload)
    except Exception as error:
        log.exception("job failed", extra={"job_id": claimed.id, "job": claimed.name})
        return f"{type(error).__name__}: {error}"
    return None


def finish(connection: Connection, job_id: int, error: str | None) -> None:
    connection.execute(
        update(jobs)
        .where(jobs.c.id == job_id)
        .values(
            status="failed" if error else "done",
            error=error,
            finished_at=now(),
            locked_until=None,
        )
    )


class Worker:
    """Runs jobs one at a time until asked to stop."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.stopping = threading.Event()

    def stop(self, signum: int, _frame: FrameType | None = None) -> None:
        log.info("stopping after the current job", extra={"signal": signal.strsignal(signum)})
        self.stopping.set()

    def run(self) -> None:
        log.info("worker started", extra={"jobs": sorted(JOBS)})
        while not self.stopping.is_set():
            try:
                worked = self.run_one()
            except SQLAlchemyError as error:
                log.error("job queue unavailable: %s", type(error).__name__)
                self.stopping.wait(RETRY_SECONDS)
                continue
            if not worked:
                self.stopping.wait(POLL_SECONDS)
        log.info("worker stopped")

    def run_one(self) -> bool:
        """Claim and run one job; False when there was none."""
        with self.engine.begin() as connection:
            claimed = claim(connection)
        if claimed is None:
            return False
        log.info("job started", extra={"job_id": claimed.id, "job": claimed.name})
        error = perform(claimed)
        with self.engine.begin() as connection:
            finish(connection, claimed.id, error)
        log.info("job finished", extra={"job_id": claimed.id, "ok": error is None})
        return True


def main() -> None:
    settings = load_settings()  # exits with a clear message on bad configuration
    logs.configure(settings.log_level)
    engine = create_sync_engine(settings.database_url)
    worker = Worker(engine)
    signal.signal(signal.SIGTERM, worker.stop)
    signal.signal(signal.SIGINT, worker.stop)
    try:
        worker.run()
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
