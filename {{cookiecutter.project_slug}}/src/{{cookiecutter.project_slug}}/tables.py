"""This service's database tables: yours to edit; template updates never change this file.

Declare tables on `metadata`, the one the template's tables (db.py) and the migrations
use, e.g.

    notes = Table(
        "notes",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("text", Text, nullable=False),
    )

then write the migration: `bin/admin migrate` (the database must be at the newest
revision), `bin/admin new_migration "add notes"`, read the script it writes in
migrations/service/ and commit both.
"""

from __future__ import annotations

from .db import metadata

__all__ = ["metadata"]
