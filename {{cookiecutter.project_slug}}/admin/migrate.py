# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Apply pending database migrations (idempotent; safe when two releases race).

Runs as the Procfile's `release:` line, so on every deploy and config change: when the
schema is already at the newest revision it does one query and exits 0. Migrates the
database of DATABASE_URL, and that of SESSION_STORE_URL when the session store is a
different SQL database.
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from {{ cookiecutter.project_slug }}.config import load_settings
from {{ cookiecutter.project_slug }}.db import is_sql_url
from {{ cookiecutter.project_slug }}.migrator import MigrationError, upgrade

log = logging.getLogger("admin.migrate")

LockWait = Annotated[
    float,
    typer.Option(min=0, help="Seconds to wait for a migration that is running elsewhere."),
]


def main(lock_wait: LockWait = 300.0) -> None:
    for name, url in database_urls():
        try:
            outcome = upgrade(url, lock_wait=lock_wait)
        except MigrationError as error:
            log.error("%s: %s", name, error)
            raise typer.Exit(1) from None
        before, after = ", ".join(outcome.before) or "empty", ", ".join(outcome.after)
        if outcome.changed:
            log.info("%s migrated from %s to %s", name, before, after)
        else:
            log.info("%s already at revision %s: nothing to do", name, after)


def database_urls() -> list[tuple[str, str]]:
    """The SQL databases the service uses, each once."""
    settings = load_settings()
    urls = [("DATABASE_URL", settings.database_url)]
    store = settings.session_store_url
    if is_sql_url(store) and store != urls[0][1]:
        urls.append(("SESSION_STORE_URL", store))
    return urls
