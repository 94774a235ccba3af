# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""The demo: the page at / and its session endpoints, through the real app, on every store."""

from __future__ import annotations

import html
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.project_slug }}.app import TITLE, create_app

from helpers import COOKIE, Browser, make_settings


def open_app(session_store_url: str, **settings: object) -> TestClient:
    app = create_app(make_settings(session_store_url, **settings))
    return TestClient(app, base_url="https://testserver", raise_server_exceptions=False)


@pytest.fixture
def browser(session_store_url: str) -> Iterator[Browser]:
    with open_app(session_store_url) as client:
        yield Browser(client)


def test_visits_count_per_session(browser: Browser, session_store_url: str) -> None:
    assert browser.request("GET", "/api/visits").json() == {"visits": 0}
    assert browser.request("POST", "/api/visits").json() == {"visits": 1}
    assert browser.request("POST", "/api/visits").json() == {"visits": 2}
    assert browser.request("GET", "/api/visits").json() == {"visits": 2}
    other = Browser(browser.client)
    assert other.request("GET", "/api/visits").json() == {"visits": 0}


def test_reading_an_empty_session_creates_nothing(browser: Browser) -> None:
    response = browser.request("GET", "/api/visits")
    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    assert browser.request("GET", "/api/me").status_code == 401


def test_login_me_logout(browser: Browser) -> None:
    assert browser.request("GET", "/api/me").json() == {"detail": "not logged in"}
    login = browser.request("POST", "/api/login", json={"username": "zoë"})
    assert login.status_code == 200
    assert login.json() == {"username": "zoë"}
    assert browser.request("GET", "/api/me").json() == {"username": "zoë"}
    logged_in = browser.cookie

    logout = browser.request("POST", "/api/logout")
    assert logout.status_code == 204
    cleared = logout.headers["set-cookie"]
    assert cleared.startswith(f"{COOKIE}=;")
    assert "Max-Age=0" in cleared
    browser.cookie = logged_in  # a copy of the cookie kept from before the logout
    assert browser.request("GET", "/api/me").status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"username": ""},
        {"username": "   "},
        {"username": "two words"},
        {"username": "x" * 151},
        {"username": 42},
        {"username": "ok", "admin": True},
        ["username"],
    ],
)
@pytest.mark.parametrize("session_store_url", ["sqlite"], indirect=True)
def test_login_refuses_bad_bodies_with_a_clear_422(browser: Browser, body: object) -> None:
    response = browser.request("POST", "/api/login", json=body)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail
    assert all("msg" in item and "loc" in item for item in detail)
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize("session_store_url", ["sqlite"], indirect=True)
def test_login_refuses_a_body_that_is_not_json(browser: Browser) -> None:
    response = browser.request(
        "POST", "/api/login", content=b"\x80(", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400  # FastAPI: the body is not JSON at all
    assert response.json()["detail"]
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize("session_store_url", ["sqlite"], indirect=True)
def test_the_page_links_the_fingerprinted_assets(session_store_url: str) -> None:
    with open_app(session_store_url) as client:
        page = client.get("/")
        assets = client.app.state.assets  # type: ignore[attr-defined]
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert f"<h1>{html.escape(TITLE)}</h1>" in page.text
    for url in assets.values():
        if url.endswith((".css", ".js")):
            assert f'"{url}"' in page.text
