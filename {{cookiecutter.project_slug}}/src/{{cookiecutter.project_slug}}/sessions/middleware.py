# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Server-side sessions as a pure ASGI middleware (modelled on Starlette's SessionMiddleware).

The cookie carries only a signed, random session ID; the data lives in the store. Rules
(each one has a test):

- An ID the server did not sign, or one whose record is gone, expired or past the absolute
  max age, is never adopted: the first write issues a fresh ID.
- Nothing is read from the store until a route asks for the session (`SessionDep`), so
  /healthz and static files never depend on the store.
- A request that leaves the data unchanged writes nothing: the store slides the idle
  expiry as part of the read.
- `session.regenerate()` (login) moves the data to a new ID and deletes the old record;
  `session.end()` (logout) deletes the record and clears the cookie.
- A cookie signed with one of the old keys (SECRET_KEY_FALLBACKS) opens its session, and
  the response that reads it re-signs the cookie with SECRET_KEY (the record is not
  rewritten for that).
- Records are JSON only. One that does not decode is logged, deleted and read as empty:
  it is never unpickled or evaluated.
- The store being down gives a 503 JSON answer to the routes that use the session; the
  process stays up and recovers on the next request once the store is back.
- A record is at most `max_bytes` (SESSION_MAX_BYTES) as stored, in every store. A request
  that would grow a session past it gets a 413 JSON answer instead of the route's, and
  nothing is written: the stored session (and its ID) stay as they were.
- A record the store refuses although it is up (RecordRefused: a Memcached server started
  with a smaller item size, say) gets a 422 naming the session, never a 503: the store is
  fine, and every other request goes on.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .ids import CookieSigner, new_id, store_key
from .interface import RecordRefused, SessionStore, StoreUnavailable

log = logging.getLogger(__name__)

UNAVAILABLE_BODY = b'{"detail":"session store unavailable, try again shortly"}'


class SessionTooLarge(Exception):
    """The record a request would save is over the limit; raised before any write."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            f"session too large: {size} bytes once stored, over the limit of {limit}; "
            "nothing was saved"
        )


@dataclass(frozen=True)
class SessionConfig:
    secret_key: str
    idle_ttl: int  # seconds without a request before the session expires
    max_age: int  # seconds after its creation (login) that a session ends regardless
    secure: bool = True  # Secure cookie with the __Host- prefix; off only for plain-HTTP dev
    # Old secret keys that still open sessions; such a cookie is re-signed with secret_key.
    fallback_keys: tuple[str, ...] = ()
    # The largest record saved, in bytes (records are ASCII: characters are bytes).
    max_bytes: int = 512 * 1024

    @property
    def cookie_name(self) -> str:
        # __Host-: the browser accepts it only Secure, host-only, Path=/ (no subdomain or
        # path can plant or shadow it).
        return "__Host-session" if self.secure else "session"


class Session(dict[str, Any]):
    """The request's session data: a dict of JSON values, filled from the store on demand.

    Routes get a loaded one from `SessionDep`. Changes (nested ones too) are saved when the
    response starts.
    """

    def __init__(self, session_id: str | None, loader: Callable[[Session], Awaitable[None]]):
        super().__init__()
        self.id = session_id  # the (verified) ID of the record, None for a new session
        self.created_at = time.time()
        self.loaded = False
        self.loaded_json = "{}"  # the data as read, to tell whether the request changed it
        self.rotate = False
        self.ended = False
        self.resign = False  # the cookie was signed with an old key: sign it anew
        self._loader = loader

    async def load(self) -> None:
        if not self.loaded:
            await self._loader(self)
            self.loaded = True

    def regenerate(self) -> None:
        """Move the data to a new ID when the response starts; the old record is deleted.
        Call it whenever privileges change (login), against session fixation."""
        self.rotate = True

    def end(self) -> None:
        """Forget everything: the record is deleted and the cookie cleared (logout)."""
        self.clear()
        self.ended = True


def _dump(data: dict[str, Any]) -> str:
    # ASCII only: any text JSON can carry (a lone surrogate from a "\\ud800" escape too)
    # is stored as an escape that every store and driver can encode.
    return json.dumps(data, separators=(",", ":"), sort_keys=True)


def decode_record(record: str) -> tuple[float, dict[str, Any]] | None:
    """(created_at, data) from a stored record, or None when it is not our JSON shape."""
    try:
        parsed = json.loads(record)
    except (ValueError, RecursionError):
        return None
    if not isinstance(parsed, dict):
        return None
    created_at, data = parsed.get("created_at"), parsed.get("data")
    if not isinstance(created_at, int | float) or not isinstance(data, dict):
        return None
    return float(created_at), data


def encode_record(created_at: float, data_json: str) -> str:
    # Concatenated rather than re-serialised: data_json is already the canonical dump.
    return '{"created_at":' + repr(created_at) + ',"data":' + data_json + "}"


class SessionMiddleware:
    def __init__(self, app: ASGIApp, store: SessionStore, config: SessionConfig) -> None:
        self.app, self.store, self.config = app, store, config
        self._signer = CookieSigner(config.secret_key, config.fallback_keys)
        self._cookie_attributes = "; Path=/; HttpOnly; SameSite=Lax" + (
            "; Secure" if config.secure else ""
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._close_store_on_shutdown(send))
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookie = self._incoming_cookie(scope)
        verified = self._signer.verify(cookie) if cookie else None
        session = Session(verified[0] if verified else None, self._load)
        session.resign = verified is not None and verified[1]
        scope["session"] = session
        started = replaced = False

        async def send_with_session(message: Message) -> None:
            nonlocal started, replaced
            if replaced:
                return  # the rest of the route's response, which the 413 replaced
            if message["type"] == "http.response.start":
                try:
                    headers = await self._commit(session, had_cookie=cookie is not None)
                except (SessionTooLarge, RecordRefused) as error:
                    status, detail = _refusal(error)
                    log.warning("%s", detail)
                    started = replaced = True
                    await _send_json(send, status, json.dumps({"detail": detail}).encode())
                    return
                message["headers"] = [*message.get("headers", []), *headers]
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_with_session)
        except StoreUnavailable as error:
            if started:
                raise
            log.warning("session store unavailable: %s", error)
            await _send_json(send, 503, UNAVAILABLE_BODY, [(b"retry-after", b"5")])

    def _incoming_cookie(self, scope: Scope) -> str | None:
        for name, value in scope["headers"]:
            if name == b"cookie":
                cookies = cookie_parser(value.decode("latin-1"))
                if self.config.cookie_name in cookies:
                    return cookies[self.config.cookie_name]
        return None

    async def _load(self, session: Session) -> None:
        if session.id is None:
            return
        key = store_key(session.id)
        record = await self.store.load(key, self.config.idle_ttl)
        decoded = None if record is None else decode_record(record)
        if record is not None and decoded is None:
            log.warning("session record %s... is not valid JSON: read as empty", key[:12])
        elif decoded is not None and time.time() - decoded[0] > self.config.max_age:
            decoded = None  # past the absolute max age, however active it was
        if decoded is None:
            if record is not None:
                await self.store.delete(key)
            session.id = None  # never adopted: a write will issue a fresh ID
            return
        session.created_at, data = decoded
        session.update(data)
        session.loaded_json = _dump(data)

    async def _commit(self, session: Session, *, had_cookie: bool) -> list[tuple[bytes, bytes]]:
        """Save what the request changed; returns the Set-Cookie headers to add."""
        if not session.loaded:
            return []
        if session.ended:
            if session.id is not None:
                await self.store.delete(store_key(session.id))
            return [self._cookie_header("", max_age=0)] if had_cookie else []
        data_json = _dump(session)
        fresh = session.id is None or session.rotate  # saved under a new ID, if at all
        created_at = time.time() if fresh else session.created_at
        if (fresh and session) or data_json != session.loaded_json:
            # Checked before any write or delete, so a refused request changes nothing.
            size = len(encode_record(created_at, data_json))
            if size > self.config.max_bytes:
                raise SessionTooLarge(size, self.config.max_bytes)
        if session.rotate and session.id is not None:
            await self.store.delete(store_key(session.id))
            session.id = None
        if session.id is None:
            if not session:
                return []  # nothing to keep: no record, no cookie
            session.id, session.created_at = new_id(), created_at
            await self._save(session.id, session.created_at, data_json)
            return [self._cookie_header(self._signer.sign(session.id), self.config.max_age)]
        if data_json != session.loaded_json:
            await self._save(session.id, session.created_at, data_json)
        if session.resign:
            # Opened with an old key: the same ID, signed with SECRET_KEY, for the time left.
            remaining = int(session.created_at + self.config.max_age - time.time())
            return [self._cookie_header(self._signer.sign(session.id), max(1, remaining))]
        return []

    async def _save(self, session_id: str, created_at: float, data_json: str) -> None:
        # The store's TTL never outlives the absolute max age either.
        remaining = created_at + self.config.max_age - time.time()
        ttl = max(1, int(min(self.config.idle_ttl, remaining)))
        await self.store.save(store_key(session_id), encode_record(created_at, data_json), ttl)

    def _cookie_header(self, value: str, max_age: int) -> tuple[bytes, bytes]:
        cookie = f"{self.config.cookie_name}={value}; Max-Age={max_age}{self._cookie_attributes}"
        return b"set-cookie", cookie.encode("latin-1")

    def _close_store_on_shutdown(self, send: Send) -> Send:
        async def send_and_close(message: Message) -> None:
            if message["type"] == "lifespan.shutdown.complete":
                await self.store.aclose()
            await send(message)

        return send_and_close


async def _send_json(
    send: Send, status: int, body: bytes, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _refusal(error: SessionTooLarge | RecordRefused) -> tuple[int, str]:
    if isinstance(error, SessionTooLarge):
        return 413, str(error)
    return 422, f"session not saved: the session store refused it ({error})"


async def get_session(request: Request) -> Session:
    """FastAPI dependency: the request's session, read from the store."""
    session = request.scope.get("session")
    if not isinstance(session, Session):
        raise RuntimeError("SessionMiddleware is not installed in this app")
    await session.load()
    return session


SessionDep = Annotated[Session, Depends(get_session)]
