# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Delete finished background jobs (done or failed) older than --days from the jobs table.

The worker keeps every job it finished, with its error when it failed, so you can look
into them; nothing deletes them but this task. Schedule it (Heroku Scheduler, a
Kubernetes CronJob): it is idempotent, deletes in batches and never touches queued or
running jobs.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from {{ cookiecutter.project_slug }}.config import load_settings
from {{ cookiecutter.project_slug }}.db import delete_in_batches, jobs

log = logging.getLogger("admin.purge_jobs")

Days = Annotated[int, typer.Option(min=0, help="Keep jobs finished within this many days.")]
BatchSize = Annotated[int, typer.Option(min=1, help="Rows deleted per transaction.")]


def main(days: Days = 14, batch_size: BatchSize = 1000) -> None:
    cutoff = datetime.now(UTC) - timedelta(days=days)
    finished = jobs.c.status.in_(("done", "failed")) & (jobs.c.finished_at < cutoff)
    total = delete_in_batches(load_settings().database_url, jobs.c.id, finished, batch_size)
    log.info("deleted %d finished jobs older than %d days", total, days)
