# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Example one-off data fix: delete unusable session rows (dry run unless --apply).

A row is unusable when its data is not a JSON object (the store only ever writes JSON
objects, so it was planted or corrupted) or when it expires before it was created. The
store already refuses such rows; this removes them. It shows the shape of a safe one-off
fix: it reports what it would change by default, writes everything in ONE transaction
with --apply, deletes a row only if it is still exactly as reported (a session rewritten
meanwhile is kept), and running it again finds nothing to do.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

import typer
from sqlalchemy import Connection, and_, bindparam, delete, select

from {{ cookiecutter.project_slug }}.config import load_settings
from {{ cookiecutter.project_slug }}.db import create_sync_engine, is_sql_url, sessions

log = logging.getLogger("admin.fix_bad_records")

Apply = Annotated[bool, typer.Option("--apply", help="Write the fix (default: dry run).")]


def problem(data: str, created_at: datetime, expires_at: datetime) -> str | None:
    """Why a session row is unusable, or None when it is fine."""
    try:
        value = json.loads(data)
    except ValueError:
        return "data is not JSON"
    if not isinstance(value, dict):
        return "data is not a JSON object"
    if expires_at < created_at:
        return "expires before it was created"
    return None


def bad_rows(connection: Connection) -> Iterator[dict[str, Any]]:
    query = select(sessions).execution_options(yield_per=1000)
    for row in connection.execute(query).mappings():
        reason = problem(row["data"], row["created_at"], row["expires_at"])
        if reason:
            yield {**row, "reason": reason}


def main(apply: Apply = False) -> None:
    url = load_settings().session_store_url
    if not is_sql_url(url):
        log.info("the session store is not a SQL database: no session rows to check")
        return
    engine = create_sync_engine(url)
    try:
        with engine.begin() as connection:  # one transaction: all of the fix or none of it
            rows = list(bad_rows(connection))
            for row in rows:
                verb = "deleting" if apply else "would delete"
                log.info("%s session %s...: %s", verb, row["key"][:12], row["reason"])
            if apply and rows:
                connection.execute(unchanged_row_delete(), [_params(row) for row in rows])
    finally:
        engine.dispose()
    if apply:
        log.info("deleted %d unusable session rows", len(rows))
    else:
        log.info("dry run: %d unusable session rows; run with --apply to delete them", len(rows))


def unchanged_row_delete() -> Any:
    """DELETE of one row, only if it still holds the values that were reported."""
    columns = sessions.c
    return delete(sessions).where(
        and_(
            columns.key == bindparam("k"),
            columns.data == bindparam("d"),
            columns.expires_at == bindparam("e"),
        )
    )


def _params(row: dict[str, Any]) -> dict[str, Any]:
    return {"k": row["key"], "d": row["data"], "e": row["expires_at"]}
