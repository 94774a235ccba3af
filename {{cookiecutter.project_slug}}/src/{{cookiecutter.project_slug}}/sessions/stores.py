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

REDIS_SCHEMES = ("redis", "rediss")
CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")
SCHEMES = (*REDIS_SCHEMES, *CLUSTER_SCHEMES, "memcached", *DATABASE_SCHEMES)


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


def check_url(url: str) -> None:
    """Refuse, with a ValueError that says what to write instead, a Redis URL part that
    the stores would otherwise ignore. The message never quotes the URL (it may hold a
    password)."""
    parts = urlsplit(url)
    if parts.scheme not in (*REDIS_SCHEMES, *CLUSTER_SCHEMES):
        return
    if parts.query or parts.fragment:
        raise ValueError(
            "a Redis URL takes no query string or fragment (no option is read from it): "
            "use rediss:// for TLS, and SESSION_STORE_TLS_VERIFY=false for a self-signed "
            "certificate"
        )
    database = parts.path.strip("/")
    if database and not database.isdigit():
        raise ValueError("the path of a Redis URL is a database number, such as /0")
    if parts.scheme in CLUSTER_SCHEMES and database not in ("", "0"):
        raise ValueError("a Redis Cluster has database 0 only: leave the path out")
