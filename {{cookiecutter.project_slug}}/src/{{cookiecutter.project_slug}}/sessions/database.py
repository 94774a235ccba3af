# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""The database session stores: the `sessions` table in PostgreSQL (asyncpg) or SQLite.

The table is db.py's, created by `bin/admin migrate`; expired rows are ignored on read and
purged by an admin task. Every statement runs on its own (autocommit): no BEGIN, COMMIT
or pre-ping round trips.

Concurrent requests share statements, as the Redis client pipelines: the session writes
that requests issue in one event loop iteration go to the database as ONE multi-row
upsert (in key order, so two processes never deadlock), and on PostgreSQL so do the reads
(`key = ANY(...)`). Under load most of the per-statement cost, client and server, is then
shared; a lone request still costs one statement and waits for no timer.

Sharing a statement never shares a failure that is not shared. A record or key the
database refuses (a lone surrogate, which has no UTF-8; a NUL, which PostgreSQL text
cannot hold) fails its batch's statement, which changes nothing; the batch is then run
again in halves until each caller has its own outcome. The callers of that record get
RecordRefused (interface.py), every other caller its own result. An unreachable database
fails the whole batch at once with StoreUnavailable: no caller retries it on its own.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from abc import abstractmethod
from collections.abc import Awaitable, Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

import asyncpg
from sqlalchemy.engine import make_url

from ..db import sync_url
from .interface import TIMEOUT_SECONDS, RecordRefused, SessionStore, StoreUnavailable

log = logging.getLogger(__name__)

V = TypeVar("V")
R = TypeVar("R")

Row = tuple[str, datetime]  # (data, expires_at) of a live session
Write = tuple[str, datetime]  # (data, expires_at) to store


class Coalescer(Generic[V, R]):
    """Runs the calls made in one event loop iteration as one batch.

    `run_batch` gets {key: value} (for a key called twice, the last value wins, as if
    the calls had run one after the other) and returns {key: result}; each caller gets
    its key's result, or None. Every caller waits on a future of its own, so a cancelled
    request (a client that went away) cancels nobody else.

    A batch refused for its data (RecordRefused: one caller's bad text fails the whole
    statement, which then changed nothing) is split in halves, in key order, until every
    caller has its own result or its own RecordRefused: n calls with one bad record cost
    about 2*log2(n) more statements. Any other failure (the database unreachable) fails
    every caller still waiting at once, with StoreUnavailable: an outage is never retried
    call by call.
    """

    def __init__(self, run_batch: Callable[[dict[str, V]], Awaitable[dict[str, R]]]) -> None:
        self._run_batch = run_batch
        self._values: dict[str, V] = {}
        self._waiters: dict[str, list[asyncio.Future[R | None]]] = {}
        self._flushes: set[asyncio.Task[None]] = set()  # strong references while they run

    async def __call__(self, key: str, value: V) -> R | None:
        loop = asyncio.get_running_loop()
        if not self._waiters:
            loop.call_soon(self._flush)
        self._values[key] = value
        waiter: asyncio.Future[R | None] = loop.create_future()
        self._waiters.setdefault(key, []).append(waiter)
        return await waiter

    def _flush(self) -> None:
        values, waiters = self._values, self._waiters
        self._values, self._waiters = {}, {}
        task = asyncio.get_running_loop().create_task(self._run(values, waiters))
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    async def _run(
        self, values: dict[str, V], waiters: dict[str, list[asyncio.Future[R | None]]]
    ) -> None:
        try:
            await self._settle(values, waiters)
        except BaseException as error:  # whatever happens, no caller is left waiting
            if not isinstance(error, StoreUnavailable):
                log.error("session store batch failed", exc_info=error)
            for futures in waiters.values():
                for future in futures:
                    if not future.done():
                        future.set_exception(StoreUnavailable(f"{type(error).__name__}"))
            if not isinstance(error, Exception):
                raise

    async def _settle(
        self, values: dict[str, V], waiters: dict[str, list[asyncio.Future[R | None]]]
    ) -> None:
        """Answer the callers of `values`; halves a batch refused for its data."""
        try:
            results = await self._run_batch(values)
        except RecordRefused as error:
            if len(values) == 1:
                for future in _pending(waiters, values):
                    future.set_exception(error)
                return
            keys = sorted(values)  # halves in key order: still no deadlock between processes
            for half in (keys[: len(keys) // 2], keys[len(keys) // 2 :]):
                await self._settle({key: values[key] for key in half}, waiters)
            return
        for key in values:
            for future in _pending(waiters, [key]):
                future.set_result(results.get(key))


def _pending(
    waiters: dict[str, list[asyncio.Future[R | None]]], keys: Iterable[str]
) -> Iterator[asyncio.Future[R | None]]:
    """The futures of `keys` still to resolve (a cancelled caller's is done already)."""
    for key in keys:
        yield from (future for future in waiters[key] if not future.done())


class DatabaseStore(SessionStore):
    """What both database stores share. Sliding expiry is written at most once per
    TOUCH_EVERY (or a tenth of the TTL) per session: most reads write nothing."""

    TOUCH_EVERY = timedelta(seconds=60)

    def __init__(self) -> None:
        self._writes = Coalescer[Write, None](self._save_batch)

    async def load(self, key: str, ttl: int) -> str | None:
        now = datetime.now(UTC)
        row = await self._fetch(key, now)
        if row is None:
            return None
        data, expires_at = row
        slack = min(self.TOUCH_EVERY, timedelta(seconds=ttl / 10))
        if expires_at < now + timedelta(seconds=ttl) - slack:
            await self._touch(key, now + timedelta(seconds=ttl))
        return data

    async def save(self, key: str, record: str, ttl: int) -> None:
        await self._writes(key, (record, datetime.now(UTC) + timedelta(seconds=ttl)))

    @abstractmethod
    async def _fetch(self, key: str, now: datetime) -> Row | None:
        """The session's row, if it has not expired by `now`."""

    @abstractmethod
    async def _touch(self, key: str, expires_at: datetime) -> None:
        """Move the row's expiry."""

    @abstractmethod
    async def _save_batch(self, rows: dict[str, Write]) -> dict[str, None]:
        """Upsert every row in one statement (keys in sorted order)."""

    @abstractmethod
    async def purge_expired(self) -> int:
        """Delete rows past their expiry; returns how many went."""


class PostgresStore(DatabaseStore):
    """PostgreSQL through asyncpg: a small pool per process; asyncpg prepares each
    statement once per connection. No pre-ping: a connection the server closed (restart,
    failover) fails its statement at once, and the statement is tried once more on a
    fresh connection (every statement here is safe to repeat)."""

    POOL_SIZE = 10  # connections per web process at most, opened as load needs them
    # What a connection the server dropped raises (on its next use, or while idle).
    _RETRY = (
        OSError,
        asyncpg.PostgresConnectionError,
        asyncpg.OperatorInterventionError,  # admin_shutdown: server restart, failover
        asyncpg.InterfaceError,
        asyncpg.InternalClientError,  # a FATAL that arrived while the connection was idle
    )

    _READ = (
        "SELECT key, data, expires_at FROM sessions WHERE key = ANY($1::text[]) AND expires_at > $2"
    )
    _UPSERT = (
        "INSERT INTO sessions (key, data, created_at, expires_at)"
        " SELECT key, data, $4, expires_at"
        " FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS rows (key, data, expires_at)"
        " ON CONFLICT (key) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at"
    )
    _TOUCH = "UPDATE sessions SET expires_at = $2 WHERE key = $1"
    _DELETE = "DELETE FROM sessions WHERE key = $1"
    _PURGE = "DELETE FROM sessions WHERE expires_at <= $1"

    def __init__(self, url: str) -> None:
        super().__init__()
        # asyncpg takes the plain libpq URL (sslmode and the like included).
        self._dsn = make_url(url).set(drivername="postgresql").render_as_string(False)
        self._pool: Any = None  # asyncpg.Pool, made in (and for) the running event loop
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reads = Coalescer[None, Row](self._fetch_batch)

    async def _current_pool(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._pool is None or self._loop is not loop:  # tests run several loops
            self._pool = asyncpg.create_pool(
                self._dsn, min_size=0, max_size=self.POOL_SIZE, reset=_leave_as_is
            )
            self._loop = loop
            await self._pool  # min_size=0: connects nothing and never suspends
        return self._pool

    async def _run(self, method: str, sql: str, *args: Any) -> Any:
        try:
            async with asyncio.timeout(TIMEOUT_SECONDS):
                pool = await self._current_pool()
                try:
                    return await getattr(pool, method)(sql, *args)
                except self._RETRY:
                    # The server went away and came back (or failed over): every pooled
                    # connection is as dead as this one, so all are replaced.
                    await pool.expire_connections()
                    return await getattr(pool, method)(sql, *args)
        except asyncpg.DataError as error:
            # Text asyncpg cannot encode (a lone surrogate) or the server refuses (a NUL):
            # this call's data, not the server. The kind only: the message quotes the data.
            raise RecordRefused(f"postgresql: {type(error).__name__}") from None
        except (*self._RETRY, asyncpg.PostgresError, TimeoutError) as error:
            raise StoreUnavailable(f"postgresql: {type(error).__name__}") from error

    async def _fetch(self, key: str, now: datetime) -> Row | None:
        return await self._reads(key, None)

    async def _fetch_batch(self, keys: dict[str, None]) -> dict[str, Row]:
        rows = await self._run("fetch", self._READ, list(keys), datetime.now(UTC))
        return {row[0]: (row[1], row[2]) for row in rows}

    async def _save_batch(self, rows: dict[str, Write]) -> dict[str, None]:
        keys = sorted(rows)
        data = [rows[key][0] for key in keys]
        expiries = [rows[key][1] for key in keys]
        await self._run("execute", self._UPSERT, keys, data, expiries, datetime.now(UTC))
        return {}

    async def _touch(self, key: str, expires_at: datetime) -> None:
        await self._run("execute", self._TOUCH, key, expires_at)

    async def delete(self, key: str) -> None:
        await self._run("execute", self._DELETE, key)

    async def purge_expired(self) -> int:
        status = await self._run("execute", self._PURGE, datetime.now(UTC))
        return int(status.split()[-1])  # "DELETE <count>"

    async def aclose(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None and self._loop is asyncio.get_running_loop():
            await pool.close()


async def _leave_as_is(connection: asyncpg.Connection) -> None:
    """asyncpg resets a connection handed back to its pool with a query of its own (one
    more round trip per statement); lone autocommit statements leave nothing to reset."""


def _sqlite_time(moment: datetime) -> str:
    # The text SQLAlchemy's SQLite DateTime writes and reads (UTC, no offset), so admin
    # tasks and migrations see the same values; fixed width, so text order is time order.
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _refused(error: UnicodeEncodeError | sqlite3.DataError) -> RecordRefused:
    # sqlite3 binds text as UTF-8, which a lone surrogate has no encoding in; DataError is
    # text too big. The kind and position only: a UnicodeEncodeError holds the record.
    if isinstance(error, UnicodeEncodeError):
        return RecordRefused(f"sqlite: not UTF-8 encodable at {error.start}: {error.reason}")
    return RecordRefused(f"sqlite: {type(error).__name__}")


class SqliteStore(DatabaseStore):
    """SQLite through the standard library's sqlite3, in WAL mode.

    Reads run on the event loop itself: a primary-key lookup in WAL mode takes
    microseconds and never waits for a writer, so a hop to a thread and back would cost
    more than the read. Writes go to one thread per process with its own connection: a
    write may wait for another process's write to finish (up to the busy timeout), and
    that wait must not stall the event loop.
    """

    _READ = "SELECT data, expires_at FROM sessions WHERE key = ? AND expires_at > ?"
    _UPSERT = (
        "INSERT INTO sessions (key, data, created_at, expires_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (key) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at"
    )
    _TOUCH = "UPDATE sessions SET expires_at = ? WHERE key = ?"
    _DELETE = "DELETE FROM sessions WHERE key = ?"
    _PURGE = "DELETE FROM sessions WHERE expires_at <= ?"

    def __init__(self, url: str) -> None:
        super().__init__()
        path = sync_url(url).database  # sync_url makes the file's folder (var/) if needed
        if path in (None, "", ":memory:"):  # each connection would get a database of its own
            raise ValueError("a SQLite session store needs a file: sqlite:///var/sessions.sqlite3")
        self._path = path
        self._reader: sqlite3.Connection | None = None
        self._writer: sqlite3.Connection | None = None
        self._thread: ThreadPoolExecutor | None = None

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: autocommit, each statement its own short transaction.
        connection = sqlite3.connect(
            self._path, timeout=TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
        )
        connection.execute("PRAGMA journal_mode=WAL")  # readers never wait for writers
        connection.execute("PRAGMA synchronous=NORMAL")  # safe in WAL; fsync at checkpoints
        return connection

    async def _fetch(self, key: str, now: datetime) -> Row | None:
        try:
            if self._reader is None:
                self._reader = self._connect()
            row = self._reader.execute(self._READ, (key, _sqlite_time(now))).fetchone()
        except (UnicodeEncodeError, sqlite3.DataError) as error:
            raise _refused(error) from None
        except sqlite3.Error as error:
            raise StoreUnavailable(f"sqlite: {type(error).__name__}") from error
        if row is None:
            return None
        return str(row[0]), datetime.fromisoformat(row[1]).replace(tzinfo=UTC)

    async def _write(self, write: Callable[[sqlite3.Connection], int]) -> int:
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite-sessions")
        try:
            async with asyncio.timeout(TIMEOUT_SECONDS * 2):  # the busy timeout, then some
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(self._thread, self._in_thread, write)
        except (UnicodeEncodeError, sqlite3.DataError) as error:  # rolled back: nothing written
            raise _refused(error) from None
        except (sqlite3.Error, TimeoutError) as error:
            raise StoreUnavailable(f"sqlite: {type(error).__name__}") from error

    def _in_thread(self, write: Callable[[sqlite3.Connection], int]) -> int:
        if self._writer is None:
            self._writer = self._connect()
        return write(self._writer)

    async def _save_batch(self, rows: dict[str, Write]) -> dict[str, None]:
        now = _sqlite_time(datetime.now(UTC))
        values = [(key, rows[key][0], now, _sqlite_time(rows[key][1])) for key in sorted(rows)]

        def upsert(connection: sqlite3.Connection) -> int:
            with connection:  # one transaction, one commit for the batch
                connection.execute("BEGIN IMMEDIATE")  # take the write lock up front
                return connection.executemany(self._UPSERT, values).rowcount

        await self._write(upsert)
        return {}

    def _statement(self, sql: str, *args: str) -> Callable[[sqlite3.Connection], int]:
        return lambda connection: connection.execute(sql, args).rowcount

    async def _touch(self, key: str, expires_at: datetime) -> None:
        await self._write(self._statement(self._TOUCH, _sqlite_time(expires_at), key))

    async def delete(self, key: str) -> None:
        await self._write(self._statement(self._DELETE, key))

    async def purge_expired(self) -> int:
        return await self._write(self._statement(self._PURGE, _sqlite_time(datetime.now(UTC))))

    async def aclose(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.shutdown(wait=True)  # lets a write in progress finish
        for connection in (self._reader, self._writer):
            if connection is not None:
                connection.close()
        self._reader = self._writer = None
