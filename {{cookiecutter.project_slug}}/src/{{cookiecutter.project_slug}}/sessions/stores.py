# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""The session store for a SESSION_STORE_URL: `create_store(url)` picks it by scheme.

    redis://, rediss://     Redis (redis_store.py, on redis_client.py)
    redis+cluster://, rediss+cluster://
                            a Redis Cluster (redis_store.py, redis-py's cluster client)
    memcached://host:port   Memcached (memcached_store.py: meta commands, one per call)
    postgresql://, sqlite:///path
                            the `sessions` table (database.py: asyncpg, sqlite3)

What every store does, and the errors it raises, is interface.py's `SessionStore`.
There is deliberately no in-memory store: it would break share-nothing processes.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ..db import SCHEMES as DATABASE_SCHEMES
from .database import PostgresStore, SqliteStore
from .interface import RecordRefused, SessionStore, StoreUnavailable
from .memcached_store import MemcachedStore
from .redis_store import RedisClusterStore, RedisCommands, RedisStore
from .urls import CLUSTER_SCHEMES, REDIS_SCHEMES, SCHEMES, check_url

__all__ = [
    "SCHEMES",
    "MemcachedStore",
    "PostgresStore",
    "RecordRefused",
    "RedisClusterStore",
    "RedisCommands",
    "RedisStore",
    "SessionStore",
    "SqliteStore",
    "StoreUnavailable",
    "check_url",
    "create_store",
]


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
        return SqliteStore(url) if scheme == "sqlite" else PostgresStore(url)
    # The URL itself may hold a password: name only the scheme.
    raise ValueError(f"unsupported session store scheme {scheme!r}; use one of {SCHEMES}")
