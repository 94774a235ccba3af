"""This service's background jobs: yours to edit; template updates never change this file.

A job is a function registered with `@job`. Enqueue it by name, in a transaction of yours,
e.g. from an endpoint on the request's connection: `enqueue(db, "greet", username="ada")`
(job_queue.py); the worker process (`worker:` in the Procfile) runs it. Its keyword
arguments are the JSON payload, checked when it is enqueued. A parameter annotated
`Database` gets a connection in a transaction of the job's own, from the worker's engine:
committed with the job's "done" when the job returns, rolled back when it raises, e.g.

    @job
    def send_receipt(db: Database, order_id: int) -> None:
        order = db.execute(select(orders).where(orders.c.id == order_id)).one()
        ...

A job may run twice (a worker that dies mid-job leaves it to another): make it safe to
repeat. One that raises is retried with backoff; docs/guide.md says more.
"""

from __future__ import annotations

import logging
import time

from .database import Database
from .job_queue import job

__all__ = ["Database", "greet", "job"]

log = logging.getLogger(__name__)


@job
def greet(username: str, work_seconds: float = 0.0) -> None:
    """Example job: replace it with real work (e-mails, reports, cache warming).

    `work_seconds` stands in for that work; the tests use it to show that a job in
    progress when SIGTERM arrives still finishes.
    """
    time.sleep(work_seconds)
    log.info("hello, %s", username, extra={"job": "greet"})
