# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""The database of DATABASE_URL for endpoints, jobs and admin tasks: one engine per process,
and a SQLAlchemy `Connection` in a transaction for each unit of work.

One path everywhere, synchronous SQLAlchemy, so a query function of yours,
`def place_order(db: Connection, ...)`, serves an endpoint, a job and an admin task alike:

- An endpoint declares a parameter `db: Database`. It gets a connection in a transaction
  of its own, committed when the endpoint returns and before the response is sent (a
  commit that fails answers 500, never 200), rolled back when it raises. It must be a
  `def`, not an `async def`: FastAPI runs a `def` endpoint in its thread pool, where a
  query may block; the app refuses to start with an `async def` one (`check_endpoints`).
- A job (jobs.py) declares a parameter `db: Database` too: the worker passes a connection
  in a transaction of the job's own, committed when the job returns.
- An admin task, the console or a script opens one with `with transaction() as db:`.

The web app makes its engine in `install` (each web worker process builds its own app) and
disposes it at shutdown; the worker and admin tasks share `engine()`, made on first use.
"""

from __future__ import annotations

import atexit
import functools
import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.routing import APIRoute
from sqlalchemy import Connection, Engine

from .config import Settings, load_settings
from .db import create_sync_engine

__all__ = ["Database", "check_endpoints", "engine", "install", "lifespan", "transaction"]


def connection(request: Request) -> Iterator[Connection]:
    """The request's connection, in a transaction: committed when the endpoint returns,
    rolled back (and the error re-raised) when it raises."""
    app_engine: Engine = request.app.state.engine
    with app_engine.begin() as db:
        yield db


# scope="function": the commit runs when the endpoint returns, before the response is
# sent, so a failed commit is a 500 instead of a 200 for writes that were lost.
Database = Annotated[Connection, Depends(connection, scope="function")]


def install(app: FastAPI, settings: Settings) -> None:
    """Give `app` its engine for DATABASE_URL. No connection is opened here: the pool
    connects on first use, and `lifespan` disposes it at shutdown."""
    app.state.engine = create_sync_engine(settings.database_url)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The app's start-up and shutdown: check the endpoints, then dispose the engine."""
    check_endpoints(app)
    try:
        yield
    finally:
        engine_of_app: Engine | None = getattr(app.state, "engine", None)
        if engine_of_app is not None:
            engine_of_app.dispose()


def check_endpoints(app: FastAPI) -> None:
    """Refuse an `async def` endpoint (or dependency) that takes the database connection:
    its queries would block the event loop, and so every other request of the process."""
    for route in app.routes:
        if isinstance(route, APIRoute):
            for call in _async_users(route.dependant):
                name = f"{call.__module__}.{call.__qualname__}"
                methods = ",".join(sorted(route.methods or ()))
                raise RuntimeError(
                    f"{name} ({methods} {route.path}) is an `async def` that takes the "
                    "database connection (Database): make it a `def`, which FastAPI runs in "
                    "its thread pool, so its queries do not block the event loop"
                )


def _async_users(dependant: Any) -> Iterator[Callable[..., Any]]:
    """The coroutine functions among `dependant` and its dependencies that take the
    connection directly."""
    calls = [sub.call for sub in dependant.dependencies]
    if connection in calls and inspect.iscoroutinefunction(dependant.call):
        yield dependant.call
    for sub in dependant.dependencies:
        yield from _async_users(sub)


@functools.cache
def engine() -> Engine:
    """This process's engine for DATABASE_URL (the worker's, an admin task's), made on
    first use from the validated settings and disposed when the process exits."""
    made = create_sync_engine(load_settings().database_url)
    atexit.register(made.dispose)
    return made


@contextmanager
def transaction() -> Iterator[Connection]:
    """A connection in a transaction on `engine()`: committed when the block ends, rolled
    back if it raises. For admin tasks, the console and scripts:

        with transaction() as db:
            place_order(db, ...)
    """
    with engine().begin() as db:
        yield db
