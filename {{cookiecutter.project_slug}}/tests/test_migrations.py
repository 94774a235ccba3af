# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""`bin/admin migrate` against real SQLite and PostgreSQL databases: it applies the
schema, a rerun is a no-op, racing releases apply it once, and the migrations build
exactly the tables that db.py and tables.py declare."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, Table, inspect

from {{ cookiecutter.project_slug }} import migrator
from {{ cookiecutter.project_slug }}.db import create_sync_engine
from {{ cookiecutter.project_slug }}.migrator import LOCK_KEY, head_revisions
from {{ cookiecutter.project_slug }}.tables import metadata

from helpers import ROOT, process_env

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
        for name in ("gadgets", "widgets"):
            tables.append(Table(name, metadata, Column("id", Integer, primary_key=True)))
            written.append(migrator.new_revision(sqlite_database_url, f"add {name}"))
            migrator.upgrade(sqlite_database_url)
    finally:
        for table in tables:
            metadata.remove(table)
    first, second = written
    assert first == migrations / "service" / "service_0001_add_gadgets.py"
    assert second == migrations / "service" / "service_0002_add_widgets.py"
    assert 'op.create_table(\n        "gadgets",' in first.read_text()  # ruff-formatted
    # The first starts the service's branch from the base; the next follows it.
    assert "down_revision: str | None = None" in first.read_text()
    assert 'branch_labels: str | Sequence[str] | None = ("service",)' in first.read_text()
    assert 'down_revision: str | None = "service_0001"' in second.read_text()
    assert head_revisions() == (*template_heads, "service_0002")
    names = inspect(create_sync_engine(sqlite_database_url)).get_table_names()
    assert {"gadgets", "widgets"} <= set(names)
