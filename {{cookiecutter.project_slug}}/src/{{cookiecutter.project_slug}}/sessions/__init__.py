# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Server-side sessions: a signed random ID in the cookie, the data in a backing store.

    install(app, config, create_store(url))  # in create_app: the middleware and its store

    @router.post("/cart")
    async def add(session: SessionDep) -> ...:
        session["items"] = [*session.get("items", []), item]

The package takes its configuration as arguments and imports no settings: config.py
imports it (for the store URL schemes), never the other way. middleware.py says the
rules; interface.py what a store is; stores.py which store a URL names.
"""

from __future__ import annotations

from fastapi import FastAPI

from .database import DatabaseStore
from .interface import RecordRefused, SessionStore, StoreUnavailable
from .middleware import (
    Session,
    SessionConfig,
    SessionDep,
    SessionMiddleware,
    SessionTooLarge,
    get_session,
)
from .stores import SCHEMES, create_store

__all__ = [
    "SCHEMES",
    "DatabaseStore",
    "RecordRefused",
    "Session",
    "SessionConfig",
    "SessionDep",
    "SessionMiddleware",
    "SessionStore",
    "SessionTooLarge",
    "StoreUnavailable",
    "create_store",
    "get_session",
    "install",
]


def install(app: FastAPI, config: SessionConfig, store: SessionStore) -> None:
    """Add the session middleware, with its store, to `app`.

    No connection is opened here: the store connects on first use and the middleware
    closes it at shutdown.
    """
    app.add_middleware(SessionMiddleware, store=store, config=config)
