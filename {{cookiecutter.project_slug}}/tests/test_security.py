# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Behind proxies and in browsers: security headers on every response, ALLOWED_HOSTS,
API_DOCS, a truthful 405, and X-Forwarded-Proto believed only from FORWARDED_ALLOW_IPS
(the real web command, on a real socket).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from {{ cookiecutter.project_slug }}.app import create_app

from helpers import ROOT, WITH_TEST_ROUTES, make_settings, process_command, process_env
from servers import free_port

BOOT_LIMIT = 60.0  # seconds: a bound for a loaded CI machine, not a benchmark
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "x-frame-options": "DENY",
    "content-security-policy": "frame-ancestors 'none'",
}


def app_for(tmp_path: Path, **settings: object) -> FastAPI:
    return create_app(make_settings(f"sqlite:///{tmp_path}/sessions.sqlite3", **settings))


def client(app: FastAPI, host: str = "testserver") -> TestClient:
    return TestClient(app, base_url=f"https://{host}", raise_server_exceptions=False)


def test_every_response_carries_the_security_headers(tmp_path: Path) -> None:
    app = app_for(tmp_path)

    @app.get("/test/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    with client(app) as browser:
        responses = [
            browser.get("/healthz"),
            browser.get("/"),
            browser.get("/no/such/page"),  # 404
            browser.request("OPTIONS", "/api/visits"),  # 405
            browser.post("/api/login", json={}),  # 422
            browser.get("/test/boom"),  # 500 from RequestLogMiddleware
        ]
    assert [r.status_code for r in responses] == [200, 200, 404, 405, 422, 500]
    for response in responses:
        for name, value in SECURITY_HEADERS.items():
            assert response.headers.get(name) == value, (response.url, name)
        assert response.headers["strict-transport-security"] == "max-age=31536000"


def test_no_hsts_when_the_cookie_may_travel_over_plain_http(tmp_path: Path) -> None:
    with client(app_for(tmp_path, session_cookie_secure=False)) as browser:
        response = browser.get("/healthz")
    assert "strict-transport-security" not in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"


def test_allowed_hosts(tmp_path: Path) -> None:
    app = app_for(tmp_path, allowed_hosts=["example.com", "*.example.org", "[::1]"])
    for host, status in [
        ("example.com", 200),
        ("EXAMPLE.com:8443", 200),
        ("api.example.org", 200),
        ("example.org", 400),  # *.example.org is its subdomains only
        ("[::1]:8000", 200),
        ("evil.example", 400),
        ("example.com.evil.example", 400),
    ]:
        with client(app, host) as browser:
            response = browser.get("/api/visits")
            assert response.status_code == status, host
            if status == 400:
                assert response.json() == {"detail": "Invalid host header"}
                assert response.headers["x-frame-options"] == "DENY"
            # Probes reach a pod by its address: /healthz answers whatever the Host.
            assert browser.get("/healthz").status_code == 200


def test_any_host_is_served_when_allowed_hosts_is_empty(tmp_path: Path) -> None:
    with client(app_for(tmp_path), "anything.example") as browser:
        assert browser.get("/api/visits").status_code == 200


@pytest.mark.parametrize("docs", [True, False])
def test_api_docs_can_be_turned_off(tmp_path: Path, docs: bool) -> None:
    with client(app_for(tmp_path, api_docs=docs)) as browser:
        statuses = {path: browser.get(path).status_code for path in ("/openapi.json", "/docs")}
        assert statuses == dict.fromkeys(statuses, 200 if docs else 404)
        assert browser.get("/redoc").status_code == (200 if docs else 404)
        assert browser.get("/healthz").status_code == 200


def test_405_names_every_method_of_the_path(tmp_path: Path) -> None:
    with client(app_for(tmp_path)) as browser:
        response = browser.request("OPTIONS", "/api/visits")
        assert response.status_code == 405
        assert response.headers["allow"] == "GET, POST"
        assert response.json() == {"detail": "Method Not Allowed"}
        assert browser.delete("/api/login").headers["allow"] == "POST"


def test_a_body_that_is_not_utf8_is_a_documented_400(tmp_path: Path) -> None:
    with client(app_for(tmp_path)) as browser:
        response = browser.post(
            "/api/login",
            content=b'{"username": "\xff"}',
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 400
        assert response.json() == {"detail": "There was an error parsing the body"}
        operation = browser.get("/openapi.json").json()["paths"]["/api/login"]["post"]
    assert "400" in operation["responses"]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., str]]:
    processes: list[subprocess.Popen[bytes]] = []

    def start(**values: str) -> str:
        port = free_port()
        env = process_env(
            f"sqlite:///{tmp_path}/db.sqlite3",
            PORT=str(port),
            WEB_CONCURRENCY="1",
            SESSION_STORE_URL=f"sqlite:///{tmp_path}/sessions.sqlite3",
            PYTHONPATH=WITH_TEST_ROUTES,  # adds GET /test/url
            **values,
        )
        web = process_command("web")
        process = subprocess.Popen(web, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        processes.append(process)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + BOOT_LIMIT
        while time.monotonic() < deadline:
            assert process.poll() is None, "the web process exited"
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                return url
            except httpx.TransportError:
                time.sleep(0.05)
        raise AssertionError(f"web not ready within {BOOT_LIMIT}s")

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=30)


def scheme_seen(url: str) -> str:
    """The scheme of the URL the app sees (and would generate links with)."""
    response = httpx.get(f"{url}/test/url", headers={"x-forwarded-proto": "https"})
    assert response.status_code == 200
    return str(response.json()["url"]).split(":")[0]


def test_x_forwarded_proto_is_believed_from_trusted_proxies_only(
    serve: Callable[..., str],
) -> None:
    # The client here is 127.0.0.1, reaching the dual-stack socket as ::ffff:127.0.0.1.
    assert scheme_seen(serve()) == "https"  # default: 127.0.0.1 and ::1, a local proxy
    assert scheme_seen(serve(FORWARDED_ALLOW_IPS="127.0.0.0/8")) == "https"
    assert scheme_seen(serve(FORWARDED_ALLOW_IPS="192.0.2.10,10.0.0.0/8")) == "http"
