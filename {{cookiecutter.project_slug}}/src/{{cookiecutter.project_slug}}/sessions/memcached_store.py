# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""The Memcached session store (memcached://host:port): records are items under the
`session:` prefix, with Memcached's own expiry.

It speaks Memcached's meta commands (Memcached 1.6 and later), each one round trip:

    mg <key> v k T<exptime>               read the item and move its expiry, no rewrite
    ms <key> <bytes> k T<exptime>         store it, with its expiry
    md <key> k                            delete it

`MetaClient` sends them on a small pool of connections of its own (`Pool`). A reply is
trusted only when it is whole and names the key that was asked for (the `k` flag echoes
it). A command that fails or is cancelled part-way closes its connection: the rest of
its reply can never reach the next command sent on it. (aiomcache has no meta commands,
spins without end on a connection closed mid-reply, and its pool leaves waiters stuck
when it closes a connection: hence these few lines of protocol.)
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar
from urllib.parse import urlsplit

from .interface import TIMEOUT_SECONDS, RecordRefused, SessionStore, StoreUnavailable, utf8

T = TypeVar("T")

MAX_KEY_BYTES = 250  # Memcached's limit
# What a key may hold (no whitespace, no control characters: a space or a line break
# would end the command), as aiomcache checks it.
_KEY = re.compile("[^\\s\x00-\x1f\x7f-\x9f]+")
_TOO_LARGE = b"SERVER_ERROR object too large for cache"


class ProtocolError(ConnectionError):
    """Memcached's reply is not the one the command asked for (cut short, malformed, an
    error line, or for another key): the connection is out of step and is closed."""


@dataclass(frozen=True)
class Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter


class Pool:
    """At most `size` connections to one server, opened as callers need them.

    A caller holds a connection from `acquire()` to `release()`. One released as not
    reusable is closed, and its place goes to the next caller waiting (who opens a new
    one): closing a connection never leaves a waiter stuck. Connections belong to the
    event loop that opened them; in another loop (tests run several) the pool starts over.
    """

    def __init__(self, host: str, port: int, size: int) -> None:
        self._host, self._port, self._size = host, port, size
        self._idle: list[Connection] = []
        self._places = asyncio.Semaphore(size)
        self._loop: asyncio.AbstractEventLoop | None = None

    async def acquire(self) -> Connection:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop, self._idle, self._places = loop, [], asyncio.Semaphore(self._size)
        places = self._places
        await places.acquire()
        try:
            while self._idle:
                connection = self._idle.pop()
                if not connection.reader.at_eof():  # not closed by the server while idle
                    return connection
                connection.writer.close()
            reader, writer = await asyncio.open_connection(self._host, self._port)
            return Connection(reader, writer)
        except BaseException:
            places.release()
            raise

    def release(self, connection: Connection, *, reusable: bool) -> None:
        if reusable:
            self._idle.append(connection)
        else:
            connection.writer.close()
        self._places.release()

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        if self._loop is asyncio.get_running_loop():  # another loop's are gone with it
            for connection in idle:
                connection.writer.close()


class MetaClient:
    """The three meta commands on a small pool of connections.

    Each command has a connection to itself from its first byte sent to the last byte of
    its reply, so replies cannot cross between callers; a connection whose command did
    not end well (an error, a timeout, a cancelled caller) is closed, not handed back.
    """

    def __init__(self, host: str, port: int, size: int) -> None:
        self._pool = Pool(host, port, size)

    async def get_and_touch(self, item: bytes, exptime: int) -> bytes | None:
        """The item's value (None when there is none), its expiry moved to `exptime`."""
        kind, value = await self._run(b"mg %b v k T%d\r\n" % (item, exptime), item)
        if kind == b"EN":
            return None
        if kind != b"VA" or value is None:
            raise ProtocolError(f"memcached: mg got {kind[:20]!r}")
        return value

    async def set(self, item: bytes, value: bytes, exptime: int) -> None:
        """Store the item; RecordRefused when it is past the server's item size."""
        command = b"ms %b %d k T%d\r\n%b\r\n" % (item, len(value), exptime, value)
        kind, _ = await self._run(command, item)
        if kind != b"HD":
            raise ProtocolError(f"memcached: ms got {kind[:20]!r}")

    async def delete(self, item: bytes) -> None:
        """Delete the item; a missing one is fine."""
        kind, _ = await self._run(b"md %b k\r\n" % item, item)
        if kind not in (b"HD", b"NF"):
            raise ProtocolError(f"memcached: md got {kind[:20]!r}")

    async def _run(self, command: bytes, item: bytes) -> tuple[bytes, bytes | None]:
        """Send `command`; its reply's kind (HD, VA, EN, NF) and value, if it has one."""
        connection = await self._pool.acquire()
        reusable = False  # unless the reply ends: then the connection is in step
        try:
            reply = await self._exchange(connection, command, item)
            reusable = True
            return reply
        finally:
            self._pool.release(connection, reusable=reusable)

    @staticmethod
    async def _exchange(
        connection: Connection, command: bytes, item: bytes
    ) -> tuple[bytes, bytes | None]:
        connection.writer.write(command)
        await connection.writer.drain()
        try:
            line = (await connection.reader.readuntil(b"\r\n"))[:-2]
            if line == _TOO_LARGE:  # the server read and dropped the whole value
                raise RecordRefused("memcached: record too large")
            kind, *flags = line.split(b" ")
            mine = b"k" + item
            if kind == b"VA" and len(flags) == 2 and flags[0].isdigit() and flags[1] == mine:
                value = await connection.reader.readexactly(int(flags[0]) + 2)
                if not value.endswith(b"\r\n"):
                    raise ProtocolError("memcached: value not followed by a line end")
                return kind, value[:-2]
            if kind in (b"HD", b"EN", b"NF") and flags == [mine]:
                return kind, None
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError) as error:
            raise ProtocolError(f"memcached: {type(error).__name__}") from None
        # An error line (SERVER_ERROR ...) or a reply to another command: the kind only,
        # the rest may quote a key.
        raise ProtocolError(f"memcached: unexpected reply {kind[:20]!r}")

    async def aclose(self) -> None:
        await self._pool.aclose()


class MemcachedStore(SessionStore):
    """Memcached through `MetaClient`. A record it cannot keep (past the server's item
    size limit, 1 MB by default) or a key it does not allow (spaces, control characters,
    over 250 bytes) is refused with RecordRefused: the server is fine. A command that takes
    longer than `timeout` seconds fails with StoreUnavailable."""

    prefix = b"session:"
    POOL_SIZE = 8  # connections per process, opened as load needs them
    _RELATIVE_LIMIT = 30 * 24 * 3600  # memcached reads a larger exptime as a Unix time

    def __init__(self, url: str, *, timeout: float = TIMEOUT_SECONDS) -> None:
        self._timeout = timeout
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 11211
        self._client = MetaClient(host, port, self.POOL_SIZE)

    def _exptime(self, ttl: int) -> int:
        if ttl <= self._RELATIVE_LIMIT:
            return ttl
        return int(datetime.now(UTC).timestamp()) + ttl

    def _item(self, key: str) -> bytes:
        item = self.prefix + utf8(key, "key")
        if len(item) > MAX_KEY_BYTES or not _KEY.fullmatch(item.decode()):
            raise RecordRefused("memcached: key not allowed")  # the key itself is not quoted
        return item

    async def _call(self, operation: Awaitable[T]) -> T:
        """`operation`'s result; StoreUnavailable when Memcached fails it or is too slow."""
        try:
            async with asyncio.timeout(self._timeout):
                return await operation
        except (OSError, TimeoutError) as error:  # ProtocolError is an OSError
            raise StoreUnavailable(f"memcached: {type(error).__name__}") from error

    async def load(self, key: str, ttl: int) -> str | None:
        raw = await self._call(self._client.get_and_touch(self._item(key), self._exptime(ttl)))
        if raw is None:
            return None
        return raw.decode("utf-8", errors="replace")  # undecodable: the JSON check refuses it

    async def save(self, key: str, record: str, ttl: int) -> None:
        item, value = self._item(key), utf8(record, "record")
        await self._call(self._client.set(item, value, self._exptime(ttl)))

    async def delete(self, key: str) -> None:
        await self._call(self._client.delete(self._item(key)))

    async def aclose(self) -> None:
        await self._client.aclose()
