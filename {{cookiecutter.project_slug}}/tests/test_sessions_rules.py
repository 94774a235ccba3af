# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""The session rules, each against every real store.

Most tests here use the test-only session routes (tests/extra_routes.py) behind
SessionMiddleware with a short TTL, so expiry can be seen in seconds; the store is wrapped
to count writes (it still talks to the server). The last ones use the whole app.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from {{ cookiecutter.project_slug }}.app import create_app
from {{ cookiecutter.project_slug }}.config import Settings
from {{ cookiecutter.project_slug }}.sessions import (
    SessionConfig,
    SessionDep,
    SessionMiddleware,
    SessionStore,
    create_store,
)
from {{ cookiecutter.project_slug }}.sessions.ids import CookieSigner, new_id, store_key

from extra_routes import add_test_routes
from helpers import Browser, make_settings
from servers import LocalCluster, LocalServer, free_port, memcached_server, started

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


fill = APIRouter()


@fill.post("/test/session/fill")
async def fill_session(size: int, data: SessionDep) -> dict[str, int]:
    """Store `size` characters under "blob": a session of about that many bytes."""
    data["blob"] = "x" * size
    return {"size": size}


def open_client(
    url: str, idle_ttl: int = 60, max_age: int = 3600, max_bytes: int = 512 * 1024
) -> tuple[TestClient, CountingStore]:
    store = CountingStore(create_store(url))
    app = FastAPI()
    add_test_routes(app)
    app.include_router(fill)
    config = SessionConfig(
        secret_key=SECRET, idle_ttl=idle_ttl, max_age=max_age, max_bytes=max_bytes
    )
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
    assert browser.request("POST", "/test/session/count").json() == {"count": 1}
    assert browser.cookie != chosen
    issued = issued_id(browser)
    assert chosen.split(".")[0] != issued
    assert stored(session_store_url, chosen.split(".")[0]) is None
    assert stored(session_store_url, issued) is not None


def test_login_rotates_the_id_and_the_old_one_reads_empty(
    browser: Browser, session_store_url: str
) -> None:
    browser.request("POST", "/test/session/count")
    before_cookie, before_id = browser.cookie, issued_id(browser)
    browser.request("POST", "/test/session/login?user=ada")
    after_id = issued_id(browser)
    assert after_id != before_id
    assert stored(session_store_url, before_id) is None
    # The data moved along to the new ID; the old one reads empty.
    assert browser.request("GET", "/test/session").json() == {"count": 1, "user": "ada"}
    browser.cookie = before_cookie
    assert browser.request("GET", "/test/session").json() == {}


def test_logout_deletes_the_record(browser: Browser, session_store_url: str) -> None:
    browser.request("POST", "/test/session/login?user=ada")
    session_id = issued_id(browser)
    browser.request("POST", "/test/session/logout")
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
        assert browser.request("GET", "/test/session").json() == {}
    assert "not valid JSON" in caplog.text
    assert stored(session_store_url, session_id) is None  # removed, not kept around
    browser.request("POST", "/test/session/count")
    assert issued_id(browser) != session_id


LIMIT = 512 * 1024  # SESSION_MAX_BYTES's default, below Memcached's 1 MiB item limit


def test_a_session_past_the_size_limit_is_refused_and_the_stored_one_kept(
    session_store_url: str,
) -> None:
    client, store = open_client(session_store_url)
    with client:
        browser = Browser(client)
        browser.request("POST", "/test/session/login?user=ada")
        session_id = issued_id(browser)
        near = browser.request("POST", f"/test/session/fill?size={LIMIT - 200}")
        assert near.status_code == 200  # just under the limit: every store keeps it
        record = stored(session_store_url, session_id)
        assert record is not None
        assert LIMIT - 200 < len(record.encode()) <= LIMIT
        saves, deletes = store.saves, store.deletes

        for size in (LIMIT, 2 * LIMIT, 3 * 1024 * 1024):  # the last is past Memcached's limit
            response = browser.request("POST", f"/test/session/fill?size={size}")
            assert response.status_code == 413
            assert response.json()["detail"].startswith("session too large: ")
            assert "set-cookie" not in response.headers
        assert (store.saves, store.deletes) == (saves, deletes)  # nothing written, nothing lost
        assert stored(session_store_url, session_id) == record
        assert browser.request("GET", "/test/session").json()["user"] == "ada"


def test_a_login_past_the_size_limit_keeps_the_old_session(session_store_url: str) -> None:
    """The ID is rotated only when the new record can be saved: the old one is not deleted
    for a write that is then refused."""
    client, _ = open_client(session_store_url, max_bytes=2048)
    with client:
        browser = Browser(client)
        browser.request("POST", "/test/session/login?user=ada")
        session_id = issued_id(browser)
        response = browser.request("POST", "/test/session/login?user=" + "b" * 4096)
        assert response.status_code == 413
        assert issued_id(browser) == session_id
        assert browser.request("GET", "/test/session").json() == {"user": "ada"}


def test_a_record_the_store_refuses_gets_a_422_and_the_store_serves_on() -> None:
    """A Memcached started with 64 KiB items refuses a session well under SESSION_MAX_BYTES:
    that request gets a 422 naming the session, not a 503, and the store serves on. (On a
    refused set Memcached also drops the key's old item, so that session is gone: keep
    SESSION_MAX_BYTES under the server's item size, as its default is under 1 MiB.)"""
    for server in started(lambda: memcached_server("-I", "64k", "-o", "slab_chunk_max=32768")):
        client, _ = open_client(f"memcached://127.0.0.1:{server.port}")
        with client:
            browser = Browser(client)
            browser.request("POST", "/test/session/login?user=ada")
            refused = browser.request("POST", f"/test/session/fill?size={100 * 1024}")
            assert refused.status_code == 422
            assert refused.json()["detail"].startswith("session not saved: ")
            assert browser.request("POST", "/test/session/login?user=ada").status_code == 200
            assert browser.request("POST", "/test/session/fill?size=10").status_code == 200
            assert browser.request("GET", "/test/session").json()["user"] == "ada"


@pytest.mark.parametrize("session_store_url", ["redis"], indirect=True)
def test_the_size_limit_holds_at_every_size_near_it(session_store_url: str) -> None:
    """Sizes around a small limit: a session is saved exactly when its stored record fits,
    and a refused one leaves the stored record as it was."""
    limit = 2048
    client, _ = open_client(session_store_url, max_bytes=limit)
    with client:
        browser = Browser(client)
        browser.request("POST", "/test/session/login?user=ada")
        session_id = issued_id(browser)

        @given(size=st.integers(min_value=limit - 200, max_value=limit + 50))
        @settings(max_examples=40)
        def write(size: int) -> None:
            before = stored(session_store_url, session_id)
            assert before is not None
            response = browser.request("POST", f"/test/session/fill?size={size}")
            after = stored(session_store_url, session_id)
            assert after is not None
            if response.status_code == 200:
                assert len(after.encode()) <= limit
                assert f'"blob":"{"x" * size}"' in after
            else:
                assert response.status_code == 413
                assert after == before
                assert size > limit - 100  # only records that would not fit are refused

        write()


def test_read_only_requests_write_nothing(session_store_url: str) -> None:
    client, store = open_client(session_store_url)
    with client:
        browser = Browser(client)
        browser.request("POST", "/test/session/login?user=ada")
        saves = store.saves
        for _ in range(3):
            response = browser.request("GET", "/test/session")
            assert "set-cookie" not in response.headers
            assert response.json() == {"user": "ada"}
        assert store.saves == saves
        browser.request("POST", "/test/session/count")
        assert store.saves == saves + 1


def test_an_idle_session_expires(session_store_url: str) -> None:
    client, _ = open_client(session_store_url, idle_ttl=1)
    with client:
        browser = Browser(client)
        browser.request("POST", "/test/session/count")
        old_id = issued_id(browser)
        time.sleep(2.5)  # Memcached's whole-second clock may add up to 1 s
        assert browser.request("GET", "/test/session").json() == {}
        browser.request("POST", "/test/session/count")
        assert issued_id(browser) != old_id


def test_an_active_session_ends_at_the_absolute_max_age(session_store_url: str) -> None:
    client, _ = open_client(session_store_url, idle_ttl=60, max_age=2)
    with client:
        browser = Browser(client)
        browser.request("POST", "/test/session/login?user=ada")
        for _ in range(3):  # keep it busy: the idle TTL never runs out
            time.sleep(0.8)
            browser.request("GET", "/test/session")
        assert browser.request("GET", "/test/session").json() == {}


def open_app(settings: Settings) -> TestClient:
    """The whole app (every middleware), with the test session routes."""
    app = create_app(settings)
    add_test_routes(app)
    return TestClient(app, base_url="https://testserver", raise_server_exceptions=False)


@pytest.mark.parametrize("session_store_url", ["sqlite"], indirect=True)
def test_cookie_is_httponly_samesite_lax_secure_host_only(session_store_url: str) -> None:
    with open_app(make_settings(session_store_url)) as client:
        header = Browser(client).request("POST", "/test/session/count").headers["set-cookie"]
    name, _, value = header.partition(";")[0].partition("=")
    attributes = {part.strip().split("=")[0].lower() for part in header.split(";")[1:]}
    assert name == "__Host-session"
    assert {"httponly", "secure", "path", "max-age", "samesite"} <= attributes
    assert "samesite=lax" in header.lower()
    assert "path=/;" in header.lower() + ";"
    assert "domain" not in attributes  # __Host- cookies are host-only
    assert "count" not in value  # the cookie holds the signed ID, never data


@pytest.mark.parametrize("session_store_url", ["sqlite"], indirect=True)
def test_cookie_over_plain_http_when_secure_is_off(session_store_url: str) -> None:
    with open_app(make_settings(session_store_url, session_cookie_secure=False)) as client:
        browser = Browser(client, name="session")
        header = browser.request("POST", "/test/session/count").headers["set-cookie"]
        assert header.startswith("session=")
        assert "secure" not in header.lower()
        assert browser.request("GET", "/test/session").json() == {"count": 1}


@pytest.mark.parametrize(
    "dead_url",
    [
        "redis://127.0.0.1:{port}/0",
        "redis+cluster://127.0.0.1:{port}",
        "memcached://127.0.0.1:{port}",
        "postgresql://postgres@127.0.0.1:{port}/postgres",
    ],
)
def test_store_down_gives_503_and_healthz_stays_up(dead_url: str) -> None:
    settings = make_settings(dead_url.format(port=free_port()))
    with open_app(settings) as client:
        browser = Browser(client)
        assert browser.request("POST", "/test/session/count").status_code == 503  # a new session
        # A visitor who has a session: its every read needs the store.
        browser.cookie = CookieSigner(settings.secret_key.get_secret_value()).sign(new_id())
        for method, path in [("GET", "/test/session"), ("POST", "/test/session/count")]:
            response = browser.request(method, path)
            assert response.status_code == 503, path
            assert response.json() == {"detail": "session store unavailable, try again shortly"}
            assert "Traceback" not in response.text
        assert browser.request("GET", "/healthz").json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("kind", "fixture"),
    [
        ("redis", "redis_process"),
        ("redis+cluster", "redis_cluster_process"),  # every node stopped, then started
        ("memcached", "memcached_process"),
    ],
)
def test_service_recovers_when_the_store_comes_back(
    kind: str, fixture: str, request: pytest.FixtureRequest
) -> None:
    server: LocalServer | LocalCluster = request.getfixturevalue(fixture)
    url = f"{kind}://127.0.0.1:{server.port}"
    with open_app(make_settings(url)) as client:
        browser = Browser(client)
        assert browser.request("POST", "/test/session/count").json() == {"count": 1}
        server.stop()
        assert browser.request("POST", "/test/session/count").status_code == 503
        assert browser.request("GET", "/healthz").status_code == 200
        server.start()  # an empty server: the session is gone, the service is back
        assert browser.request("POST", "/test/session/count").status_code == 200
        assert browser.request("GET", "/test/session").json() == {"count": 1}
