# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Server-side sessions: a signed random ID in the cookie, the data in a backing store.

    install(app, config, create_store(url))  # in create_app: the middleware and its store

    @router.post("/cart")
    async def add(session: SessionDep) -> ...:
        session["items"] = [*session.get("items", []), item]

The package takes its configuration as arguments and imports no settings: config.py
imports it (urls.py, for the store URL rules), never the other way. middleware.py says
the rules; interface.py what a store is; stores.py which store a URL names.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    from .stores import create_store
    from .urls import SCHEMES

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

# Name -> its module. Each is imported on first use (PEP 562), so that config, and with
# it every admin task, reads the stores' URL rules without loading the web framework.
MODULES = {
    "DatabaseStore": "database",
    "RecordRefused": "interface",
    "SessionStore": "interface",
    "StoreUnavailable": "interface",
    "Session": "middleware",
    "SessionConfig": "middleware",
    "SessionDep": "middleware",
    "SessionMiddleware": "middleware",
    "SessionTooLarge": "middleware",
    "get_session": "middleware",
    "SCHEMES": "urls",
    "create_store": "stores",
}


def install(app: FastAPI, config: SessionConfig, store: SessionStore) -> None:
    """Add the session middleware, with its store, to `app`.

    No connection is opened here: the store connects on first use and the middleware
    closes it at shutdown.
    """
    from .middleware import SessionMiddleware

    app.add_middleware(SessionMiddleware, store=store, config=config)


def __getattr__(name: str) -> Any:
    if name not in MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{MODULES[name]}", __name__), name)
    globals()[name] = value  # imported once
    return value
