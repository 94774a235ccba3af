# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Session stores: where session records live, chosen at run time by SESSION_STORE_URL.

    redis://, rediss://     Redis (redis_client.py, hiredis): SET EX, GETEX for sliding expiry
    redis+cluster://, rediss+cluster://
                            a Redis Cluster (redis-py's cluster client): the same commands
    memcached://host:port   Memcached (aiomcache): set with exptime, touch
    postgresql://, sqlite:///path
                            the `sessions` table (database.py: asyncpg, sqlite3)

A record is an opaque JSON text the middleware writes; stores only keep it, under the
hashed key, for an idle TTL that they enforce themselves. Every failure to reach the
backing service surfaces as `StoreUnavailable` (the middleware answers 503); connections
are re-made on the next call, so the service recovers by itself when the store is back.
A record or key that a healthy store cannot keep (text with no UTF-8 encoding, such as a
lone surrogate; a NUL in PostgreSQL; a record past Memcached's item size) fails that one
call with `RecordRefused`, a ValueError: the caller's data is at fault, not the store, so
it must not be answered as the store being down, and the calls that share its database
batch carry on.
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
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisClusterException, RedisError

from ..db import SCHEMES as DATABASE_SCHEMES
from . import redis_client
from .urls import CLUSTER_SCHEMES, REDIS_SCHEMES, SCHEMES, check_url

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 2.0  # a store slower than this counts as down: fail fast with a 503

# Replies from a Redis that cannot serve this connection's commands: a cluster node
# (MOVED, ASK), a replica or a primary demoted by a failover (READONLY), a server loading
# its data or cut off from its primary. A new connection may reach the right server (DNS
# names the new primary after a failover); this one will not.
_WRONG_SERVER = frozenset({"MOVED", "ASK", "READONLY", "LOADING", "MASTERDOWN", "CLUSTERDOWN"})


class StoreUnavailable(Exception):
    """The session store cannot be reached (or answered with an error)."""


class RecordRefused(ValueError):
    """The store refused this one record or key: the caller's own data is at fault (text
    the backing service cannot encode or keep), not the store, which serves every other
    call as before. Trying the same data again fails again."""


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


class RedisCommands(SessionStore):
    """The store on Redis commands; subclasses say how a command reaches the server.

    A key or record that cannot be sent (text that is not UTF-8 encodable) raises a
    ValueError, having sent nothing: it is the caller's error, and no other call's.
    """

    prefix = "session:"

    @abstractmethod
    async def _call(self, *command: str | int) -> Any:
        """The reply to `command`; StoreUnavailable when Redis cannot answer it."""

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


class RedisStore(RedisCommands):
    """One Redis server through `redis_client.Client`: one pipelined connection per process
    (see redis_client.py for why not redis-py's pool). `tls_verify=False` accepts a
    self-signed rediss:// server."""

    def __init__(self, url: str, *, tls_verify: bool = True) -> None:
        target = redis_client.Target.from_url(url, tls_verify=tls_verify)
        self._redis = redis_client.Client(target, TIMEOUT_SECONDS)

    async def _call(self, *command: str | int) -> Any:
        try:
            reply = await self._redis(*command)
        except (OSError, TimeoutError) as error:
            raise StoreUnavailable(f"redis: {type(error).__name__}") from error
        if not isinstance(reply, hiredis.ReplyError):
            return reply
        kind = str(reply).split()[0]
        if kind not in _WRONG_SERVER:  # other replies may quote the command: name the kind only
            raise StoreUnavailable(f"redis: error reply {kind}")
        self._redis.drop_connection()
        hint = " (a Redis Cluster node: use redis+cluster://)" if kind in ("MOVED", "ASK") else ""
        raise StoreUnavailable(f"redis: {reply}{hint}; connection dropped")

    async def aclose(self) -> None:
        await self._redis.aclose()


class RedisClusterStore(RedisCommands):
    """A Redis Cluster through redis-py's cluster client, which keeps the slot map and
    follows MOVED and ASK while slots move between nodes. It costs more CPU per command
    than RedisStore's client (benchmarks/ measures both), and it scales past one primary.
    `tls_verify=False` accepts self-signed rediss+cluster:// nodes.

    redis-py drops its slot map and closes every connection (its own aclose()) on
    CLUSTERDOWN, on a slot not covered and on every fifth MOVED, while other commands are
    in flight on those connections or about to start on them. A command caught in that
    race can fail with an error that is no RedisError (a TypeError out of asyncio's
    transport, raised before anything is sent): it is run again on the re-read map, up to
    three runs in all within the store's timeout, then fails as StoreUnavailable. The
    commands are idempotent (SET, GETEX, DEL), so running one again is safe.
    """

    # What a command meets when redis-py closes the connection it uses at the wrong
    # moment: asyncio's transport or redis-py's reader already torn down. These are no
    # RedisError, and would otherwise escape the store as a 500.
    _RACE = (TypeError, AttributeError, RuntimeError)
    _FAILURES = (RedisError, RedisClusterException, OSError, TimeoutError, *_RACE)
    # Runs of a command that meets those: under a storm of MOVED (many sessions of one
    # slot read while it moves) the second run can meet the next re-initialisation too.
    _RUNS = 3

    def __init__(self, url: str, *, tls_verify: bool = True) -> None:
        target = redis_client.Target.from_url(url.replace("+cluster", "", 1))
        self._options: dict[str, Any] = {
            "host": target.host,
            "port": target.port,
            "username": target.username,
            "password": target.password,
            "ssl": target.ssl is not None,
            "ssl_cert_reqs": "required" if tls_verify else "none",
            "ssl_check_hostname": tls_verify,
            "socket_timeout": TIMEOUT_SECONDS,
            "socket_connect_timeout": TIMEOUT_SECONDS,
        }
        self._cluster: RedisCluster | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = asyncio.Lock()

    async def _client(self) -> RedisCluster:
        # Connections belong to the event loop that opened them (tests run several loops).
        loop = asyncio.get_running_loop()
        if self._cluster is None or self._loop is not loop:
            self._cluster, self._loop = RedisCluster(**self._options), loop
            self._lock = asyncio.Lock()
        cluster = self._cluster
        # redis-py's own flag: no slot map yet, or it dropped the map (aclose()). One
        # caller reads the map while the others wait: commands that start together on a
        # client without one race on connections redis-py is opening and closing.
        if cluster._initialize:
            async with self._lock:
                await cluster.initialize()  # returns at once if a waiter before us did it
        return cluster

    async def _execute(self, command: tuple[str | int, ...]) -> Any:
        cluster = await self._client()
        return await cluster.execute_command(*command)

    async def _call(self, *command: str | int) -> Any:
        try:
            async with asyncio.timeout(TIMEOUT_SECONDS):
                for _ in range(self._RUNS - 1):
                    try:
                        return await self._execute(command)
                    except self._RACE as error:
                        log.info("redis cluster: %s on a connection redis-py closed", error)
                return await self._execute(command)
        except self._FAILURES as error:
            # redis-py's messages may quote the command; name the kind only.
            raise StoreUnavailable(f"redis cluster: {type(error).__name__}") from error

    async def aclose(self) -> None:
        if self._cluster is not None and self._loop is asyncio.get_running_loop():
            await self._cluster.aclose()
        self._cluster = None


class MemcachedStore(SessionStore):
    """Memcached through aiomcache's connection pool. A record it cannot keep (past the
    server's item size limit, 1 MB by default) or a key it does not allow (spaces, control
    characters, over 250 bytes) is refused with RecordRefused: the server is fine."""

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
        except aiomcache.exceptions.ValidationException:
            # Its message quotes the key: the kind only.
            raise RecordRefused("memcached: key not allowed") from None
        except aiomcache.exceptions.ClientException as error:
            if "too large" in str(error):  # SERVER_ERROR object too large for cache
                raise RecordRefused("memcached: record too large") from None
            raise StoreUnavailable(f"memcached: {type(error).__name__}") from error
        except (OSError, TimeoutError) as error:
            raise StoreUnavailable(f"memcached: {type(error).__name__}") from error

    def _item(self, key: str) -> bytes:
        return self.prefix + _utf8(key, "key")

    async def load(self, key: str, ttl: int) -> str | None:
        item = self._item(key)
        raw = await self._call(self._client.get(item))
        if raw is None:
            return None
        await self._call(self._client.touch(item, self._exptime(ttl)))
        return bytes(raw).decode("utf-8", errors="replace")

    async def save(self, key: str, record: str, ttl: int) -> None:
        item, value = self._item(key), _utf8(record, "record")
        await self._call(self._client.set(item, value, exptime=self._exptime(ttl)))

    async def delete(self, key: str) -> None:
        await self._call(self._client.delete(self._item(key)))

    async def aclose(self) -> None:
        await self._client.close()


def _utf8(text: str, what: str) -> bytes:
    """`text` as UTF-8; RecordRefused for text that has none (a lone surrogate)."""
    try:
        return text.encode()
    except UnicodeEncodeError as error:  # the error holds the text: position and reason only
        reason = f"{what} not UTF-8 encodable at {error.start}: {error.reason}"
        raise RecordRefused(reason) from None


def create_store(url: str, *, tls_verify: bool = True) -> SessionStore:
    """The store for a SESSION_STORE_URL. Opens no connection: that happens on first use.
    `tls_verify` (SESSION_STORE_TLS_VERIFY) is for rediss:// and rediss+cluster:// only."""
    check_url(url)
    scheme = urlsplit(url).scheme
    if scheme in REDIS_SCHEMES:
        return RedisStore(url, tls_verify=tls_verify)
    if scheme in CLUSTER_SCHEMES:
        return RedisClusterStore(url, tls_verify=tls_verify)
    if scheme == "memcached":
        return MemcachedStore(url)
    if scheme in DATABASE_SCHEMES:
        from .database import PostgresStore, SqliteStore  # here: database.py imports this module

        return SqliteStore(url) if scheme == "sqlite" else PostgresStore(url)
    # The URL itself may hold a password: name only the scheme.
    raise ValueError(f"unsupported session store scheme {scheme!r}; use one of {SCHEMES}")
