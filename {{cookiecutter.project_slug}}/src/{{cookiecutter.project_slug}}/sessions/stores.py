# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Session stores: where session records live, chosen at run time by SESSION_STORE_URL.

    redis://, rediss://     Redis (redis_client.py, hiredis): SET EX, GETEX for sliding expiry
    memcached://host:port   Memcached (aiomcache): set with exptime, touch
    postgresql://, sqlite:///path
                            the `sessions` table (database.py: asyncpg, sqlite3)

A record is an opaque JSON text the middleware writes; stores only keep it, under the
hashed key, for an idle TTL that they enforce themselves. Every failure to reach the
backing service surfaces as `StoreUnavailable` (the middleware answers 503); connections
are re-made on the next call, so the service recovers by itself when the store is back.
There is deliberately no in-memory store: it would break share-nothing processes.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import aiomcache
import hiredis

from ..db import SCHEMES as DATABASE_SCHEMES
from . import redis_client

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 2.0  # a store slower than this counts as down: fail fast with a 503
SCHEMES = ("redis", "rediss", "memcached", *DATABASE_SCHEMES)


class StoreUnavailable(Exception):
    """The session store cannot be reached (or answered with an error)."""


class SessionStore(ABC):
    """Keeps session records (JSON text) under hashed keys, with an idle TTL."""

    @abstractmethod
    async def load(self, key: str, ttl: int) -> str | None:
        """The record, or None when there is none (or it expired); pushes its expiry
        out to `ttl` seconds from now without rewriting it (sliding idle expiry)."""

    @abstractmethod
    async def save(self, key: str, record: str, ttl: int) -> None:
        """Create or replace the record; it expires `ttl` seconds from now."""

    @abstractmethod
    async def delete(self, key: str) -> None:
        """Remove the record; removing a missing one is fine."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most stores have one
        """Release connections (at process shutdown)."""


class RedisStore(SessionStore):
    """Redis through `redis_client.Client`: one pipelined connection per process (see
    redis_client.py for why not redis-py's pool). `tls_verify=False` accepts a self-signed
    rediss:// server."""

    prefix = "session:"

    def __init__(self, url: str, *, tls_verify: bool = True) -> None:
        target = redis_client.Target.from_url(url, tls_verify=tls_verify)
        self._redis = redis_client.Client(target, TIMEOUT_SECONDS)

    async def _call(self, *command: str | int) -> Any:
        try:
            reply = await self._redis(*command)
        except (OSError, TimeoutError) as error:
            raise StoreUnavailable(f"redis: {type(error).__name__}") from error
        if isinstance(reply, hiredis.ReplyError):
            raise StoreUnavailable(f"redis: error reply {str(reply).split()[0]}")
        return reply

    async def load(self, key: str, ttl: int) -> str | None:
        # GETEX reads and slides the expiry in one round trip, without a rewrite.
        raw = await self._call("GETEX", self.prefix + key, "EX", ttl)
        if isinstance(raw, bytes):  # undecodable bytes reach the JSON check, which refuses them
            return raw.decode("utf-8", errors="replace")
        return None

    async def save(self, key: str, record: str, ttl: int) -> None:
        await self._call("SET", self.prefix + key, record, "EX", ttl)

    async def delete(self, key: str) -> None:
        await self._call("DEL", self.prefix + key)

    async def aclose(self) -> None:
        await self._redis.aclose()


class MemcachedStore(SessionStore):
    prefix = b"session:"
    _RELATIVE_LIMIT = 30 * 24 * 3600  # memcached reads a larger exptime as a Unix time

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._client = aiomcache.Client(parts.hostname or "127.0.0.1", parts.port or 11211)

    def _exptime(self, ttl: int) -> int:
        if ttl <= self._RELATIVE_LIMIT:
            return ttl
        return int(datetime.now(UTC).timestamp()) + ttl

    async def _call(self, operation: Any) -> Any:
        try:
            async with asyncio.timeout(TIMEOUT_SECONDS):
                # Shielded: aiomcache hands a connection back to its pool even when the
                # command was cancelled mid-reply (a timeout, a client that went away), and
                # the next command would then read that stale reply. The command finishes.
                return await asyncio.shield(operation)
        except (OSError, TimeoutError, aiomcache.exceptions.ClientException) as error:
            raise StoreUnavailable(f"memcached: {type(error).__name__}") from error

    async def load(self, key: str, ttl: int) -> str | None:
        raw = await self._call(self._client.get(self.prefix + key.encode()))
        if raw is None:
            return None
        await self._call(self._client.touch(self.prefix + key.encode(), self._exptime(ttl)))
        return bytes(raw).decode("utf-8", errors="replace")

    async def save(self, key: str, record: str, ttl: int) -> None:
        item = self.prefix + key.encode()
        await self._call(self._client.set(item, record.encode(), exptime=self._exptime(ttl)))

    async def delete(self, key: str) -> None:
        await self._call(self._client.delete(self.prefix + key.encode()))

    async def aclose(self) -> None:
        await self._client.close()


def create_store(url: str, *, tls_verify: bool = True) -> SessionStore:
    """The store for a SESSION_STORE_URL. Opens no connection: that happens on first use.
    `tls_verify` (SESSION_STORE_TLS_VERIFY) is for rediss:// only."""
    scheme = urlsplit(url).scheme.split("+")[0]
    if scheme in ("redis", "rediss"):
        return RedisStore(url, tls_verify=tls_verify)
    if scheme == "memcached":
        return MemcachedStore(url)
    if scheme in DATABASE_SCHEMES:
        from .database import PostgresStore, SqliteStore  # here: database.py imports this module

        return SqliteStore(url) if scheme == "sqlite" else PostgresStore(url)
    # The URL itself may hold a password: name only the scheme.
    raise ValueError(f"unsupported session store scheme {scheme!r}; use one of {SCHEMES}")
