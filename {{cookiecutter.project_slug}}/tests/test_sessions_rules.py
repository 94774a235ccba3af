# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""The session rules of DESIGN.md, each against every real store.

The app here is the demo router behind SessionMiddleware with a short TTL, so expiry can
be seen in seconds; the store is wrapped to count writes (it still talks to the server).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from {{ cookiecutter.project_slug }} import demo
from {{ cookiecutter.project_slug }}.sessions import (
    SessionConfig,
    SessionMiddleware,
    SessionStore,
    create_store,
)
from {{ cookiecutter.project_slug }}.sessions.ids import CookieSigner, new_id, store_key

from conftest import Browser

SECRET = "rules-secret-" + "s" * 32
SIGNER = CookieSigner(SECRET)


class CountingStore(SessionStore):
    """A real store that also counts the writes going through it."""

    def __init__(self, inner: SessionStore) -> None:
        self.inner, self.saves, self.deletes = inner, 0, 0

    async def load(self, key: str, ttl: int) -> str | None:
        return await self.inner.load(key, ttl)

    async def save(self, key: str, record: str, ttl: int) -> None:
        self.saves += 1
        await self.inner.save(key, record, ttl)

    async def delete(self, key: str) -> None:
        self.deletes += 1
        await self.inner.delete(key)

    async def aclose(self) -> None:
        await self.inner.aclose()


def open_client(
    url: str, idle_ttl: int = 60, max_age: int = 3600
) -> tuple[TestClient, CountingStore]:
    store = CountingStore(create_store(url))
    app = FastAPI()
    app.include_router(demo.router)
    config = SessionConfig(secret_key=SECRET, idle_ttl=idle_ttl, max_age=max_age)
    app.add_middleware(SessionMiddleware, store=store, config=config)
    return TestClient(app, base_url="https://testserver"), store


@pytest.fixture
def browser(session_store_url: str) -> Iterator[Browser]:
    client, _ = open_client(session_store_url)
    with client:
        yield Browser(client)


def stored(url: str, session_id: str) -> str | None:
    """The record under a session ID, read straight from the store."""

    async def read() -> str | None:
        store = create_store(url)
        try:
            return await store.load(store_key(session_id), 60)
        finally:
            await store.aclose()

    return asyncio.run(read())


def plant(url: str, session_id: str, record: bytes) -> None:
    """Write raw bytes as the record of a session ID (what an attacker with store access could)."""

    async def write() -> None:
        store = create_store(url)
        try:
            # A PostgreSQL text column cannot hold NUL; every other byte goes in as it is.
            text = record.decode("latin-1").replace("\x00", "")
            await store.save(store_key(session_id), text, 60)
        finally:
            await store.aclose()

    asyncio.run(write())


def issued_id(browser: Browser) -> str:
    assert browser.cookie is not None
    session_id = SIGNER.unsign(browser.cookie)
    assert session_id is not None
    return session_id


@pytest.mark.parametrize(
    "chosen",
    [
        "attackerchosen123",  # malformed
        f"{new_id()}.{new_id()}",  # well-formed, not signed by us
        SIGNER.sign(new_id()),  # signed (a leaked or expired ID) but unknown to the store
    ],
    ids=["malformed", "unsigned", "unknown"],  # stable names: the values are random
)
def test_a_client_chosen_id_is_never_adopted(
    browser: Browser, session_store_url: str, chosen: str
) -> None:
    browser.cookie = chosen
    assert browser.request("POST", "/api/visits").json() == {"visits": 1}
    assert browser.cookie != chosen
    issued = issued_id(browser)
    assert chosen.split(".")[0] != issued
    assert stored(session_store_url, chosen.split(".")[0]) is None
    assert stored(session_store_url, issued) is not None


def test_login_rotates_the_id_and_the_old_one_reads_empty(
    browser: Browser, session_store_url: str
) -> None:
    browser.request("POST", "/api/visits")
    before_cookie, before_id = browser.cookie, issued_id(browser)
    browser.request("POST", "/api/login", json={"username": "ada"})
    after_id = issued_id(browser)
    assert after_id != before_id
    assert stored(session_store_url, before_id) is None
    assert browser.request("GET", "/api/visits").json() == {"visits": 1}  # data moved along
    browser.cookie = before_cookie
    assert browser.request("GET", "/api/visits").json() == {"visits": 0}
    assert browser.request("GET", "/api/me").status_code == 401


def test_logout_deletes_the_record(browser: Browser, session_store_url: str) -> None:
    browser.request("POST", "/api/login", json={"username": "ada"})
    session_id = issued_id(browser)
    browser.request("POST", "/api/logout")
    assert browser.cookie is None
    assert stored(session_store_url, session_id) is None


@pytest.mark.parametrize(
    "record",
    [
        b"\x80\x04\x95\x15\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x06visits\x94K\x07s.",  # pickle
        b"cos\nsystem\n(S'touch /tmp/pwned'\ntR.",  # a pickle that would run a command
        b'{"created_at": 1, "data": [1, 2]}',  # JSON, but not a session
        b"[" * 100_000,  # nesting deep enough to break a recursive parser
    ],
    ids=["pickle", "pickle-exec", "json-not-a-session", "deep-nesting"],
)
def test_a_planted_non_json_record_reads_empty_and_is_logged(
    browser: Browser, session_store_url: str, record: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    session_id = new_id()
    plant(session_store_url, session_id, record)
    browser.cookie = SIGNER.sign(session_id)
    with caplog.at_level(logging.WARNING):
        assert browser.request("GET", "/api/visits").json() == {"visits": 0}
    assert "not valid JSON" in caplog.text
    assert stored(session_store_url, session_id) is None  # removed, not kept around
    browser.request("POST", "/api/visits")
    assert issued_id(browser) != session_id


def test_read_only_requests_write_nothing(session_store_url: str) -> None:
    client, store = open_client(session_store_url)
    with client:
        browser = Browser(client)
        browser.request("POST", "/api/login", json={"username": "ada"})
        saves = store.saves
        for _ in range(3):
            response = browser.request("GET", "/api/visits")
            assert "set-cookie" not in response.headers
            assert browser.request("GET", "/api/me").json() == {"username": "ada"}
        assert store.saves == saves
        browser.request("POST", "/api/visits")
        assert store.saves == saves + 1


def test_an_idle_session_expires(session_store_url: str) -> None:
    client, _ = open_client(session_store_url, idle_ttl=1)
    with client:
        browser = Browser(client)
        browser.request("POST", "/api/visits")
        old_id = issued_id(browser)
        time.sleep(2.5)  # Memcached's whole-second clock may add up to 1 s
        assert browser.request("GET", "/api/visits").json() == {"visits": 0}
        browser.request("POST", "/api/visits")
        assert issued_id(browser) != old_id


def test_an_active_session_ends_at_the_absolute_max_age(session_store_url: str) -> None:
    client, _ = open_client(session_store_url, idle_ttl=60, max_age=2)
    with client:
        browser = Browser(client)
        browser.request("POST", "/api/login", json={"username": "ada"})
        for _ in range(3):  # keep it busy: the idle TTL never runs out
            time.sleep(0.8)
            browser.request("GET", "/api/me")
        assert browser.request("GET", "/api/me").status_code == 401
