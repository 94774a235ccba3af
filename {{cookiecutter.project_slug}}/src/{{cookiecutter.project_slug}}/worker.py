# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""The worker process (`worker:` in the Procfile): runs background jobs from the database.

Jobs are the functions of jobs.py (yours); job_queue.py registers them (`@job`) and queues
them (`enqueue`) in the `jobs` table of DATABASE_URL (db.py): no broker to run, and a job
enqueued inside a transaction exists only if that transaction commits.

Each job runs with its payload as keyword arguments, and, for a parameter annotated
`Database`, a connection in a transaction of its own from the worker's one engine
(database.py). The job's "done" is recorded in that same transaction: the job's writes
and its result commit together, or not at all (a job that raises rolls them back).

Any number of workers can run: on PostgreSQL each claims a job with `FOR UPDATE SKIP
LOCKED`, on SQLite (one machine) the claiming UPDATE is one atomic statement. A claim is a
lease (LEASE) that the worker renews while the job runs, so a long job is never claimed
by another worker; if the worker dies (or stalls past its lease), the lease runs out and
another worker runs the job again: jobs must be safe to run twice. Each claim counts an
attempt, and the attempt number fences the lease: a worker whose lease was taken over can
neither renew, hand back nor finish the job, and logs its result as discarded (a job's
database writes are rolled back with it). So a job may run twice, but its result is
recorded once, by the worker holding the lease.
Lease deadlines are read and written on the database's clock (PostgreSQL's `now()`), so
a worker whose own clock is off neither takes over a live lease nor loses its own;
SQLite runs on one machine, whose clock is the database's. On SQLite, a job's open write
transaction holds the database's one write lock: renewals wait for it (and may fail
after the driver's busy timeout, to be retried), but no other worker can take the job
over either, since a claim needs that lock too; the job then records its result in its
own transaction. Keep write transactions short all the same: every other writer (the web
process included) waits for them.

A job that raises is retried with exponential backoff (`backoff`), up to MAX_ATTEMPTS,
then marked `failed` with the error (each failure is logged with its traceback). A job
whose payload no longer fits its function fails at once: retrying cannot help.

On SIGTERM (or Ctrl-C) the worker claims nothing more and gives the job in hand
SHUTDOWN_GRACE_SECONDS to finish; past that it hands the job back (queued, the attempt
not counted) and exits 0, before the platform's SIGKILL (Heroku: 30 s; the Kubernetes
manifest allows more). While it runs it touches HEARTBEAT_FILE every second, so the
Kubernetes liveness probe restarts a worker whose loop is stuck.

Scheduling (cron-like periodic jobs), priorities and queues are not here: a team that
needs them moves to procrastinate, a maintained PostgreSQL-based job queue.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from math import inf
from pathlib import Path
from types import FrameType
from typing import Any

from sqlalchemy import Connection, Engine, and_, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from . import database, logs
from . import jobs as service_jobs  # the service's jobs (yours): importing registers them
from .config import load_settings
from .db import jobs
from .job_queue import JOBS, check, clock, database_parameter, enqueue, job

__all__ = ["JOBS", "Worker", "enqueue", "job", "main", "service_jobs"]

POLL_SECONDS = 1.0  # how long an idle worker waits before looking for work again
RETRY_SECONDS = 5.0  # how long it waits when the database cannot be reached
LEASE = timedelta(seconds=60)  # renewed every third of it while the job runs
MAX_ATTEMPTS = 5  # runs of a failing job before it is marked failed
# After SIGTERM: time for the job in hand to finish before it is handed back. Platforms
# SIGKILL 30 s after SIGTERM (Heroku) or after terminationGracePeriodSeconds (Kubernetes).
SHUTDOWN_GRACE_SECONDS = 25
# Touched every second while the worker loop runs; the liveness probe checks its age.
HEARTBEAT_FILE = Path("/tmp/{{ cookiecutter.project_slug }}-worker.alive")  # noqa: S108 - a fixed path the probe names

log = logging.getLogger(__name__)


def backoff(attempt: int) -> timedelta:
    """How long a job waits after failing its `attempt`-th run: 10 s, 20 s, 40 s, ... 1 h."""
    return timedelta(seconds=min(10 * 2 ** (attempt - 1), 3600))


class PayloadError(Exception):
    """The stored payload no longer fits the job (renamed job or changed arguments)."""


@dataclass(frozen=True)
class Claimed:
    id: int
    name: str
    payload: str
    attempt: int  # fences the lease: only this attempt may renew or finish the job


def claim(connection: Connection, lease: timedelta = LEASE) -> Claimed | None:
    """Take the oldest job that is due (queued and past any retry delay, or running with
    a lease that ran out), or None."""
    started = clock(connection)
    claimable = or_(
        and_(
            jobs.c.status == "queued",
            or_(jobs.c.locked_until.is_(None), jobs.c.locked_until <= started),
        ),
        and_(jobs.c.status == "running", jobs.c.locked_until < started),
    )
    oldest = select(jobs.c.id).where(claimable).order_by(jobs.c.id).limit(1)
    if connection.dialect.name == "postgresql":
        oldest = oldest.with_for_update(skip_locked=True)
    statement = (
        update(jobs)
        .where(jobs.c.id == oldest.scalar_subquery())
        .values(status="running", attempts=jobs.c.attempts + 1, locked_until=started + lease)
        .returning(jobs.c.id, jobs.c.name, jobs.c.payload, jobs.c.attempts)
    )
    row = connection.execute(statement).first()
    return Claimed(row.id, row.name, row.payload, row.attempts) if row else None


def _ours(claimed: Claimed) -> Any:
    """The WHERE clause that matches the job only while this attempt holds its lease."""
    return and_(
        jobs.c.id == claimed.id, jobs.c.status == "running", jobs.c.attempts == claimed.attempt
    )


def renew(connection: Connection, claimed: Claimed, lease: timedelta = LEASE) -> bool:
    """Extend the lease; False when it was lost (taken over after running out)."""
    result = connection.execute(
        update(jobs).where(_ours(claimed)).values(locked_until=clock(connection) + lease)
    )
    return result.rowcount == 1


def hand_back(connection: Connection, claimed: Claimed) -> bool:
    """Queue the job again at once, the interrupted run not counted as an attempt.
    False when the lease was lost: the job is another worker's, and stays so."""
    values = {"status": "queued", "locked_until": None, "attempts": claimed.attempt - 1}
    result = connection.execute(update(jobs).where(_ours(claimed)).values(**values))
    return result.rowcount == 1


def perform(engine: Engine, claimed: Claimed) -> bool:
    """Run the job and record it done, in one transaction: a parameter annotated
    `Database` gets its connection, so the job's writes commit with its result. Returns
    whether the result was recorded (False: the lease was lost, and the job's writes are
    rolled back); raises what the job raised (its writes rolled back), or PayloadError."""
    try:
        payload = json.loads(claimed.payload)
        check(claimed.name, payload)
    except ValueError as error:
        raise PayloadError(str(error)) from None
    function = JOBS[claimed.name]
    parameter = database_parameter(function)
    with engine.connect() as connection, connection.begin() as transaction:
        function(**payload, **({parameter: connection} if parameter else {}))
        if finish(connection, claimed, None):
            return True  # committed as the block ends; a failed commit raises
        transaction.rollback()
        return False


def outcome(claimed: Claimed, error: BaseException | None) -> str:
    """What a run that raised `error` (None: it returned) makes of the job: done, queued
    again after a backoff, or failed."""
    if error is None:
        return "done"
    if isinstance(error, PayloadError) or claimed.attempt >= MAX_ATTEMPTS:
        return "failed"
    return "queued"


def finish(connection: Connection, claimed: Claimed, error: BaseException | None) -> bool:
    """Record the run's outcome. False when the lease was lost: another worker took the
    job over and records its own outcome, so this one is discarded."""
    status, at = outcome(claimed, error), clock(connection)
    values: dict[str, Any] = {
        "status": status,
        "error": None if error is None else f"{type(error).__name__}: {error}",
    }
    if status == "queued":
        values.update(locked_until=at + backoff(claimed.attempt))
    else:
        values.update(finished_at=at, locked_until=None)
    result = connection.execute(update(jobs).where(_ours(claimed)).values(**values))
    return result.rowcount == 1


class Worker:
    """Runs jobs one at a time until asked to stop."""

    def __init__(
        self,
        engine: Engine,
        *,
        lease: timedelta = LEASE,
        grace: float = SHUTDOWN_GRACE_SECONDS,
        heartbeat: Path = HEARTBEAT_FILE,
    ) -> None:
        self.engine, self.lease, self.grace, self.heartbeat = engine, lease, grace, heartbeat
        self.stopping = threading.Event()

    def stop(self, signum: int, _frame: FrameType | None = None) -> None:
        log.info(
            "stopping: the job in hand gets %s s",
            self.grace,
            extra={"signal": signal.strsignal(signum)},
        )
        self.stopping.set()

    def run(self) -> None:
        log.info("worker started", extra={"jobs": sorted(JOBS)})
        while not self.stopping.is_set():
            self.beat()
            try:
                worked = self.run_one()
            except SQLAlchemyError as error:
                log.error("job queue unavailable: %s", type(error).__name__)
                self.stopping.wait(RETRY_SECONDS)
                continue
            if not worked:
                self.stopping.wait(POLL_SECONDS)
        log.info("worker stopped")

    def beat(self) -> None:
        try:
            self.heartbeat.touch()
        except OSError as error:  # a read-only disk must not stop the jobs
            log.warning("heartbeat file not written: %s", error)

    def run_one(self) -> bool:
        """Claim and run one job; False when there was none."""
        with self.engine.begin() as connection:
            claimed = claim(connection, self.lease)
        if claimed is None:
            return False
        if claimed.attempt > MAX_ATTEMPTS:  # its worker died (or hung) on every attempt
            self._record(claimed, RuntimeError(f"lease ran out {MAX_ATTEMPTS} times"))
            return True
        log.info("job started", extra=self._about(claimed))
        result = self._supervise(claimed)
        if result is None:
            self._hand_back(claimed)
        elif isinstance(result, BaseException):
            self._record(claimed, result)
        else:  # it returned, and `perform` recorded it (or found the lease lost)
            self._report(claimed, None, recorded=result)
        return True

    def _record(self, claimed: Claimed, error: BaseException) -> None:
        with self.engine.begin() as connection:
            recorded = finish(connection, claimed, error)
        self._report(claimed, error, recorded=recorded)

    def _report(self, claimed: Claimed, error: BaseException | None, *, recorded: bool) -> None:
        about = {**self._about(claimed), "result": outcome(claimed, error)}
        if recorded:
            level = logging.ERROR if about["result"] == "failed" else logging.INFO
            log.log(level, "job finished", extra={**about, "status": about["result"]})
        else:  # it ran past its lease and another worker took it over
            log.error("job result discarded: lease lost, another worker runs the job", extra=about)

    def _hand_back(self, claimed: Claimed) -> None:
        with self.engine.begin() as connection:
            handed_back = hand_back(connection, claimed)
        if handed_back:
            message = "job handed back: it outlasted the shutdown grace"
        else:
            message = "job not handed back: lease lost, another worker runs the job"
        log.warning(message, extra=self._about(claimed))

    def _supervise(self, claimed: Claimed) -> bool | BaseException | None:
        """Run the job in a thread while this one renews the lease, beats, and watches
        for SIGTERM. Returns what `perform` returned (whether the result was recorded),
        what the job raised, or None when the shutdown grace ran out first."""
        outcome: list[bool | BaseException] = []

        def target() -> None:
            try:
                outcome.append(perform(self.engine, claimed))
            except Exception as error:
                log.exception("job raised", extra=self._about(claimed))
                outcome.append(error)

        # A daemon: a job handed back at shutdown must not keep the process alive.
        runner = threading.Thread(target=target, name=f"job-{claimed.id}", daemon=True)
        runner.start()
        renew_every = self.lease.total_seconds() / 3
        next_renewal = time.monotonic() + renew_every
        deadline: float | None = None
        while runner.is_alive():
            runner.join(timeout=min(1.0, renew_every))
            self.beat()
            if self.stopping.is_set() and deadline is None:
                deadline = time.monotonic() + self.grace
            if runner.is_alive() and deadline is not None and time.monotonic() >= deadline:
                return None
            if runner.is_alive() and time.monotonic() >= next_renewal:
                # Once lost, a lease stays lost: no more renewals, nor their log lines.
                renewed = self._renew(claimed, runner)
                next_renewal = time.monotonic() + renew_every if renewed else inf
        return outcome[0] if outcome else RuntimeError("the job thread ended abnormally")

    def _renew(self, claimed: Claimed, runner: threading.Thread) -> bool:
        """Renew the lease; False once it is lost (a database error is retried)."""
        try:
            with self.engine.begin() as connection:
                renewed = renew(connection, claimed, self.lease)
        except SQLAlchemyError as error:  # the lease may run out: it will be retried
            log.error("job lease not renewed: %s", type(error).__name__, extra=self._about(claimed))
            return True
        # A job that finished while the renewal waited (on SQLite, for its commit) has
        # ended its lease itself: nothing was lost.
        if not renewed and runner.is_alive():
            log.error("job lease lost: another worker may run it", extra=self._about(claimed))
        return renewed

    @staticmethod
    def _about(claimed: Claimed) -> dict[str, Any]:
        return {"job_id": claimed.id, "job": claimed.name, "attempt": claimed.attempt}


def main(lease: timedelta = LEASE) -> None:
    settings = load_settings()  # exits with a clear message on bad configuration
    logs.configure(settings.log_level)
    worker = Worker(database.engine(), lease=lease)  # disposed as the process exits
    signal.signal(signal.SIGTERM, worker.stop)
    signal.signal(signal.SIGINT, worker.stop)
    worker.run()


if __name__ == "__main__":
    main()
