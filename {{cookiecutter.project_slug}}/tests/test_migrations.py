# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""`bin/admin migrate` against real SQLite and PostgreSQL databases: it applies the
schema, a rerun is a no-op, racing releases apply it once, the migrations build exactly
the tables that db.py and tables.py declare, each table only in the database it belongs
to (a separate session store's holds the sessions table alone), and databases that
release 0.1.0 migrated upgrade with no manual step."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    inspect,
    select,
)

from {{ cookiecutter.project_slug }} import migrator
from {{ cookiecutter.project_slug }}.db import create_sync_engine
from {{ cookiecutter.project_slug }}.migrator import LOCK_KEY, head_revisions
from {{ cookiecutter.project_slug }}.tables import metadata

from helpers import ROOT, process_env
from servers import throwaway_database

ADMIN = ROOT / "bin" / "admin"


def migrate(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ADMIN), "migrate", *args],
        env=process_env(database_url),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def revisions(database_url: str) -> set[str]:
    engine = create_sync_engine(database_url)
    try:
        with engine.connect() as connection:
            return set(MigrationContext.configure(connection).get_current_heads())
    finally:
        engine.dispose()


def table_names(database_url: str) -> set[str]:
    engine = create_sync_engine(database_url)
    try:
        with engine.connect() as connection:
            return set(inspect(connection).get_table_names())
    finally:
        engine.dispose()


def row_count(database_url: str, table: str) -> int:
    engine = create_sync_engine(database_url)
    try:
        with engine.connect() as connection:
            counted = select(func.count()).select_from(Table(table, MetaData()))
            count: int = connection.execute(counted).scalar_one()
            return count
    finally:
        engine.dispose()


@pytest.fixture
def store_database_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """Another fresh, empty database of `database_url`'s kind: a separate session store."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'sessions.sqlite3'}"
        return
    with throwaway_database(database_url) as url:
        yield url


@pytest.fixture
def own_migrations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of migrations/ with an empty service branch, used in place of the project's
    own, so a test can add the service's migrations and leave the project's alone."""
    migrations = shutil.copytree(migrator.MIGRATIONS, tmp_path / "migrations")
    shutil.rmtree(migrations / "service", ignore_errors=True)
    (migrations / "service").mkdir()
    monkeypatch.setattr(migrator, "MIGRATIONS", migrations)
    return migrations


def migrate_in_process(database_url: str, session_store_url: str) -> list[migrator.Outcome]:
    """What `bin/admin migrate` does, in this process (so `own_migrations` applies)."""
    return [
        migrator.upgrade(
            database.url,
            service_tables=database.service_tables,
            session_store=database.session_store,
        )
        for database in migrator.databases(database_url, session_store_url)
    ]


def test_migrate_applies_the_schema_and_a_rerun_is_a_no_op(database_url: str) -> None:
    first = migrate(database_url)
    assert first.returncode == 0, first.stderr
    assert "migrated from empty to" in first.stdout
    assert revisions(database_url) == set(head_revisions())

    second = migrate(database_url)
    assert second.returncode == 0, second.stderr
    assert "nothing to do" in second.stdout
    assert "Running upgrade" not in second.stdout


def test_migrations_build_exactly_the_declared_tables(database_url: str) -> None:
    assert migrate(database_url).returncode == 0
    engine = create_sync_engine(database_url)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), metadata)
            tables = set(inspect(connection).get_table_names())
    finally:
        engine.dispose()
    assert differences == []
    assert {"sessions", "jobs", "alembic_version"} <= tables


def test_a_separate_session_store_gets_only_the_session_tables(
    database_url: str, store_database_url: str
) -> None:
    env = process_env(database_url, SESSION_STORE_URL=store_database_url)
    result = subprocess.run(
        [str(ADMIN), "migrate"], env=env, capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "DATABASE_URL migrated from empty to" in result.stdout
    assert "SESSION_STORE_URL migrated from empty to" in result.stdout

    assert table_names(store_database_url) == {"sessions", "alembic_version"}
    assert revisions(store_database_url) == set(head_revisions(service_tables=False))
    # DATABASE_URL's: every declared table but the session store's (jobs and the service's).
    assert table_names(database_url) == set(metadata.tables) - {"sessions"} | {"alembic_version"}
    assert revisions(database_url) == set(head_revisions(session_store=False))

    again = subprocess.run(
        [str(ADMIN), "migrate"], env=env, capture_output=True, text=True, check=False, timeout=120
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.count("nothing to do") == 2


def test_the_same_database_written_two_ways_is_migrated_once(
    postgres_database_url: str,
) -> None:
    other_spelling = postgres_database_url.replace("postgresql://", "postgres://", 1)
    [database] = migrator.databases(postgres_database_url, other_spelling)
    assert (database.service_tables, database.session_store) == (True, True)
    assert migrator.databases(postgres_database_url, "redis://localhost:6379/0") == [
        migrator.Database("DATABASE_URL", postgres_database_url, True, False)
    ]


def test_the_services_migrations_go_only_to_database_urls_database(
    own_migrations: Path, database_url: str, store_database_url: str
) -> None:
    migrate_in_process(database_url, store_database_url)
    # A name of the tests' own: the team's tables are in `metadata` too.
    orders = Table("test_orders", metadata, Column("id", Integer, primary_key=True))
    try:
        before = revisions(database_url)
        # The default configuration: DATABASE_URL's database has no sessions table.
        script = migrator.new_revision(database_url, "add test_orders")
        assert revisions(database_url) == before  # new_migration changes no database
        assert '"sessions"' not in script.read_text()  # nor writes the template's tables
        assert '"jobs"' not in script.read_text()
        migrate_in_process(database_url, store_database_url)
    finally:
        metadata.remove(orders)
    assert script.parent == own_migrations / "service"
    assert "test_orders" in table_names(database_url)
    assert table_names(store_database_url) == {"sessions", "alembic_version"}
    assert "service_0001" in head_revisions()
    assert revisions(database_url) == set(head_revisions(session_store=False))
    assert revisions(store_database_url) == set(head_revisions(service_tables=False))


# The tables release 0.1.0 created on every database (its 0001 and 0002, one linear
# history), frozen here as they were, whatever db.py declares today.
RELEASE_0_1_0 = MetaData()
Table(
    "sessions",
    RELEASE_0_1_0,
    Column("key", String(64), primary_key=True),
    Column("data", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
)
Table(
    "jobs",
    RELEASE_0_1_0,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("payload", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("locked_until", DateTime(timezone=True), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("error", Text, nullable=True),
    Index("ix_jobs_status_id", "status", "id"),
)
Table("orders", RELEASE_0_1_0, Column("id", Integer, primary_key=True))  # the team's
Table(
    "alembic_version",
    RELEASE_0_1_0,
    Column("version_num", String(32), primary_key=True),
)

SERVICE_MIGRATION = """
import sqlalchemy as sa
from alembic import op

revision = "service_{number}"
down_revision = {parent!r}
branch_labels = {labels!r}
depends_on = None


def upgrade() -> None:
    op.create_table("{table}", sa.Column("id", sa.Integer(), primary_key=True))
"""


def deployed_at_release_0_1_0(database_url: str) -> None:
    """A database as 0.1.0's `bin/admin migrate` left it: its tables, the team's `orders`
    (migration service_0001), and alembic's version table at 0002 and service_0001."""
    engine = create_sync_engine(database_url)
    try:
        with engine.begin() as connection:
            RELEASE_0_1_0.create_all(connection)
            version = RELEASE_0_1_0.tables["alembic_version"]
            connection.execute(
                insert(version), [{"version_num": "0002"}, {"version_num": "service_0001"}]
            )
    finally:
        engine.dispose()


def add_row(database_url: str, table: str, row: dict[str, object]) -> None:
    engine = create_sync_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(insert(RELEASE_0_1_0.tables[table]), [row])
    finally:
        engine.dispose()


@pytest.mark.parametrize("store", ["separate", "same"])
def test_databases_release_0_1_0_migrated_upgrade_with_no_manual_step(
    own_migrations: Path, database_url: str, store_database_url: str, store: str
) -> None:
    service = own_migrations / "service"
    first = SERVICE_MIGRATION.format(
        number="0001", parent=None, labels=("service",), table="orders"
    )
    (service / "service_0001_add_orders.py").write_text(first)
    session_store_url = store_database_url if store == "separate" else database_url
    for url in {database_url, session_store_url}:
        deployed_at_release_0_1_0(url)
    add_row(database_url, "orders", {"id": 7})  # the team's data
    now = datetime.now(UTC)
    session = {"key": "k" * 64, "data": "{}", "created_at": now, "expires_at": now}
    add_row(session_store_url, "sessions", session)
    # The team's next migration, written after the update to this release.
    second = SERVICE_MIGRATION.format(
        number="0002", parent="service_0001", labels=None, table="refunds"
    )
    (service / "service_0002_add_refunds.py").write_text(second)

    outcomes = migrate_in_process(database_url, session_store_url)

    assert all(outcome.changed for outcome in outcomes)
    assert "refunds" in table_names(database_url)
    assert row_count(database_url, "orders") == 1  # nothing of the team's is dropped
    assert row_count(session_store_url, "sessions") == 1  # nor a live session
    assert "service_0002" in head_revisions()
    if store == "same":
        assert revisions(database_url) == set(head_revisions())
    else:
        assert revisions(database_url) == set(head_revisions(session_store=False))
        # The store's stray tables stay, empty, and get no new migrations.
        assert table_names(store_database_url) == set(RELEASE_0_1_0.tables)
        stray = {"0002", "service_0001"}
        assert revisions(store_database_url) == set(head_revisions(service_tables=False)) | stray
    assert not any(
        outcome.changed for outcome in migrate_in_process(database_url, session_store_url)
    )


@contextmanager
def migration_lock_held(database_url: str) -> Iterator[None]:
    """Hold the lock `migrate` takes (what a migration running elsewhere does)."""
    if database_url.startswith("sqlite"):
        with closing(sqlite3.connect(database_url.removeprefix("sqlite:///"))) as holder:
            holder.isolation_level = None
            holder.execute("BEGIN IMMEDIATE")
            yield
            holder.execute("ROLLBACK")
    else:
        with psycopg.connect(database_url, autocommit=True) as holder:
            holder.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
            yield


@pytest.mark.slow
def test_racing_releases_both_succeed_and_migrate_once(database_url: str) -> None:
    env = process_env(database_url)
    command = [str(ADMIN), "migrate"]
    with migration_lock_held(database_url):  # both racers start while the lock is taken
        racers = [
            subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(2)
        ]
        time.sleep(2)  # give both time to queue up on the lock (not an assertion)
    outputs = [racer.communicate(timeout=120) for racer in racers]
    assert [racer.returncode for racer in racers] == [0, 0], outputs
    stdout = b"".join(out for out, _ in outputs).decode()
    assert stdout.count("migrated from empty to") == 1
    assert stdout.count("nothing to do") == 1
    assert stdout.count("Running upgrade  -> 0001") == 1
    assert revisions(database_url) == set(head_revisions())


@pytest.mark.slow
def test_migrate_gives_up_when_another_holds_the_lock_too_long(
    postgres_database_url: str,
) -> None:
    with psycopg.connect(postgres_database_url, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        blocked = migrate(postgres_database_url, "--lock-wait", "1")
    assert blocked.returncode == 1
    assert "another migration still holds the lock" in blocked.stdout
    assert revisions(postgres_database_url) == set()  # nothing was applied
    assert migrate(postgres_database_url).returncode == 0  # the lock went with its holder


@pytest.mark.slow
def test_migrate_does_not_queue_behind_live_traffic_forever(postgres_database_url: str) -> None:
    assert migrate(postgres_database_url).returncode == 0
    with psycopg.connect(postgres_database_url) as other:  # a long transaction holds a lock
        other.execute("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE")
        blocked = migrate(postgres_database_url)
    assert blocked.returncode == 1
    assert "migration failed: canceling statement due to lock timeout" in blocked.stdout


def test_bad_arguments_change_nothing(sqlite_database_url: str) -> None:
    result = migrate(sqlite_database_url, "--lock-wait", "soon")
    assert result.returncode == 2
    assert "Usage: bin/admin migrate" in result.stderr
    assert "--lock-wait" in result.stderr
    assert not Path(sqlite_database_url.removeprefix("sqlite:///")).exists()


@pytest.mark.slow
def test_an_unreachable_database_fails_clearly_without_a_traceback() -> None:
    result = migrate("postgresql://nobody:hunter2@127.0.0.1:1/none")
    assert result.returncode == 1
    assert "migration failed" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert "hunter2" not in result.stdout + result.stderr


def test_new_migration_writes_the_services_migrations_on_their_own_branch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_database_url: str
) -> None:
    migrations = shutil.copytree(migrator.MIGRATIONS, tmp_path / "migrations")
    shutil.rmtree(migrations / "service", ignore_errors=True)  # start the service's branch
    monkeypatch.setattr(migrator, "MIGRATIONS", migrations)  # leave the project's own alone
    migrator.upgrade(sqlite_database_url)
    template_heads = head_revisions()
    written, tables = [], []
    try:
        for name in ("test_gadgets", "test_widgets"):
            tables.append(Table(name, metadata, Column("id", Integer, primary_key=True)))
            written.append(migrator.new_revision(sqlite_database_url, f"add {name}"))
            migrator.upgrade(sqlite_database_url)
    finally:
        for table in tables:
            metadata.remove(table)
    first, second = written
    assert first == migrations / "service" / "service_0001_add_test_gadgets.py"
    assert second == migrations / "service" / "service_0002_add_test_widgets.py"
    assert 'op.create_table(\n        "test_gadgets",' in first.read_text()  # ruff-formatted
    # The first starts the service's branch from the base; the next follows it.
    assert "down_revision: str | None = None" in first.read_text()
    assert 'branch_labels: str | Sequence[str] | None = ("service",)' in first.read_text()
    assert 'down_revision: str | None = "service_0001"' in second.read_text()
    assert head_revisions() == (*template_heads, "service_0002")
    names = inspect(create_sync_engine(sqlite_database_url)).get_table_names()
    assert {"test_gadgets", "test_widgets"} <= set(names)
