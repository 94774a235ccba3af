# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Behind proxies and in browsers: security headers on every response, ALLOWED_HOSTS,
API_DOCS, a truthful 405, and X-Forwarded-Proto and X-Forwarded-For believed only from
FORWARDED_ALLOW_IPS, counting FORWARDED_TRUSTED_HOPS from the end of X-Forwarded-For (the
real web command, on a real socket).
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx2
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from starlette.types import Message, Receive, Scope, Send

from {{ cookiecutter.project_slug }}.app import create_app
from {{ cookiecutter.project_slug }}.security import ForwardedHeaders

from extra_routes import add_test_routes
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
    """The app with the test-only routes (tests/extra_routes.py), not the demo's."""
    app = create_app(make_settings(f"sqlite:///{tmp_path}/sessions.sqlite3", **settings))
    add_test_routes(app)
    return app


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
            browser.get("/test/notes"),
            browser.get("/no/such/page"),  # 404
            browser.request("OPTIONS", "/test/notes"),  # 405
            browser.post("/test/notes", json={}),  # 422
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
            response = browser.get("/test/notes")
            assert response.status_code == status, host
            if status == 400:
                assert response.json() == {"detail": "Invalid host header"}
                assert response.headers["x-frame-options"] == "DENY"
            # Probes reach a pod by its address: /healthz answers whatever the Host.
            assert browser.get("/healthz").status_code == 200


def test_any_host_is_served_when_allowed_hosts_is_empty(tmp_path: Path) -> None:
    with client(app_for(tmp_path), "anything.example") as browser:
        assert browser.get("/test/notes").status_code == 200


@pytest.mark.parametrize("docs", [True, False])
def test_api_docs_can_be_turned_off(tmp_path: Path, docs: bool) -> None:
    with client(app_for(tmp_path, api_docs=docs)) as browser:
        statuses = {path: browser.get(path).status_code for path in ("/openapi.json", "/docs")}
        assert statuses == dict.fromkeys(statuses, 200 if docs else 404)
        assert browser.get("/redoc").status_code == (200 if docs else 404)
        assert browser.get("/healthz").status_code == 200


def test_405_names_every_method_of_the_path(tmp_path: Path) -> None:
    with client(app_for(tmp_path)) as browser:
        response = browser.request("OPTIONS", "/test/notes")
        assert response.status_code == 405
        assert response.headers["allow"] == "GET, POST"
        assert response.json() == {"detail": "Method Not Allowed"}
        assert browser.delete("/test/session/login").headers["allow"] == "POST"


def test_a_body_that_is_not_utf8_is_a_documented_400(tmp_path: Path) -> None:
    with client(app_for(tmp_path)) as browser:
        response = browser.post(
            "/test/notes",
            content=b'{"text": "\xff"}',
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 400
        assert response.json() == {"detail": "There was an error parsing the body"}
        operation = browser.get("/openapi.json").json()["paths"]["/test/notes"]["post"]
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
            PYTHONPATH=WITH_TEST_ROUTES,  # adds GET /test/url and /test/client
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
                httpx2.get(f"{url}/healthz", timeout=1)
                return url
            except httpx2.TransportError:
                time.sleep(0.05)
        raise AssertionError(f"web not ready within {BOOT_LIMIT}s")

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=30)


def scheme_seen(url: str) -> str:
    """The scheme of the URL the app sees (and would generate links with)."""
    response = httpx2.get(f"{url}/test/url", headers={"x-forwarded-proto": "https"})
    assert response.status_code == 200
    return str(response.json()["url"]).split(":")[0]


@pytest.mark.slow
def test_x_forwarded_proto_is_believed_from_trusted_proxies_only(
    serve: Callable[..., str],
) -> None:
    # The client here is 127.0.0.1, reaching the dual-stack socket as ::ffff:127.0.0.1.
    assert scheme_seen(serve()) == "https"  # default: 127.0.0.1 and ::1, a local proxy
    assert scheme_seen(serve(FORWARDED_ALLOW_IPS="127.0.0.0/8")) == "https"
    assert scheme_seen(serve(FORWARDED_ALLOW_IPS="192.0.2.10,10.0.0.0/8")) == "http"


def seen(url: str, *, local_address: str = "127.0.0.1", **headers: str) -> dict[str, object]:
    """The client address and scheme the app believes, for a request from `local_address`
    (any address of 127.0.0.0/8 reaches the server, and each is a different peer) with
    `headers` (x_forwarded_for: X-Forwarded-For)."""
    transport = httpx2.HTTPTransport(local_address=local_address)
    sent = {name.replace("_", "-"): value for name, value in headers.items()}
    with httpx2.Client(transport=transport) as browser:
        response = browser.get(f"{url}/test/client", headers=sent)
    assert response.status_code == 200
    return dict(response.json())


def mapped(address: str) -> set[str]:
    """An IPv4 peer as the dual-stack socket may show it, either way."""
    return {address, f"::ffff:{address}"}


@pytest.mark.slow
def test_heroku_preset_takes_the_client_from_the_hop_the_router_appended(
    serve: Callable[..., str],
) -> None:
    # app.json: any peer is the router; the router appends the address it saw.
    url = serve(FORWARDED_ALLOW_IPS="*", FORWARDED_TRUSTED_HOPS="1")
    forged = seen(url, x_forwarded_for="6.6.6.6, 10.1.2.3, 203.0.113.7", x_forwarded_proto="https")
    assert forged == {"host": "203.0.113.7", "port": 0, "scheme": "https"}
    assert seen(url, x_forwarded_for="2001:db8::7")["host"] == "2001:db8::7"
    assert seen(url, x_forwarded_for="[2001:db8::7]:4711")["port"] == 4711
    # Not an IP address (a proxy that writes `unknown`): the peer stays the client.
    assert seen(url, x_forwarded_for="6.6.6.6, unknown")["host"] in mapped("127.0.0.1")
    without = seen(url)
    assert without["host"] in mapped("127.0.0.1")
    assert without["scheme"] == "http"


@pytest.mark.slow
def test_two_hops_skip_exactly_the_two_entries_the_proxies_appended(
    serve: Callable[..., str],
) -> None:
    # A CDN in front of the router: the CDN appends the client, the router the CDN.
    url = serve(FORWARDED_ALLOW_IPS="*", FORWARDED_TRUSTED_HOPS="2")
    chain = "6.6.6.6, 198.51.100.4, 203.0.113.9"
    assert seen(url, x_forwarded_for=chain)["host"] == "198.51.100.4"
    # One entry where two proxies must have written two: not believed.
    assert seen(url, x_forwarded_for="6.6.6.6")["host"] in mapped("127.0.0.1")


@pytest.mark.slow
def test_the_default_believes_a_local_proxy_and_no_other_peer(serve: Callable[..., str]) -> None:
    url = serve()  # FORWARDED_ALLOW_IPS=127.0.0.1,::1
    headers = {"x_forwarded_for": "6.6.6.6, 203.0.113.7", "x_forwarded_proto": "https"}
    assert seen(url, **headers) == {"host": "203.0.113.7", "port": 0, "scheme": "https"}
    # 127.0.0.2 is another peer (not listed): its forwarded headers are not believed.
    remote = seen(url, local_address="127.0.0.2", **headers)
    assert remote["host"] in mapped("127.0.0.2")
    assert remote["scheme"] == "http"


def believed(hops: int, peer: str, headers: list[tuple[bytes, bytes]]) -> Scope:
    """The scope ForwardedHeaders, trusting 10.0.0.0/8, hands on for an HTTP request from
    `peer` with `headers`."""
    handed: list[Scope] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        handed.append(scope)

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        pass

    app = ForwardedHeaders(inner, trusted=["10.0.0.0/8"], hops=hops)
    scope = {"type": "http", "scheme": "http", "client": (peer, 5000), "headers": headers}
    asyncio.run(app(scope, receive, send))
    return handed[0]


# What a client may write in its own X-Forwarded-For: any visible Latin-1 text.
CLIENT_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=40)
PROXIES = ["203.0.113.1", "198.51.100.2", "2001:db8::3"]


@settings(max_examples=60)
@given(
    forged=st.lists(CLIENT_TEXT, max_size=3),
    hops=st.integers(min_value=1, max_value=3),
    one_line=st.booleans(),
    peer=st.sampled_from(["10.0.0.5", "::ffff:10.0.0.5", "192.0.2.1"]),
)
def test_whatever_the_client_writes_the_client_is_the_hop_the_proxies_appended(
    forged: list[str], hops: int, one_line: bool, peer: str
) -> None:
    """Each proxy appends the address it saw, on the client's header line or on a line of
    its own; only peers in 10.0.0.0/8 are trusted."""
    real_client, appended = "192.0.2.77", PROXIES[: hops - 1]
    written = [real_client, *appended]
    lines = [*forged, ", ".join(written)] if not one_line else [", ".join([*forged, *written])]
    headers = [(b"x-forwarded-for", line.encode("latin-1")) for line in lines]
    headers.append((b"x-forwarded-proto", b"https"))
    scope = believed(hops, peer, headers)
    if peer == "192.0.2.1":  # not a trusted proxy: nothing it says is believed
        assert (scope["client"], scope["scheme"]) == ((peer, 5000), "http")
    else:
        assert (scope["client"], scope["scheme"]) == ((real_client, 0), "https")


@pytest.mark.parametrize("hops", ["0", "17", "one"])
def test_forwarded_trusted_hops_is_checked_at_start(tmp_path: Path, hops: str) -> None:
    with pytest.raises(ValidationError, match="forwarded_trusted_hops"):
        app_for(tmp_path, forwarded_trusted_hops=hops)
