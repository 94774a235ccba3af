# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""The job queue's public side: `@job` registers a job, `enqueue` queues one.

The queue is the `jobs` table of DATABASE_URL (db.py), so a job enqueued inside a
transaction exists only if that transaction commits. From an endpoint, enqueue on the
request's connection: the job exists only if the request's writes do.

    @router.post("/orders")
    def place(order: Order, db: Database) -> ...:
        order_id = insert_order(db, order)
        enqueue(db, "send_receipt", order_id=order_id)

A job is a function of jobs.py registered with `@job`. Its keyword arguments, except a
parameter annotated `Database` (the worker passes the connection there), are the JSON
payload, checked when the job is enqueued: an unknown job or bad arguments raise there, in
the caller, instead of failing later in the worker. worker.py runs the jobs.
"""

from __future__ import annotations

import functools
import inspect
import json
import typing
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, insert

from .database import Database
from .db import jobs

Job = Callable[..., None]
JOBS: dict[str, Job] = {}


def job(function: Job) -> Job:
    """Register `function` as a job, under its name."""
    database_parameter(function)  # a bad signature fails at import, not in the worker
    JOBS[function.__name__] = function
    return function


@functools.cache
def database_parameter(function: Job) -> str | None:
    """The name of the job's parameter annotated `Database`, if it has one."""
    hints = typing.get_type_hints(function, include_extras=True)
    names = [name for name, hint in hints.items() if hint == Database]
    if len(names) > 1:
        raise TypeError(f"job {function.__name__!r} takes the database more than once")
    return names[0] if names else None


def now() -> datetime:
    return datetime.now(UTC)


def clock(connection: Connection) -> ColumnElement[datetime] | datetime:
    """Now, for the times the queue stores, on the clock all workers share: PostgreSQL's
    (`now()`, the start of the transaction), not the worker's own, which may be off.
    SQLite serves the processes of one machine: its clock is theirs."""
    if connection.dialect.name == "postgresql":
        return func.now()
    return now()


def check(name: str, payload: dict[str, Any]) -> str:
    """The payload as JSON, or ValueError saying why `name(**payload)` cannot run."""
    function = JOBS.get(name)
    if function is None:
        raise ValueError(f"unknown job {name!r}; known jobs: {', '.join(sorted(JOBS))}")
    database = database_parameter(function)
    if database in payload:
        raise ValueError(f"bad arguments for job {name!r}: {database!r} is the database")
    try:
        inspect.signature(function).bind(**payload, **({database: None} if database else {}))
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
        insert(jobs).values(**row, attempts=0, created_at=clock(connection)).returning(jobs.c.id)
    )
    job_id: int = result.scalar_one()
    return job_id
