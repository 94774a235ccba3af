# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""The conftest fixtures hand out real, working servers (the other tests rely on it)."""

from __future__ import annotations

import asyncio

import aiomcache
import psycopg
import pytest
import redis
from sqlalchemy.engine import make_url

from servers import LocalServer


def test_redis_url_is_a_live_server(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        client.set("conftest-probe", b"1", ex=5)
        assert client.get("conftest-probe") == b"1"
    finally:
        client.close()


def test_memcached_url_is_a_live_server(memcached_url: str) -> None:
    url = make_url(memcached_url)

    async def roundtrip() -> bytes | None:
        client = aiomcache.Client(url.host or "127.0.0.1", url.port or 11211)
        try:
            await client.set(b"conftest-probe", b"1", exptime=5)
            return await client.get(b"conftest-probe")
        finally:
            await client.close()

    assert asyncio.run(roundtrip()) == b"1"


def test_postgres_database_is_fresh_and_private(postgres_database_url: str) -> None:
    with psycopg.connect(postgres_database_url) as connection:
        tables = connection.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
        name = connection.execute("SELECT current_database()").fetchone()
    assert tables == (0,)
    assert name is not None
    assert name[0] == make_url(postgres_database_url).database


def test_a_stopped_server_comes_back_on_the_same_port(redis_process: LocalServer) -> None:
    client = redis.Redis(port=redis_process.port, socket_timeout=2)
    try:
        assert client.ping()
        redis_process.stop()
        with pytest.raises(redis.ConnectionError):
            client.ping()
        redis_process.start()
        assert client.ping()
    finally:
        client.close()
