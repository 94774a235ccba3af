# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""What every session store is: the `SessionStore` interface and the errors it raises.

The middleware calls only this interface; each store module (redis_store.py,
memcached_store.py, database.py) implements it, and stores.py picks one by URL.

Every failure to reach the backing service surfaces as `StoreUnavailable` (the
middleware answers 503); stores re-make their connections on the next call, so the
service recovers by itself when the store is back. A record or key that a healthy store
cannot keep (text with no UTF-8 encoding, such as a lone surrogate; a NUL in PostgreSQL;
a record past Memcached's item size) fails that one call with `RecordRefused`, a
ValueError (the middleware answers 422): the caller's data is at fault, not the store,
so it must not be answered as the store being down.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

TIMEOUT_SECONDS = 2.0  # a store slower than this counts as down: fail fast with a 503


class StoreUnavailable(Exception):
    """The session store cannot be reached (or answered with an error)."""


class RecordRefused(ValueError):
    """The store refused this one record or key: the caller's own data is at fault (text
    the backing service cannot encode or keep), not the store, which serves every other
    call as before. Trying the same data again fails again."""


class SessionStore(ABC):
    """Keeps session records (JSON text) under hashed keys, with an idle TTL that the
    store enforces itself. A record is opaque text the middleware writes."""

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


def utf8(text: str, what: str) -> bytes:
    """`text` as UTF-8; RecordRefused for text that has none (a lone surrogate)."""
    try:
        return text.encode()
    except UnicodeEncodeError as error:  # the error holds the text: position and reason only
        reason = f"{what} not UTF-8 encodable at {error.start}: {error.reason}"
        raise RecordRefused(reason) from None
