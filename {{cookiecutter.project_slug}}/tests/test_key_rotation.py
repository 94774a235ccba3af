# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""SECRET_KEY rotation: a cookie signed with a key listed in SECRET_KEY_FALLBACKS still
opens its session and comes back signed with SECRET_KEY; once the old key leaves the
list, a cookie signed with it opens nothing. Against a real Redis session store, through
the test-only session routes (tests/extra_routes.py).
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.project_slug }}.app import create_app
from {{ cookiecutter.project_slug }}.config import Settings, load_settings
from {{ cookiecutter.project_slug }}.sessions.ids import CookieSigner

from extra_routes import add_test_routes
from helpers import Browser, make_settings, team_values

OLD_KEY = "old-secret-key-" + "o" * 32
NEW_KEY = "new-secret-key-" + "n" * 32


def client(redis_url: str, key: str, fallbacks: list[str]) -> TestClient:
    settings = make_settings(redis_url, secret_key=key, secret_key_fallbacks=fallbacks)
    app = create_app(settings)
    add_test_routes(app)
    return TestClient(app, base_url="https://testserver")


def logged_in_with_old_key(redis_url: str) -> str:
    with client(redis_url, OLD_KEY, []) as old:
        browser = Browser(old)
        assert browser.request("POST", "/test/session/login?user=ada").status_code == 200
        assert browser.cookie is not None
        return browser.cookie


def test_a_fallback_key_opens_the_session_and_the_cookie_is_re_signed(redis_url: str) -> None:
    old_cookie = logged_in_with_old_key(redis_url)
    session_id = CookieSigner(OLD_KEY).unsign(old_cookie)
    assert session_id is not None
    with client(redis_url, NEW_KEY, [OLD_KEY]) as rotating:
        browser = Browser(rotating)
        browser.cookie = old_cookie
        response = browser.request("GET", "/test/session")
        assert response.json() == {"user": "ada"}
        # The same session, its cookie now signed with the new key (and not the old one).
        assert browser.cookie != old_cookie
        assert CookieSigner(NEW_KEY).unsign(browser.cookie) == session_id
        assert CookieSigner(OLD_KEY).unsign(browser.cookie) is None
        assert "Max-Age=" in response.headers["set-cookie"]
        # Signed with the current key: nothing more to re-sign.
        assert "set-cookie" not in browser.request("GET", "/test/session").headers
    with client(redis_url, NEW_KEY, []) as rotated:
        browser = Browser(rotated)
        browser.cookie = CookieSigner(NEW_KEY).sign(session_id)
        assert browser.request("GET", "/test/session").json() == {"user": "ada"}


def test_a_key_no_longer_listed_opens_nothing(redis_url: str) -> None:
    old_cookie = logged_in_with_old_key(redis_url)
    with client(redis_url, NEW_KEY, []) as rotated:
        browser = Browser(rotated)
        browser.cookie = old_cookie
        assert browser.request("GET", "/test/session").json() == {}


def required_only(monkeypatch: pytest.MonkeyPatch) -> None:
    for field in Settings.model_fields:
        monkeypatch.delenv(field.upper(), raising=False)
    for name, value in team_values().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SECRET_KEY", NEW_KEY)
    monkeypatch.setenv("DATABASE_URL", "sqlite:///var/test.sqlite3")
    monkeypatch.setenv("SESSION_STORE_URL", "sqlite:///var/test.sqlite3")


def test_fallbacks_are_read_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    required_only(monkeypatch)
    monkeypatch.setenv("SECRET_KEY_FALLBACKS", f" {OLD_KEY} ,{'x' * 40},")
    keys = load_settings(env_file=None).secret_key_fallbacks
    assert [key.get_secret_value() for key in keys] == [OLD_KEY, "x" * 40]


def test_a_short_fallback_key_is_refused_without_showing_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    required_only(monkeypatch)
    monkeypatch.setenv("SECRET_KEY_FALLBACKS", f"{OLD_KEY},too-short-secret")
    with pytest.raises(SystemExit):
        load_settings(env_file=None)
    message = capsys.readouterr().err
    assert "SECRET_KEY_FALLBACKS: key 2 is shorter than 32 characters" in message
    assert "too-short-secret" not in message
    assert OLD_KEY not in message
