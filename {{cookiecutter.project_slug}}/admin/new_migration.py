# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Write a new migration script from your changes to the tables declared in tables.py.

Edit the tables in src/<package>/tables.py, run `bin/admin migrate` (the database must be
at the newest revision), then `bin/admin new_migration "add users table"`: alembic compares
the database with the declared tables and writes migrations/service/<number>_<message>.py
(the service's own branch; the template's migrations stay in migrations/versions/). Read it and
adjust it before committing (autogenerate misses renames, for example). For releases
that must keep working while old processes still run, split a change into expand (add)
and contract (remove later) migrations.
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from {{ cookiecutter.project_slug }}.config import load_settings
from {{ cookiecutter.project_slug }}.migrator import MigrationError, new_revision

log = logging.getLogger("admin.new_migration")

Message = Annotated[str, typer.Argument(help="What the migration does, e.g. 'add users'.")]


def main(message: Message) -> None:
    try:
        path = new_revision(load_settings().database_url, message)
    except MigrationError as error:
        log.error("%s", error)
        raise typer.Exit(1) from None
    log.info("wrote %s", path)
