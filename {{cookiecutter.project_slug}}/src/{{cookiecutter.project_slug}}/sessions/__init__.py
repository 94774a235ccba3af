# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Server-side sessions: a signed random ID in the cookie, the data in a backing store.

    install(app, settings)  # in create_app: the store from SESSION_STORE_URL + the middleware

    @router.post("/cart")
    async def add(session: SessionDep) -> ...:
        session["items"] = [*session.get("items", []), item]

See middleware.py for the rules and stores.py for the stores.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI

from .database import DatabaseStore
from .middleware import (
    Session,
    SessionConfig,
    SessionDep,
    SessionMiddleware,
    SessionTooLarge,
    get_session,
)
from .stores import SCHEMES, SessionStore, StoreUnavailable, create_store

if TYPE_CHECKING:  # config imports the stores' schemes from this package
    from ..config import Settings

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
