# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Schema migrations: alembic, configured from code, safe when two releases race.

`bin/admin migrate` (the Procfile's `release:` line) calls `upgrade()` for each database of
`databases()`. Heroku reruns the release phase on every config change, and several releases
(or Kubernetes Jobs) can start at once, so an upgrade:

- takes a lock first, with a bounded wait: on PostgreSQL a session advisory lock (held by
  the database, so it works across machines and is released if the process dies); on
  SQLite `BEGIN IMMEDIATE`, the database file's own write lock (SQLite is a single-machine
  database anyway, so no lock file is needed);
- then re-reads the current revision: the loser of a race finds the schema at head and
  does nothing (a cheap no-op, one query);
- runs every pending migration in ONE transaction (PostgreSQL and SQLite both have
  transactional DDL), with `lock_timeout` on PostgreSQL so DDL waiting behind live
  traffic fails fast instead of queueing every request behind it.

The migration scripts live in the project's migrations/ folder, next to src/: the project
runs from its checkout (bin/python, editable install), like every process type. They form
three branches, so each table goes only to the database it belongs to:

- `sessions` (migrations/versions/): the session store's table, for the database of
  SESSION_STORE_URL when that is a SQL database;
- `app` (migrations/versions/): the template's other tables (db.py), for DATABASE_URL's;
- `service` (migrations/service/): the service's own tables (tables.py), for DATABASE_URL's.

The template's scripts are numbered 0001, 0002, ... across its two branches, the service's
service_0001, ...: a template release and the service can each add a migration without the
two ever claiming the same number. When the session store is DATABASE_URL's database, that
database gets all three branches, in one transaction.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from .db import is_sql_url, sync_url

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
SESSIONS_BRANCH = "sessions"  # label of the session store's migrations
SERVICE_BRANCH = "service"  # label and folder of the service's own migrations
# The tables the template's branches create: the service's migrations never touch them
# (autogenerate leaves them out; the sessions table is not in every database).
TEMPLATE_TABLES = frozenset({"sessions", "jobs"})
# Key of the PostgreSQL advisory lock (any constant bigint; advisory locks are per database).
LOCK_KEY = 7_346_823_119_452_001
DDL_LOCK_TIMEOUT = "5s"  # how long one DDL statement may wait for a table lock
POLL_SECONDS = 0.5

log = logging.getLogger(__name__)


def _only_progress(record: logging.LogRecord) -> bool:
    """Keep alembic's "Running upgrade a -> b" lines; drop its chatter about the dialect."""
    return record.levelno > logging.INFO or record.getMessage().startswith("Running ")


logging.getLogger("alembic.runtime.migration").addFilter(_only_progress)
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


class MigrationError(Exception):
    """A migration could not run; the message says why (never a URL or password)."""


@dataclass(frozen=True)
class Database:
    """A database `bin/admin migrate` upgrades, and which branches it holds."""

    name: str  # the variable that names it, for the log
    url: str
    service_tables: bool  # the `app` and `service` branches: DATABASE_URL's database
    session_store: bool  # the `sessions` branch: the session store's database


def databases(database_url: str, session_store_url: str) -> list[Database]:
    """The SQL databases of a configuration, each once: DATABASE_URL's, with the session
    store's table too when SESSION_STORE_URL names that same database, and the session
    store's own when it is another SQL database (Redis and Memcached need no migrations)."""
    store_in_sql = is_sql_url(session_store_url)
    shared = store_in_sql and sync_url(session_store_url) == sync_url(database_url)
    found = [Database("DATABASE_URL", database_url, service_tables=True, session_store=shared)]
    if store_in_sql and not shared:
        store = "SESSION_STORE_URL", session_store_url
        found.append(Database(*store, service_tables=False, session_store=True))
    return found


@dataclass(frozen=True)
class Outcome:
    before: tuple[str, ...]  # revisions before the upgrade
    after: tuple[str, ...]  # revisions after it (the heads)

    @property
    def changed(self) -> bool:
        return self.before != self.after


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration, built in code: no alembic.ini to keep in sync."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    locations = (MIGRATIONS / "versions", MIGRATIONS / SERVICE_BRANCH)
    config.set_main_option("version_locations", os.pathsep.join(map(str, locations)))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.attributes["connection"] = connection
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent))
    if ruff:  # a dev install: format new migration scripts like the rest of the code
        config.set_section_option("post_write_hooks", "hooks", "ruff")
        config.set_section_option("post_write_hooks", "ruff.type", "exec")
        config.set_section_option("post_write_hooks", "ruff.executable", ruff)
        options = "format --quiet REVISION_SCRIPT_FILENAME"
        config.set_section_option("post_write_hooks", "ruff.options", options)
    return config


def head_revisions(*, service_tables: bool = True, session_store: bool = True) -> tuple[str, ...]:
    """The newest revisions of the branches a database holds (by default all of them).

    A head outside the `sessions` branch belongs to DATABASE_URL's database, whatever its
    label: the template's `app` branch, the service's, or one a team started by hand."""
    scripts = ScriptDirectory.from_config(alembic_config())
    heads = []
    for head in scripts.get_heads():
        revision = scripts.get_revision(head)
        in_sessions = revision is not None and SESSIONS_BRANCH in revision.branch_labels
        if session_store if in_sessions else service_tables:
            heads.append(head)
    return tuple(sorted(heads))


def current_revisions(connection: Connection) -> tuple[str, ...]:
    return tuple(sorted(MigrationContext.configure(connection).get_current_heads()))


def migration_engine(url: str, lock_wait: float) -> Engine:
    """An engine of one unpooled connection whose transactions take the write lock."""
    sqlite = sync_url(url).get_backend_name() == "sqlite"
    connect_args: dict[str, Any] = {"timeout": lock_wait} if sqlite else {"connect_timeout": 10}
    engine = create_engine(sync_url(url), poolclass=NullPool, connect_args=connect_args)
    if sqlite:
        _begin_immediate(engine)
    return engine


def _begin_immediate(engine: Engine) -> None:
    """SQLite: BEGIN IMMEDIATE takes the file's write lock up front (waiting up to the
    driver's busy timeout), so two migrators cannot both read "not at head"."""

    @event.listens_for(engine, "connect")
    def _no_implicit_begin(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver must not BEGIN on its own

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


@contextmanager
def advisory_lock(connection: Connection, wait: float) -> Iterator[None]:
    """PostgreSQL: hold the migration lock; give up after `wait` seconds."""
    deadline = time.monotonic() + wait
    while not connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": LOCK_KEY}):
        connection.rollback()
        if time.monotonic() >= deadline:
            raise MigrationError(f"another migration still holds the lock after {wait:g}s")
        log.info("waiting for another migration to finish")
        time.sleep(POLL_SECONDS)
    connection.commit()
    try:
        yield
    finally:
        with suppress(SQLAlchemyError):  # closing the connection releases it anyway
            connection.rollback()
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})
            connection.commit()


@contextmanager
def migration_lock(connection: Connection, wait: float) -> Iterator[None]:
    if connection.dialect.name == "postgresql":
        with advisory_lock(connection, wait):
            yield
    else:
        yield  # SQLite: the BEGIN IMMEDIATE of the migration transaction is the lock


def upgrade(
    url: str,
    *,
    service_tables: bool = True,
    session_store: bool = True,
    lock_wait: float = 300.0,
) -> Outcome:
    """Bring the database at `url` to the newest revision of the branches it holds; a no-op
    when it is there. By default every branch: DATABASE_URL's database with the session
    store on it (`databases()` says what each database of a configuration holds).

    A branch the database does not hold is left as it is: a session store's database that
    release 0.1.0 migrated keeps its (empty) `jobs` table and service tables and their
    revisions in alembic's version table, and gets no new ones."""
    heads = head_revisions(service_tables=service_tables, session_store=session_store)
    engine = migration_engine(url, lock_wait)
    try:
        with (
            engine.connect() as connection,
            migration_lock(connection, lock_wait),
            connection.begin(),  # SQLite: BEGIN IMMEDIATE, the lock
        ):
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{DDL_LOCK_TIMEOUT}'")
            before = current_revisions(connection)
            for head in heads:  # one branch at a time; alembic skips what is applied
                if head not in before:
                    command.upgrade(alembic_config(connection), head)
            after = current_revisions(connection)
    except SQLAlchemyError as error:
        # The driver's message names what failed (lock timeout, refused connection...);
        # str(error) would add the SQL and parameters, so keep the first line only.
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise MigrationError(f"migration failed: {reason}") from error
    finally:
        engine.dispose()
    return Outcome(before, after)


def _service_revision_options() -> dict[str, Any]:
    """Where the next migration of the service's branch goes: its number and parent. The
    first one starts the branch from the base, beside the template's; give a migration
    `depends_on = "0002"` (say) when it needs a template table to exist first."""
    scripts = ScriptDirectory.from_config(alembic_config())
    prefix = f"{SERVICE_BRANCH}_"
    numbers = [
        int(script.revision.removeprefix(prefix))
        for script in scripts.walk_revisions()
        if script.revision.startswith(prefix) and script.revision.removeprefix(prefix).isdigit()
    ]
    options: dict[str, Any] = {
        "rev_id": f"{prefix}{max(numbers, default=0) + 1:04d}",
        "version_path": str(MIGRATIONS / SERVICE_BRANCH),
    }
    if numbers:
        return options | {"head": f"{SERVICE_BRANCH}@head"}
    return options | {"head": "base", "branch_label": SERVICE_BRANCH}


def new_revision(url: str, message: str) -> Path:
    """Write the service's next migration script (migrations/service/), autogenerated by
    comparing DATABASE_URL's database (at head) with the declared tables; returns its path.

    Alembic's autogenerate insists that the database records every head, but the session
    store's branch may live in another database: its missing heads are stamped for the
    comparison only, in a transaction that is rolled back (the template's tables are left
    out of the comparison anyway, see TEMPLATE_TABLES). The database is left unchanged."""
    needed = head_revisions(session_store=False)
    engine = migration_engine(url, lock_wait=10)
    try:
        with engine.connect() as connection:
            transaction = connection.begin()
            try:
                current = current_revisions(connection)
                if not set(needed) <= set(current):
                    raise MigrationError(
                        "the database is not at head: run `bin/admin migrate` first"
                    )
                config = alembic_config(connection)
                missing = sorted(set(head_revisions()) - set(current))
                if missing:
                    command.stamp(config, missing)
                (MIGRATIONS / SERVICE_BRANCH).mkdir(exist_ok=True)
                script = command.revision(
                    config, message, autogenerate=True, **_service_revision_options()
                )
            finally:
                transaction.rollback()
    finally:
        engine.dispose()
    if script is None or isinstance(script, list):
        raise MigrationError("alembic wrote no single revision")
    return Path(script.path)
