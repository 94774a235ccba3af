# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Database access: SQLAlchemy engines built from DATABASE_URL-style URLs.

A backing service is attached by URL (twelve-factor IV): `sqlite:///var/db.sqlite3` for
local use with nothing installed, `postgresql://user:pass@host/db` in production. Users
write plain URLs; the driver (psycopg for PostgreSQL) is chosen here. database.py gives
endpoints, jobs and admin tasks their engine and connections.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    select,
)
from sqlalchemy.engine import URL, make_url

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Server-side sessions of the database session store.
sessions = Table(
    "sessions",
    metadata,
    # SHA-256 (hex) of the session ID: a leaked table does not leak live session IDs.
    Column("key", String(64), primary_key=True),
    Column("data", Text, nullable=False),  # JSON only, never pickle
    Column("created_at", DateTime(timezone=True), nullable=False),  # for the absolute max age
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),  # idle expiry
)

# The background job queue (src/<package>/job_queue.py). The table exists in every project, so
# turning a worker on later needs no migration. A job is claimed by setting status=running
# and a lease (locked_until), renewed while it runs; a worker that dies mid-job leaves a
# lease that runs out, and the job is claimed again: jobs must be safe to run twice.
jobs = Table(
    "jobs",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("payload", Text, nullable=False),  # JSON
    Column("status", String(16), nullable=False),  # queued, running, done, failed
    Column("attempts", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # Not claimable before: a running job's lease end, a queued job's retry time (or NULL).
    Column("locked_until", DateTime(timezone=True), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("error", Text, nullable=True),
    Index("ix_jobs_status_id", "status", "id"),
)

SCHEMES = ("sqlite", "postgresql", "postgres")  # what DATABASE_URL may name
_SYNC_DRIVERS = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}


def _with_driver(url: str, drivers: dict[str, str]) -> URL:
    parsed = make_url(url)
    backend = "postgresql" if parsed.get_backend_name() == "postgres" else parsed.get_backend_name()
    if backend not in drivers:
        raise ValueError(f"unsupported database scheme {backend!r}; use sqlite or postgresql")
    if backend == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    return parsed.set(drivername=drivers[backend])


def is_sql_url(url: str) -> bool:
    """Whether `url` names a SQL database (SESSION_STORE_URL may name Redis or Memcached)."""
    return url.partition(":")[0] in SCHEMES


def sync_url(url: str) -> URL:
    """The URL with the driver SQLAlchemy uses (psycopg for PostgreSQL)."""
    return _with_driver(url, _SYNC_DRIVERS)


def create_sync_engine(url: str) -> Engine:
    """An engine for `url`; connections are checked before use (a restarted database
    server costs no request)."""
    return create_engine(sync_url(url), pool_pre_ping=True)


def delete_in_batches(
    url: str, key: Column[Any], where: ColumnElement[bool], batch_size: int
) -> int:
    """Delete the rows of `key`'s table that match `where`, `batch_size` rows per
    transaction (each one short, so no lock is held long); the number deleted."""
    table, total = key.table, 0
    engine = create_sync_engine(url)
    try:
        while True:
            with engine.begin() as connection:
                batch = select(key).where(where).limit(batch_size).subquery()
                matched = select(batch.c[key.name])
                deleted = connection.execute(delete(table).where(key.in_(matched))).rowcount
            total += deleted
            if deleted < batch_size:
                return total
    finally:
        engine.dispose()
