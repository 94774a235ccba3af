# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""A lean, pipelining Redis connection for the session store's three commands.

Why not redis-py's asyncio client: profiled in the web process, its work per command
(connection pool, retry wrapper, observability hooks, command packing in Python) cost more
CPU than the whole rest of the session read path. Here hiredis (the C parser redis-py
itself uses) packs and parses, and ONE connection per process serves all requests: the
commands issued in one event loop iteration go out in one write, and each reply resolves
the oldest waiting future (Redis answers in order), so concurrent requests pipeline
without a pool.

Each caller gets its own reply or its own error, never another caller's: a command takes
its place in the reply queue only once it is packed and queued for the write, in the
same step, so the queue and the commands on the wire stay in step. A command hiredis
cannot pack (not UTF-8 encodable, an argument of another type) raises UnencodableCommand
in its caller and sends nothing. A caller that is cancelled keeps its place: its reply
arrives and is dropped. Anything that could put the queue out of step (a reply nobody
asked for, a reply hiredis cannot parse) closes the connection.

Failure is loud and local: a lost connection fails every waiting command with
ConnectionError (an OSError), which is tried once more on a new connection (the server may
have closed an idle one); a timeout closes the connection, and the next command
reconnects. The caller (RedisStore) turns all of that into StoreUnavailable. TCP
keepalive probes an idle connection, so one that a NAT or load balancer dropped in
silence is found dead before a request waits on it.

It speaks to one server. A Redis Cluster needs a client that follows the slot map:
redis_store.RedisClusterStore, for redis+cluster:// URLs.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections import deque
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import unquote, urlsplit

import hiredis

# Idle seconds before the first probe, seconds between probes, probes before the
# connection counts as dead: a dropped connection is found within about 90 s, well under
# the idle timeouts of common NATs and load balancers (350 s and more).
KEEPALIVE = {"TCP_KEEPIDLE": 60, "TCP_KEEPINTVL": 10, "TCP_KEEPCNT": 3}


class HandshakeRefused(ConnectionError):
    """Redis answered AUTH or SELECT with an error (wrong password, no such database)."""


class UnencodableCommand(ValueError):
    """A command hiredis cannot pack (text that is not UTF-8 encodable, such as a lone
    surrogate, or an argument that is not str, bytes, int or float): nothing was sent."""


@dataclass(frozen=True)
class Target:
    """Where and how to connect, from a redis:// or rediss:// URL."""

    host: str
    port: int
    db: int
    username: str | None
    password: str | None
    ssl: ssl.SSLContext | None

    @classmethod
    def from_url(cls, url: str, *, tls_verify: bool = True) -> Target:
        parts = urlsplit(url)
        path = parts.path.strip("/")
        context = None
        if parts.scheme == "rediss":
            context = ssl.create_default_context()
            if not tls_verify:  # e.g. Heroku Redis: TLS with a self-signed certificate
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 6379,
            db=int(path) if path else 0,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            ssl=context,
        )

    def handshake(self) -> list[tuple[bytes | str | int, ...]]:
        """The commands a new connection sends before any other."""
        commands: list[tuple[bytes | str | int, ...]] = []
        if self.password is not None:
            user = () if self.username is None else (self.username,)
            commands.append(("AUTH", *user, self.password))
        if self.db:
            commands.append(("SELECT", self.db))
        return commands


class Connection(asyncio.Protocol):
    """One Redis connection; `call` may be used by many tasks at once (pipelining)."""

    def __init__(self) -> None:
        self._reader = hiredis.Reader()
        self._waiting: deque[asyncio.Future[Any]] = deque()
        self._unsent: list[bytes] = []  # commands of this loop iteration, written together
        self._transport: asyncio.Transport | None = None
        self.loop = asyncio.get_running_loop()
        self.lost = False

    @classmethod
    async def open(cls, target: Target) -> Connection:
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(
            cls,
            target.host,
            target.port,
            ssl=target.ssl,
            server_hostname=target.host if target.ssl else None,
        )
        try:
            for reply in await asyncio.gather(*map(connection.call, target.handshake())):
                if isinstance(reply, hiredis.ReplyError):
                    # The reply names the problem (NOAUTH, WRONGPASS, invalid DB), never a secret.
                    raise HandshakeRefused(f"redis refused the connection: {reply}")
        except BaseException:
            connection.close()
            raise
        return connection

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            for name, value in KEEPALIVE.items():
                if hasattr(socket, name):  # Linux has all three; others vary
                    sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)

    def data_received(self, data: bytes) -> None:
        try:
            self._reader.feed(data)
            while (reply := self._reader.gets()) is not False:
                waiter = self._waiting.popleft()
                if not waiter.done():  # its caller may have timed out or been cancelled
                    waiter.set_result(reply)
        except (hiredis.ProtocolError, IndexError):  # garbage, or a reply nobody asked for
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_exception(ConnectionError("redis connection lost"))

    def call(self, command: tuple[bytes | str | int, ...]) -> asyncio.Future[Any]:
        """Send `command`; the future gets its reply (a hiredis.ReplyError for an error).

        Raises UnencodableCommand, having sent nothing, when the command cannot be packed.
        """
        # Packed before anything else: a place in the reply queue without a command on the
        # wire would hand every later reply on this connection to the caller behind it.
        try:
            packed = hiredis.pack_command(command)  # type: ignore[arg-type]  # stub: 1-tuple
        except (TypeError, ValueError) as error:
            raise UnencodableCommand(f"redis command not sent: {error}") from error
        waiter = self.loop.create_future()
        if self.lost or self._transport is None:
            waiter.set_exception(ConnectionError("redis connection lost"))
            return waiter
        if not self._unsent:
            self.loop.call_soon(self._flush)
        self._unsent.append(packed)
        self._waiting.append(waiter)  # with its command, in one step (no await between)
        return waiter

    def _flush(self) -> None:
        # One write (one syscall, one wake-up of Redis) for every command the requests of
        # this loop iteration issued: under load, that is most of the cost saved. The
        # transport buffers what the socket does not take at once (a partial write).
        data, self._unsent = b"".join(self._unsent), []
        if self._transport is None or self.lost:
            return  # connection_lost fails the waiters of these commands
        try:
            self._transport.write(data)
        except Exception:  # a transport that broke under us: its waiters must not hang
            self.close()

    def close(self) -> None:
        self.lost = True
        if self._transport is not None and not self.loop.is_closed():
            self._transport.abort()  # fails the waiting commands via connection_lost


class Client:
    """Runs commands on a shared connection, (re)connecting on demand."""

    def __init__(self, target: Target, timeout: float) -> None:
        self._target = target
        self._timeout = timeout
        self._connection: Connection | None = None
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, *command: bytes | str | int) -> Any:
        """The reply to `command`; raises OSError or TimeoutError when Redis is unreachable
        (the connection is then dropped, so the next call reconnects)."""
        connection = self._connection
        try:
            async with asyncio.timeout(self._timeout):
                if connection is None or connection.lost or not _current(connection.loop):
                    connection = await self._connect()
                    return await connection.call(command)
                try:
                    return await connection.call(command)
                except ConnectionError:
                    # The server closed a connection that sat idle (Redis `timeout`, a
                    # failover): once more on a new one. Every command here is idempotent.
                    connection = await self._connect()
                    return await connection.call(command)
        except TimeoutError:
            if connection is not None:
                connection.close()  # a stalled connection would delay every later command
            raise

    async def _connect(self) -> Connection:
        # One connection attempt at a time: a burst of requests shares it.
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        async with self._lock:
            current = self._connection
            if current is not None and not current.lost and current.loop is loop:
                return current
            if current is not None:
                current.close()
            self._connection = await Connection.open(self._target)
            return self._connection

    def drop_connection(self) -> None:
        """Close the connection; the next command opens a new one."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def aclose(self) -> None:
        self.drop_connection()


def _current(loop: asyncio.AbstractEventLoop) -> bool:
    # A connection belongs to the event loop that opened it (tests run several loops).
    return loop is asyncio.get_running_loop()
