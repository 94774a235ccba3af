# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Server-side sessions: a signed random ID in the cookie, the data in a backing store.

    install(app, settings)  # in create_app: the store from SESSION_STORE_URL + the middleware

    @router.post("/cart")
    async def add(session: SessionDep) -> ...:
        session["items"] = [*session.get("items", []), item]

See middleware.py for the rules and stores.py for the stores.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

    from ..config import Settings  # config imports the stores' schemes from this package
    from .database import DatabaseStore
    from .middleware import (
        Session,
        SessionConfig,
        SessionDep,
        SessionMiddleware,
        SessionTooLarge,
        get_session,
    )
    from .stores import SessionStore, StoreUnavailable, create_store
    from .urls import SCHEMES

# Name -> its module. Each is imported on first use (PEP 562), so that config, and with
# it every admin task, reads the stores' URL rules without loading the web framework.
MODULES = {
    "DatabaseStore": "database",
    "Session": "middleware",
    "SessionConfig": "middleware",
    "SessionDep": "middleware",
    "SessionMiddleware": "middleware",
    "SessionTooLarge": "middleware",
    "get_session": "middleware",
    "SCHEMES": "urls",
    "SessionStore": "stores",
    "StoreUnavailable": "stores",
    "create_store": "stores",
}

__all__ = [
    "SCHEMES",
    "DatabaseStore",
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


def install(app: FastAPI, settings: Settings) -> None:
    """Add the session middleware, with the store SESSION_STORE_URL names, to `app`.

    No connection is opened here: the store connects on first use and the middleware
    closes it at shutdown.
    """
    from .middleware import SessionConfig, SessionMiddleware
    from .stores import create_store

    config = SessionConfig(
        secret_key=settings.secret_key.get_secret_value(),
        idle_ttl=settings.session_ttl_seconds,
        max_age=settings.session_max_age_seconds,
        secure=settings.session_cookie_secure,
        fallback_keys=tuple(key.get_secret_value() for key in settings.secret_key_fallbacks),
        max_bytes=settings.session_max_bytes,
    )
    store = create_store(settings.session_store_url, tls_verify=settings.session_store_tls_verify)
    app.add_middleware(SessionMiddleware, store=store, config=config)


def __getattr__(name: str) -> Any:
    if name not in MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{MODULES[name]}", __name__), name)
    globals()[name] = value  # imported once
    return value
