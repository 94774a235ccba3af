# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Cross-origin protection (origins.py): the headers browsers send on state-changing
requests, every combination of them, TRUSTED_ORIGINS at start-up, and a real headless
Chromium posting to the real web process from its own page and from other origins.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from {{ cookiecutter.project_slug }}.app import create_app

from extra_routes import add_test_routes
from helpers import ROOT, WITH_TEST_ROUTES, make_settings, process_command, process_env
from servers import free_port, unavailable, wait_until

HOST = "service.example"
SELF = f"https://{HOST}"
SIBLING = "https://admin.service.example"  # same site, another origin
TRUSTED = "https://app.service.example"
COUNT = "/test/session/count"  # POST: adds one to the session's count
# A SQLite session store with its table: the check runs before any store is touched.
SQLITE = pytest.mark.parametrize("session_store_url", ["sqlite"], indirect=True)


@pytest.fixture
def browser(session_store_url: str) -> Iterator[TestClient]:
    settings = make_settings(session_store_url, trusted_origins=[f"{TRUSTED}:443"])
    app = create_app(settings)
    add_test_routes(app)
    with TestClient(app, base_url=SELF) as client:
        yield client


def headers(site: str | None, origin: str | None) -> dict[str, str]:
    sent = {"sec-fetch-site": site, "origin": origin}
    return {name: value for name, value in sent.items() if value is not None}


# (Sec-Fetch-Site, Origin) -> the refusal's reason, or None when the POST is allowed.
BROWSER_CASES = [
    ("same-origin", SELF, None),  # the service's own page
    ("none", None, None),  # typed in the address bar, a bookmark
    ("same-site", SIBLING, "Sec-Fetch-Site is same-site"),
    ("cross-site", "https://evil.example", "Sec-Fetch-Site is cross-site"),
    ("cross-site", "null", "Sec-Fetch-Site is cross-site"),  # a sandboxed frame
    ("same-site", TRUSTED, None),
    ("cross-site", "https://evil.example:443", "Sec-Fetch-Site is cross-site"),
    ("bogus", SELF, "Sec-Fetch-Site is not same-origin"),
    # Browsers without Sec-Fetch-Site (older, or plain HTTP to a non-local host):
    (None, SELF, None),
    (None, "https://service.example:8443", "Origin does not match Host"),
    (None, "https://evil.example", "Origin does not match Host"),
    (None, "null", "Origin does not match Host"),
    (None, TRUSTED, None),
    (None, None, None),  # not a browser: curl, another service
    ("", "", None),  # empty headers count as absent
]


@SQLITE
@pytest.mark.parametrize(("site", "origin", "reason"), BROWSER_CASES)
def test_state_changing_requests_from_other_origins_are_refused(
    browser: TestClient, site: str | None, origin: str | None, reason: str | None
) -> None:
    assert browser.post(COUNT).json() == {"count": 1}  # a session, as a victim has
    response = browser.post(COUNT, headers=headers(site, origin))
    if reason is None:
        assert response.json() == {"count": 2}
        return
    assert response.status_code == 403
    assert response.json() == {"detail": f"Cross-origin request refused: {reason}"}
    assert response.headers["x-frame-options"] == "DENY"  # inside SecurityHeaders
    assert "set-cookie" not in response.headers
    assert browser.get("/test/session").json() == {"count": 1}  # the session is unchanged


@SQLITE
@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "PROPFIND"])
def test_every_method_but_get_head_and_options_is_checked(browser: TestClient, method: str) -> None:
    cross = headers("cross-site", "https://evil.example")
    assert browser.request(method, COUNT, headers=cross).status_code == 403
    assert browser.request(method, COUNT, headers=headers("same-origin", SELF)).status_code == 405


SITES = st.sampled_from([None, "", "same-origin", "none", "same-site", "cross-site", "Cross-Site"])
ORIGINS = st.sampled_from(
    [None, "", SELF, SIBLING, TRUSTED, "http://service.example", "null", "https://evil.example"]
)
ANY_TEXT = st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=30)
METHODS = st.sampled_from(["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE", "TRACE"])


def allowed(method: str, site: str | None, origin: str | None) -> bool:
    """The rule, written as a table: Go's net/http CrossOriginProtection."""
    site, origin = site or None, origin or None  # empty counts as absent
    if method in ("GET", "HEAD", "OPTIONS") or origin == TRUSTED:
        return True
    if site is not None:
        return site in ("same-origin", "none")
    # Without Sec-Fetch-Site, Origin is compared with Host, scheme aside.
    return origin is None or origin.split("://", 1)[-1] == HOST


@SQLITE
def test_any_combination_of_headers_is_allowed_exactly_by_the_rule(browser: TestClient) -> None:
    @settings(max_examples=60)
    @given(METHODS, SITES | ANY_TEXT, ORIGINS | ANY_TEXT)
    def check(method: str, site: str | None, origin: str | None) -> None:
        before = browser.get("/test/session").json()
        response = browser.request(method, COUNT, headers=headers(site, origin))
        if allowed(method, site, origin):
            assert response.status_code in (200, 405)  # the route answered
        else:
            assert response.status_code == 403
            assert response.json()["detail"].startswith("Cross-origin request refused: ")
            assert browser.get("/test/session").json() == before

    check()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "https://App.Example.com:443, http://localhost:3000",
            ["https://app.example.com", "http://localhost:3000"],
        ),
        ("http://[::1]:8000,http://192.0.2.1:80", ["http://[::1]:8000", "http://192.0.2.1"]),
        ("", []),
    ],
)
def test_trusted_origins_are_read_as_browsers_write_origins(
    value: str, expected: list[str]
) -> None:
    settings = make_settings("sqlite:///var/unused.sqlite3", trusted_origins=value)
    assert settings.trusted_origins == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("https://ok.example, app.example.com", "item 2 needs a scheme and a host"),
        ("https://app.example.com/", "item 1 has a path, query or fragment"),
        ("https://app.example.com?x", "item 1 has a path, query or fragment"),
        ("*", "item 1 needs a scheme and a host"),
        ("https://*.example.com", "item 1 names no valid host"),
        ("https://user@app.example.com", "item 1 names no valid host"),
        ("https://app.example.com:99999", "item 1 is not a URL"),
    ],
)
def test_a_bad_trusted_origin_is_named_at_start(value: str, message: str) -> None:
    with pytest.raises(ValidationError, match="trusted_origins") as error:
        make_settings("sqlite:///var/unused.sqlite3", trusted_origins=value)
    assert message in str(error.value)
    assert "scheme://host[:port]" in str(error.value)


# A real browser ----------------------------------------------------------------------------

BROWSER_LIMIT = 30.0  # seconds for chromedriver, Chromium and a page: a loaded CI machine
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",  # CI containers run as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-extensions",
    "--disable-sync",
]


# Debian's and Ubuntu's Chromium, or Google Chrome (GitHub's runners have it and its driver).
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def browser_binary() -> str | None:
    return next(filter(None, map(shutil.which, BROWSERS)), None)


class WebDriver:
    """Just enough of the W3C WebDriver protocol, spoken to chromedriver over HTTP."""

    def __init__(self, url: str, binary: str) -> None:
        self.url = url
        chrome = {"binary": binary, "args": CHROMIUM_FLAGS}
        capabilities = {"alwaysMatch": {"goog:chromeOptions": chrome}}
        self.session = self.call("POST", "/session", {"capabilities": capabilities})["sessionId"]

    def call(self, method: str, path: str, body: object = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        # self.url is chromedriver's http://127.0.0.1:port, set by the fixture.
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method)  # noqa: S310
        request.add_header("content-type", "application/json")
        with urllib.request.urlopen(request, timeout=BROWSER_LIMIT) as response:  # noqa: S310
            return json.load(response)["value"]

    def open(self, url: str) -> None:
        self.call("POST", f"/session/{self.session}/url", {"url": url})

    def run(self, script: str, *args: object) -> Any:
        """Run `script` in the page; it finishes by calling `done(result)`."""
        body = {"script": f"const done = arguments[arguments.length - 1]; {script}", "args": args}
        return self.call("POST", f"/session/{self.session}/execute/async", body)

    def page_text(self) -> str:
        return str(self.run("done(document.body.innerText)"))

    def close(self) -> None:
        self.call("DELETE", f"/session/{self.session}")


@pytest.fixture
def chromium() -> Iterator[WebDriver]:
    binary = browser_binary()
    if not (binary and shutil.which("chromedriver")):
        unavailable("Chromium (or Chrome) and chromedriver are needed for the browser test")
    port = free_port()
    driver = subprocess.Popen(
        [str(shutil.which("chromedriver")), f"--port={port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: responds(f"http://127.0.0.1:{port}/status"), driver, "chromedriver")
        webdriver = WebDriver(f"http://127.0.0.1:{port}", binary)
        yield webdriver
        webdriver.close()
    finally:
        driver.terminate()
        driver.wait(timeout=30)


def responds(url: str) -> bool:
    try:
        return httpx2.get(url, timeout=1).status_code == 200
    except httpx2.TransportError:
        return False


def serve_page(host: str, html: str) -> tuple[str, Callable[[], None]]:
    """Serve `html` at http://host:port/ from a thread; returns the URL and its stop."""

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = html.encode()
            self.send_response(200)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # no access log on the test's output

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return f"http://{host}:{server.server_address[1]}/", stop


@pytest.fixture
def pages() -> Iterator[Callable[[str, str], str]]:
    stops: list[Callable[[], None]] = []

    def serve(host: str, html: str) -> str:
        url, stop = serve_page(host, html)
        stops.append(stop)
        return url

    yield serve
    for stop in stops:
        stop()


def start_service(store_url: str, port: int, **values: str) -> subprocess.Popen[bytes]:
    env = process_env(
        store_url,
        PORT=str(port),
        WEB_CONCURRENCY="1",
        SESSION_COOKIE_SECURE="false",  # plain HTTP on 127.0.0.1
        PYTHONPATH=WITH_TEST_ROUTES,  # adds /test/session/*
        **values,
    )
    web = process_command("web")
    process = subprocess.Popen(web, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    wait_until(lambda: responds(f"http://127.0.0.1:{port}/healthz"), process, "web")
    return process


# A page on another origin that posts to the service with the user's cookies, as a form
# (a top-level navigation) and as a script (fetch; the answer is opaque, the effect is not).
# The form is sent on opening the page with #form.
ATTACK = """<form method="post" action="{}"></form>
<script>if (location.hash === "#form") document.forms[0].submit()</script>"""
FETCH = "fetch(arguments[0], {method: 'POST', mode: 'no-cors', credentials: 'include'})"


@SQLITE
@pytest.mark.slow
def test_a_real_browser_posts_from_the_services_page_and_not_from_another_origin(
    chromium: WebDriver, pages: Callable[[str, str], str], session_store_url: str
) -> None:
    port = free_port()
    service = f"http://127.0.0.1:{port}"
    count = f"{service}{COUNT}"
    # Same site as the service (127.0.0.1, another port): SameSite=Lax sends the cookie.
    sibling = pages("127.0.0.1", ATTACK.format(count))
    cross_site = pages("localhost", ATTACK.format(count))
    trusted = pages("127.0.0.1", "<p>a trusted front end</p>")
    web = start_service(session_store_url, port, TRUSTED_ORIGINS=trusted.rstrip("/"))
    try:
        chromium.open(f"{service}/healthz")  # a page of the service: its origin
        own = "fetch(arguments[0], {method: 'POST'}).then(r => r.json()).then(done)"
        assert chromium.run(own, COUNT) == {"count": 1}

        for attacker, refusal in [(sibling, "same-site"), (cross_site, "cross-site")]:
            chromium.open(f"{attacker}#form")  # the form posts, the browser shows the answer
            text = answer_shown(chromium, service)
            assert f"Cross-origin request refused: Sec-Fetch-Site is {refusal}" in text
            chromium.open(attacker)
            chromium.run(f"{FETCH}.then(() => done(), () => done())", count)

        chromium.open(trusted)  # TRUSTED_ORIGINS: its post goes through
        chromium.run(f"{FETCH}.then(() => done(), () => done())", count)

        chromium.open(f"{service}/healthz")
        session = "fetch(arguments[0]).then(r => r.json()).then(done)"
        assert chromium.run(session, "/test/session") == {"count": 2}  # 1, + the trusted one
    finally:
        web.terminate()
        web.wait(timeout=30)


def answer_shown(chromium: WebDriver, service: str) -> str:
    """The page's text once the browser shows the service's answer to the form."""
    deadline = time.monotonic() + BROWSER_LIMIT
    while time.monotonic() < deadline:
        if str(chromium.call("GET", f"/session/{chromium.session}/url")).startswith(service):
            text = chromium.page_text()
            if text:
                return text
        time.sleep(0.05)
    raise AssertionError("the browser never showed the service's answer")
