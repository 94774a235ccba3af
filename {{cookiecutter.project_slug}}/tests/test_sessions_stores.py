"""Every session store against its real server: the contract the middleware relies on."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from {{ cookiecutter.project_slug }}.sessions import DatabaseStore, SessionStore, create_store
from {{ cookiecutter.project_slug }}.sessions.ids import new_id, store_key

T = TypeVar("T")


def run_with_store(url: str, steps: Callable[[SessionStore], Awaitable[T]]) -> T:
    """Run `steps(store)` on a fresh store, then close it."""

    async def main() -> T:
        store = create_store(url)
        try:
            return await steps(store)
        finally:
            await store.aclose()

    return asyncio.run(main())


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
        await asyncio.sleep(2.1)
        assert await store.load(key, 60) is None

    run_with_store(session_store_url, steps)


def test_reading_slides_the_idle_expiry(session_store_url: str) -> None:
    key = store_key(new_id())

    async def steps(store: SessionStore) -> None:
        await store.save(key, "{}", 2)
        await asyncio.sleep(1.2)
        assert await store.load(key, 5) == "{}"  # read at 1.2 s: expiry moves to 6.2 s
        await asyncio.sleep(1.8)  # 3.0 s: past the original 2 s
        assert await store.load(key, 5) == "{}"

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
