# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Delete expired sessions from a database session store (rows past expires_at).

Redis and Memcached expire sessions by themselves; with a SQL session store, expired rows
are never served (the store checks expires_at) but stay on disk until this task runs.
Schedule it (Heroku Scheduler, a Kubernetes CronJob) as often as you like: it is
idempotent and deletes in batches, so it never holds long locks.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated

import typer

from {{ cookiecutter.project_slug }}.config import load_settings
from {{ cookiecutter.project_slug }}.db import delete_in_batches, is_sql_url, sessions

log = logging.getLogger("admin.purge_expired_sessions")

BatchSize = Annotated[int, typer.Option(min=1, help="Rows deleted per transaction.")]


def main(batch_size: BatchSize = 1000) -> None:
    url = load_settings().session_store_url
    if not is_sql_url(url):
        log.info("the session store is not a SQL database: it expires sessions itself")
        return
    expired = sessions.c.expires_at <= datetime.now(UTC)
    total = delete_in_batches(url, sessions.c.key, expired, batch_size)
    log.info("deleted %d expired sessions", total)
