# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""The database for endpoints (`database.Database`), on SQLite and PostgreSQL: a `def`
endpoint gets a connection in a transaction of its own, committed before the response is
sent (a commit that fails answers 500, and nothing is written) and rolled back when the
endpoint raises, with a job it enqueued; an `async def` endpoint on the database stops the
app at start-up, naming it; admin tasks get theirs from `database.transaction()`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import (
    Column,
    ForeignKey,
    Integer,
    MetaData,
    Table,
    Text,
    event,
    insert,
    select,
    text,
)

from {{ cookiecutter.project_slug }}.app import create_app
from {{ cookiecutter.project_slug }}.database import Database
from {{ cookiecutter.project_slug }}.db import create_sync_engine, jobs
from {{ cookiecutter.project_slug }}.job_queue import enqueue
from {{ cookiecutter.project_slug }}.migrator import upgrade

from helpers import make_settings

# Test-only tables, beside the migrated ones. A parent is checked at COMMIT (a deferred
# foreign key): the way to make a commit, not a statement, fail.
test_metadata = MetaData()
parents = Table("test_parents", test_metadata, Column("id", Integer, primary_key=True))
items = Table(
    "test_items",
    test_metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False),
    Column(
        "parent",
        Integer,
        ForeignKey(parents.c.id, deferrable=True, initially="DEFERRED"),
        nullable=True,
    ),
)

router = APIRouter(prefix="/test/items")


def insert_item(db: Database, name: str, parent: int | None = None) -> int:
    item_id: int = db.execute(
        insert(items).values(name=name, parent=parent).returning(items.c.id)
    ).scalar_one()
    return item_id


@router.post("")
def add_item(name: str, db: Database) -> dict[str, int]:
    return {"id": insert_item(db, name)}


@router.get("")
def list_items(db: Database) -> list[str]:
    return list(db.scalars(select(items.c.name).order_by(items.c.id)))


@router.post("/and-job-then-fail")
def add_item_and_job_then_fail(name: str, db: Database) -> None:
    insert_item(db, name)
    enqueue(db, "greet", username=name)
    raise RuntimeError("failed after its writes")


@router.post("/and-job")
def add_item_and_job(name: str, db: Database) -> dict[str, int]:
    return {"id": insert_item(db, name), "job": enqueue(db, "greet", username=name)}


@router.post("/orphan")
def add_orphan(name: str, db: Database) -> dict[str, int]:
    """Writes a row whose parent does not exist: the statement passes, the commit fails."""
    return {"id": insert_item(db, name, parent=404)}


@pytest.fixture
def database(database_url: str) -> str:
    """Each database, migrated, with the test tables."""
    upgrade(database_url)
    engine = create_sync_engine(database_url)
    try:
        test_metadata.create_all(engine)
    finally:
        engine.dispose()
    return database_url


@pytest.fixture
def app(database: str) -> FastAPI:
    app = create_app(make_settings(database, database_url=database))
    app.include_router(router)
    if database.startswith("sqlite"):  # SQLite checks foreign keys only when asked

        @event.listens_for(app.state.engine, "connect")
        def _foreign_keys(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA foreign_keys = ON")

    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as client:
        yield client


def rows(database: str) -> tuple[list[str], list[str]]:
    """The item names and the queued jobs' payloads, read outside the app."""
    engine = create_sync_engine(database)
    try:
        with engine.connect() as connection:
            names = list(connection.scalars(select(items.c.name).order_by(items.c.id)))
            payloads = list(connection.scalars(select(jobs.c.payload).order_by(jobs.c.id)))
    finally:
        engine.dispose()
    return names, payloads


def test_an_endpoint_writes_and_reads_in_its_transaction(client: TestClient, database: str) -> None:
    assert client.post("/test/items", params={"name": "ada"}).status_code == 200
    assert client.post("/test/items", params={"name": "grace"}).status_code == 200
    assert client.get("/test/items").json() == ["ada", "grace"]
    assert rows(database) == (["ada", "grace"], [])


def test_a_job_enqueued_by_an_endpoint_commits_with_its_writes(
    client: TestClient, database: str
) -> None:
    response = client.post("/test/items/and-job", params={"name": "ada"})
    assert response.status_code == 200, response.text
    assert rows(database) == (["ada"], ['{"username": "ada"}'])


def test_an_endpoint_that_raises_leaves_neither_its_rows_nor_its_job(
    client: TestClient, database: str
) -> None:
    response = client.post("/test/items/and-job-then-fail", params={"name": "ada"})
    assert response.status_code == 500
    assert "Traceback" not in response.text
    assert rows(database) == ([], [])


def test_a_commit_that_fails_answers_500_and_writes_nothing(
    client: TestClient, database: str
) -> None:
    response = client.post("/test/items/orphan", params={"name": "orphan"})
    assert response.status_code == 500  # the commit ran before the response: never a 200
    assert rows(database) == ([], [])
    assert client.post("/test/items", params={"name": "ada"}).status_code == 200  # serves on


def test_an_async_endpoint_on_the_database_stops_the_start(sqlite_database_url: str) -> None:
    app = create_app(make_settings(sqlite_database_url, database_url=sqlite_database_url))

    @app.get("/test/async")
    async def read_async(db: Database) -> None:
        raise AssertionError("never called")

    with pytest.raises(RuntimeError) as refused, TestClient(app):
        pass
    message = str(refused.value)
    assert "read_async (GET /test/async) is an `async def`" in message
    assert "make it a `def`" in message


def test_an_async_dependency_on_the_database_stops_the_start(sqlite_database_url: str) -> None:
    app = create_app(make_settings(sqlite_database_url, database_url=sqlite_database_url))

    async def current_item(db: Database) -> int:
        raise AssertionError("never called")

    @app.get("/test/item")
    def read(item: int = Depends(current_item)) -> int:
        return item

    refused = r"current_item \(GET /test/item\) is an `async def`"
    with pytest.raises(RuntimeError, match=refused), TestClient(app):
        pass


def test_a_test_of_its_own_gets_a_database_the_shared_one_did_not_write(
    migrated_database: str, migrated_database_url: str
) -> None:
    with create_sync_engine(migrated_database).begin() as shared:
        shared.execute(text("CREATE TABLE IF NOT EXISTS written_by_another_test (id INTEGER)"))
    with create_sync_engine(migrated_database_url).connect() as own:
        names = own.scalars(text("SELECT name FROM sqlite_master WHERE type = 'table'")).all()
    assert "jobs" in names
    assert "written_by_another_test" not in names
