# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Apply pending database migrations (idempotent; safe when two releases race).

Runs as the Procfile's `release:` line, so on every deploy and config change: when the
schema is already at the newest revision it does one query and exits 0. Each table goes
only to the database it belongs to, one transaction per database:

- DATABASE_URL's database gets the template's tables (`jobs`) and the service's own
  (tables.py, migrations/service/), and the `sessions` table too when SESSION_STORE_URL
  names that same database;
- the database of SESSION_STORE_URL, when it is another SQL database, gets only the
  `sessions` table. A store database that release 0.1.0 migrated also holds empty copies
  of the other tables: they stay (the guide says how to drop them) and get no new
  migrations.
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from {{ cookiecutter.project_slug }}.config import load_settings
from {{ cookiecutter.project_slug }}.migrator import MigrationError, databases, upgrade

log = logging.getLogger("admin.migrate")

LockWait = Annotated[
    float,
    typer.Option(min=0, help="Seconds to wait for a migration that is running elsewhere."),
]


def main(lock_wait: LockWait = 300.0) -> None:
    settings = load_settings()
    for database in databases(settings.database_url, settings.session_store_url):
        name = database.name
        try:
            outcome = upgrade(
                database.url,
                service_tables=database.service_tables,
                session_store=database.session_store,
                lock_wait=lock_wait,
            )
        except MigrationError as error:
            log.error("%s: %s", name, error)
            raise typer.Exit(1) from None
        before, after = ", ".join(outcome.before) or "empty", ", ".join(outcome.after)
        if outcome.changed:
            log.info("%s migrated from %s to %s", name, before, after)
        else:
            log.info("%s already at revision %s: nothing to do", name, after)
