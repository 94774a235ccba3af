# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Every session store against its real server: the contract the middleware relies on."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
import redis

from {{ cookiecutter.project_slug }}.db import create_sync_engine, metadata, sessions
from {{ cookiecutter.project_slug }}.sessions import (
    DatabaseStore,
    SessionStore,
    StoreUnavailable,
    create_store,
)
from {{ cookiecutter.project_slug }}.sessions.ids import new_id, store_key
from {{ cookiecutter.project_slug }}.sessions.stores import RecordRefused

from helpers import run_with_store
from servers import (
    LocalServer,
    _as_postgres_user,
    _pg_bindir,
    own_postgres,
    redis_server,
    self_signed_certificate,
    started,
)


def test_save_load_delete(session_store_url: str) -> None:
    key = store_key(new_id())

    async def steps(store: SessionStore) -> None:
        assert await store.load(key, 60) is None
        await store.save(key, '{"a":1}', 60)
        assert await store.load(key, 60) == '{"a":1}'
        await store.save(key, '{"a":2,"name":"Zoë"}', 60)
        assert await store.load(key, 60) == '{"a":2,"name":"Zoë"}'
        await store.delete(key)
        assert await store.load(key, 60) is None
        await store.delete(key)  # deleting a missing record is fine

    run_with_store(session_store_url, steps)


def test_records_expire_after_their_ttl(session_store_url: str) -> None:
    key = store_key(new_id())

    async def steps(store: SessionStore) -> None:
        await store.save(key, "{}", 1)
        await asyncio.sleep(2.5)  # Memcached's whole-second clock may add up to 1 s
        assert await store.load(key, 60) is None

    run_with_store(session_store_url, steps)


@pytest.mark.slow  # 5.5 s of waiting per store
def test_reading_slides_the_idle_expiry(session_store_url: str) -> None:
    key = store_key(new_id())

    # Memcached keeps time in whole seconds, so each expiry may come up to 1 s early or
    # late: the margins below hold whatever the tick and however late a sleep wakes up.
    async def steps(store: SessionStore) -> None:
        await store.save(key, "{}", 4)  # expires between 3 s and 5 s from now
        await asyncio.sleep(1.0)
        assert await store.load(key, 8) == "{}"  # read at >= 1 s: now expires at >= 8 s
        await asyncio.sleep(4.5)  # >= 5.5 s: past the original expiry
        assert await store.load(key, 8) == "{}"

    run_with_store(session_store_url, steps)


@pytest.mark.parametrize("session_store_url", ["sqlite", "postgresql"], indirect=True)
def test_database_store_purges_expired_rows(session_store_url: str) -> None:
    live, dead = store_key(new_id()), store_key(new_id())

    async def steps(store: SessionStore) -> tuple[int, str | None, str | None]:
        assert isinstance(store, DatabaseStore)
        await store.save(live, "{}", 60)
        await store.save(dead, "{}", 1)
        await asyncio.sleep(1.1)
        purged = await store.purge_expired()
        return purged, await store.load(live, 60), await store.load(dead, 60)

    assert run_with_store(session_store_url, steps) == (1, "{}", None)


def test_redis_store_survives_the_server_closing_its_connection(
    redis_process: LocalServer,
) -> None:
    """Redis drops idle clients (its `timeout` setting, a failover): the next command
    reconnects instead of failing the request, even when the close has not been noticed."""
    url = f"redis://127.0.0.1:{redis_process.port}/0"
    key = store_key(new_id())
    admin = redis.Redis.from_url(url)  # on a server of this test's own: kills only ours

    async def steps(store: SessionStore) -> str | None:
        await store.save(key, "{}", 60)
        # Blocking on purpose: the event loop cannot see the close before the next load.
        admin.client_kill_filter(_type="normal", skipme=True)
        return await store.load(key, 60)

    try:
        assert run_with_store(url, steps) == "{}"
    finally:
        admin.close()


PASSWORD = "s3cret:/@pass"  # noqa: S105 - the test server's; has characters URLs must encode


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[int]:
    """A password-protected Redis serving TLS only, with a self-signed certificate, like
    Heroku Redis; yields its port."""

    def server() -> LocalServer:
        return redis_server(tmp_path, tls=self_signed_certificate(tmp_path), password=PASSWORD)

    for running in started(server):
        yield running.port


def test_rediss_self_signed_needs_tls_verify_off(tls_redis: int) -> None:
    """SESSION_STORE_TLS_VERIFY: verified by default, so a self-signed server is refused
    (StoreUnavailable, a 503); with it off the store works over TLS, logged in with the
    URL's password, in the URL's database."""
    encoded = PASSWORD.replace("%", "%25").replace(":", "%3A").replace("/", "%2F")
    encoded = encoded.replace("@", "%40")
    url = f"rediss://:{encoded}@127.0.0.1:{tls_redis}"
    key = store_key(new_id())

    async def refused() -> None:
        store = create_store(url + "/3")
        try:
            with pytest.raises(StoreUnavailable):
                await store.load(key, 60)
        finally:
            await store.aclose()

    async def accepted() -> tuple[str | None, str | None]:
        db3 = create_store(url + "/3", tls_verify=False)
        db0 = create_store(url + "/0", tls_verify=False)
        try:
            await db3.save(key, "{}", 60)
            return await db3.load(key, 60), await db0.load(key, 60)
        finally:
            await db3.aclose()
            await db0.aclose()

    async def wrong_password() -> None:
        store = create_store(f"rediss://:nope@127.0.0.1:{tls_redis}/0", tls_verify=False)
        try:
            with pytest.raises(StoreUnavailable):
                await store.load(key, 60)
        finally:
            await store.aclose()

    asyncio.run(refused())
    assert asyncio.run(accepted()) == ("{}", None)
    asyncio.run(wrong_password())


def test_concurrent_calls_each_get_their_own_record(session_store_url: str) -> None:
    """Database stores send the reads and writes of one event loop iteration as one
    statement: every caller must still get its own record, the last write of a key wins,
    and a caller that is cancelled cancels nobody else.

    Two writes of one key in flight at once are kept in the order issued where a store
    orders them: the database batches and the one Redis connection. The pools of the
    Memcached and Redis Cluster clients may send them on two connections, so either may
    win there, as between two concurrent requests."""
    ordered = urlsplit(session_store_url).scheme in ("redis", "sqlite", "postgresql")
    keys = [store_key(new_id()) for _ in range(40)]

    async def steps(store: SessionStore) -> None:
        await asyncio.gather(*(store.save(key, f"[{n}]", 60) for n, key in enumerate(keys)))
        await asyncio.gather(
            store.save(keys[0], '{"n":"a"}', 60), store.save(keys[0], '{"n":"b"}', 60)
        )
        loaded = await asyncio.gather(
            *(store.load(key, 60) for key in keys), store.load("0" * 64, 60)
        )
        assert loaded[1:] == [*(f"[{n}]" for n in range(1, 40)), None]
        assert loaded[0] in (['{"n":"b"}'] if ordered else ['{"n":"a"}', '{"n":"b"}'])
        cancelled = asyncio.ensure_future(store.load(keys[1], 60))
        kept = asyncio.ensure_future(store.load(keys[1], 60))
        await asyncio.sleep(0)
        cancelled.cancel()
        assert await kept == "[1]"

    run_with_store(session_store_url, steps)


@pytest.mark.parametrize("session_store_url", ["memcached"], indirect=True)
def test_memcached_refuses_a_bad_record_or_key_alone(session_store_url: str) -> None:
    """What Memcached cannot keep fails its own call with RecordRefused, never another
    error: text with no UTF-8 encoding (a lone surrogate), a record past the server's item
    size limit (1 MB by default), a key it does not allow. The calls running beside it
    and after it work as before."""
    key = store_key(new_id())
    neighbours = [store_key(new_id()) for _ in range(8)]

    async def steps(store: SessionStore) -> list[object]:
        await store.save(key, "kept", 60)
        bad = (
            store.save(store_key(new_id()), "\ud800", 60),
            store.save(store_key(new_id()), "x" * 2_000_000, 60),
            store.load(key + "\udfff", 60),
            store.load(key + " and more", 60),
            store.delete(key + "\n"),
        )
        good = (store.save(neighbour, f"[{n}]", 60) for n, neighbour in enumerate(neighbours))
        outcomes = await asyncio.gather(*bad, *good, return_exceptions=True)
        loaded = await asyncio.gather(*(store.load(k, 60) for k in [key, *neighbours]))
        return [*(type(outcome) for outcome in outcomes), *loaded]

    assert run_with_store(session_store_url, steps) == [
        *[RecordRefused] * 5,
        *[type(None)] * 8,
        "kept",
        *(f"[{n}]" for n in range(8)),
    ]


WRITERS = """
import asyncio, sys
from PACKAGE.sessions import StoreUnavailable, create_store

async def main(url: str, keys: list[str]) -> int:
    store = create_store(url)
    failures = 0

    async def writer(n: int) -> None:
        nonlocal failures
        for round_ in range(15):
            try:
                await store.save(keys[(n + round_) % len(keys)], f"[{n}]", 60)
            except StoreUnavailable:
                failures += 1

    await asyncio.gather(*(writer(n) for n in range(16)))
    await store.aclose()
    return failures

sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2:])))
"""


@pytest.mark.slow
@pytest.mark.parametrize("session_store_url", ["sqlite", "postgresql"], indirect=True)
def test_database_store_takes_32_concurrent_writers_in_2_processes(
    session_store_url: str,
) -> None:
    """Two web processes, 16 writers each, on overlapping sessions: no write fails (SQLite:
    WAL mode, a busy timeout and one short transaction per batch; PostgreSQL: batches
    upsert in key order, so two processes never deadlock)."""
    keys = [store_key(new_id()) for _ in range(8)]
    script = WRITERS.replace("PACKAGE", DatabaseStore.__module__.split(".")[0])
    command = [sys.executable, "-c", script, session_store_url, *keys]
    processes = [subprocess.Popen(command) for _ in range(2)]
    assert [process.wait(timeout=120) for process in processes] == [0, 0]  # failures each


@pytest.mark.parametrize("session_store_url", ["sqlite"], indirect=True)
def test_sqlite_store_uses_wal_mode(session_store_url: str) -> None:
    async def steps(store: SessionStore) -> None:
        await store.save(store_key(new_id()), "{}", 60)

    run_with_store(session_store_url, steps)
    path = session_store_url.removeprefix("sqlite:///")
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_postgres_store_answers_unavailable_while_down_and_recovers(tmp_path: Path) -> None:
    """A server of the test's own: its connections are cut (as by a failover), then it is
    stopped (StoreUnavailable, a 503) and started again (the store recovers by itself)."""
    with own_postgres() as (url, workdir):
        data, log = str(workdir / "data"), str(workdir / "postgres.log")
        pg_ctl = [str(_pg_bindir() / "pg_ctl"), "-D", data, "-l", log, "-w"]
        key = store_key(new_id())

        async def steps(store: SessionStore) -> None:
            await store.save(key, "{}", 60)
            with psycopg.connect(url, autocommit=True) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'"
                )
            assert await store.load(key, 60) == "{}"  # on a fresh connection, no error
            subprocess.run(_as_postgres_user([*pg_ctl, "-m", "fast", "stop"]), check=True)
            with pytest.raises(StoreUnavailable):
                await store.load(key, 60)
            # `restart` of a stopped server starts it with the options it last ran with.
            subprocess.run(_as_postgres_user([*pg_ctl, "restart"]), check=True, capture_output=True)
            assert await store.load(key, 60) == "{}"

        engine = create_sync_engine(url)
        metadata.create_all(engine, tables=[sessions])
        engine.dispose()
        run_with_store(url, steps)
