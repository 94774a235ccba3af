# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Bad HTTP input gets a clear 4xx and loses nothing: a body past MAX_REQUEST_BODY_BYTES
is refused (in process and over real sockets), a 422 repeats at most an excerpt of what
was sent and always encodes, a slash redirect never names a host the client chose, and a
log line survives any text.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import select
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx2
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field

from {{ cookiecutter.project_slug }} import logs, request_log
from {{ cookiecutter.project_slug }}.app import create_app

from extra_routes import count
from helpers import ROOT, WITH_TEST_ROUTES, make_settings, process_command, process_env
from servers import free_port

LIMIT = 64 * 1024  # MAX_REQUEST_BODY_BYTES in these tests
JSON_BODY = {"content-type": "application/json"}
BOUNDED = settings(max_examples=40)


class Signup(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=20)
    age: int = Field(ge=0)


def build_app(tmp_path: Path, **overrides: object) -> FastAPI:
    """The real app plus test-only routes: one that reads the body, one that validates it,
    one that writes the session."""
    url = f"sqlite:///{tmp_path}/sessions.sqlite3"
    app = create_app(make_settings(url, max_request_body_bytes=LIMIT, **overrides))
    app.state.reads = 0

    async def body(request: Request) -> dict[str, int]:
        request.app.state.reads += 1
        return {"bytes": len(await request.body())}

    async def signup(signup: Signup) -> Signup:
        return signup

    app.add_api_route("/test/body", body, methods=["POST"])
    app.add_api_route("/test/signup", signup, methods=["POST"])
    app.add_api_route("/test/files/{name}", body, methods=["GET"])
    app.add_api_route("/test/session/count", count, methods=["POST"])
    return app


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return build_app(tmp_path)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://testserver") as client:
        yield client


# -- request bodies ---------------------------------------------------------------------


def test_a_body_at_the_limit_is_read_whole(client: TestClient) -> None:
    response = client.post("/test/body", content=b"x" * LIMIT)
    assert (response.status_code, response.json()) == (200, {"bytes": LIMIT})


@pytest.mark.parametrize("path", ["/test/body", "/test/session/count"])
def test_a_declared_length_past_the_limit_is_refused_unread(
    client: TestClient, app: FastAPI, path: str
) -> None:
    response = client.post(path, content=b"x" * (LIMIT + 1))
    assert response.status_code == 413
    assert response.json() == {"detail": f"request body too large: the limit is {LIMIT} bytes"}
    assert "set-cookie" not in response.headers  # the route never ran: no session was made
    assert app.state.reads == 0


def stream(app: FastAPI, chunks: int, chunk_size: int, path: str = "/test/body") -> Any:
    """POST `chunks` chunks with no Content-Length (as a chunked upload arrives); returns
    (status, body, how many chunks the app pulled)."""
    pulled = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        if pulled == chunks:
            await asyncio.sleep(3600)  # never answers again: the test would time out
        pulled += 1
        return {"type": "http.request", "body": b"x" * chunk_size, "more_body": pulled < chunks}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"transfer-encoding", b"chunked")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 443),
    }
    asyncio.run(asyncio.wait_for(app(scope, receive, send), timeout=30))  # type: ignore[arg-type]
    start = next(message for message in sent if message["type"] == "http.response.start")
    body = b"".join(message.get("body", b"") for message in sent[1:])
    return start["status"], json.loads(body), pulled


def test_a_streamed_body_is_refused_once_it_passes_the_limit(app: FastAPI) -> None:
    chunk = 4096
    status, body, pulled = stream(app, chunks=1000, chunk_size=chunk)  # 4 MB on offer
    assert status == 413
    assert body == {"detail": f"request body too large: the limit is {LIMIT} bytes"}
    assert pulled == LIMIT // chunk + 1  # the chunk that passed the limit, and no more
    assert stream(app, chunks=1000, chunk_size=chunk, path="/test/signup")[0] == 413  # JSON
    assert stream(app, chunks=LIMIT // chunk, chunk_size=chunk)[:2] == (200, {"bytes": LIMIT})


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The Procfile's web process with the test routes (POST /test/body reads the body),
    MAX_REQUEST_BODY_BYTES=LIMIT; yields its port."""
    tmp = tmp_path_factory.mktemp("web")
    port = free_port()
    env = process_env(
        f"sqlite:///{tmp}/db.sqlite3",
        PORT=str(port),
        WEB_CONCURRENCY="1",
        MAX_REQUEST_BODY_BYTES=str(LIMIT),
        PYTHONPATH=WITH_TEST_ROUTES,
    )
    process = subprocess.Popen(process_command("web"), cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "the web process exited"
            assert time.monotonic() < deadline, "the web process did not start"
            try:
                httpx2.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx2.TransportError:
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection, which it must do (a
    TimeoutError after 10 s of silence fails the test)."""
    sock.settimeout(10)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass  # closed while our unread bytes were still in its buffer
    return data


def test_over_a_socket_a_declared_length_is_refused_before_the_body_is_sent(web: int) -> None:
    with socket.create_connection(("127.0.0.1", web), timeout=10) as sock:
        sock.sendall(
            b"POST /test/body HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/octet-stream\r\nContent-Length: 20000000\r\n\r\n"
        )
        reply = answer(sock)  # not one byte of the 20 MB was sent
    assert reply.startswith(b"HTTP/1.1 413 ")
    assert b'"request body too large: the limit is 65536 bytes"' in reply


NEXT_REQUEST = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"


def send_chunked(port: int, total: int, chunk: int = 8192) -> tuple[bytes, int]:
    """POST up to `total` bytes in chunks on a keep-alive connection, stopping as soon as
    the server answers; returns (everything it sent until it closed, bytes sent)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"POST /test/body HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        sent = 0
        try:
            while sent < total and not select.select([sock], [], [], 0)[0]:
                sock.sendall(b"%x\r\n%s\r\n" % (chunk, b"x" * chunk))
                sent += chunk
            if sent >= total:
                # The last chunk, then a second request, after which the server closes.
                sock.sendall(b"0\r\n\r\n" + NEXT_REQUEST)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed while we were still sending
        return answer(sock), sent


def test_over_a_socket_a_chunked_body_is_refused_as_it_passes_the_limit(web: int) -> None:
    reply, sent = send_chunked(web, total=20_000_000)
    assert reply.startswith(b"HTTP/1.1 413 "), reply[:200]
    assert b'"request body too large: the limit is 65536 bytes"' in reply
    assert sent < 20_000_000  # refused mid-stream, not after taking it all in
    assert reply.count(b"HTTP/1.1 ") == 1  # and the connection closed: the rest goes unread
    reply, _ = send_chunked(web, total=LIMIT)  # then a second request on the connection
    assert reply.startswith(b"HTTP/1.1 200 ")
    assert b'{"bytes":65536}HTTP/1.1 200 ' in reply
    assert reply.endswith(b'{"status":"ok"}')


# -- 422 answers -------------------------------------------------------------------------


def test_a_422_repeats_only_an_excerpt_of_a_huge_field(client: TestClient) -> None:
    name = "n" * 60_000
    response = client.post("/test/signup", json={"name": name, "age": 3})
    assert response.status_code == 422
    assert len(response.content) < 1000
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "name"]
    assert error["type"] == "string_too_long"
    assert name.startswith(error["input"].removesuffix("…"))


def test_a_lone_surrogate_in_a_field_gets_a_422_naming_it(client: TestClient) -> None:
    body = b'{"name": "\\ud800", "age": 3}'
    response = client.post(
        "/test/signup", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.content.isascii()
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "name"]
    assert error["input"] == "\ud800"  # escaped in the JSON text, the same string read back


def test_a_route_answering_with_a_lone_surrogate_escapes_it(app: FastAPI) -> None:
    # Valid JSON that a loose body type (dict[str, Any]) takes as it is; a route that echoes
    # it must still answer, with the text escaped, instead of failing with a 500.
    async def echo(note: dict[str, Any]) -> dict[str, Any]:
        return note

    app.add_api_route("/test/echo", echo, methods=["POST"])
    sent = b'{"text": "a\\ud800b \xc3\xa9"}'
    with TestClient(app, base_url="https://testserver") as client:
        response = client.post("/test/echo", content=sent, headers=JSON_BODY)
    assert response.status_code == 200
    assert response.json() == {"text": "a\ud800b \u00e9"}


def test_many_errors_are_cut_to_a_few(client: TestClient) -> None:
    extra = {f"field{n}": "v" * 50 for n in range(500)}  # 500 errors, 32 KB
    response = client.post("/test/signup", json={"name": "ada", "age": 3, **extra})
    assert response.status_code == 422
    assert len(response.json()["detail"]) <= 20
    assert len(response.content) < 20_000


# Any JSON value, with text that may hold lone surrogates and numbers that may be NaN.
TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=300)
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)


@given(body=st.dictionaries(st.sampled_from(["name", "age"]) | TEXT, VALUES, max_size=4))
@BOUNDED
def test_any_json_body_gets_an_answer_that_encodes(client: TestClient, body: Any) -> None:
    raw = json.dumps(body, allow_nan=True).encode()  # Python's JSON reads NaN back
    response = client.post(
        "/test/signup", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code in (200, 422)
    assert response.content.isascii()
    parsed = response.json()
    if response.status_code == 422:
        assert len(response.content) < 20_000
        for error in parsed["detail"]:
            assert error["loc"][0] == "body"
            assert isinstance(error["msg"], str)
            text = error.get("input")
            assert not isinstance(text, str) or len(text) <= 101
            assert not (isinstance(text, float) and not math.isfinite(text))


# -- slash redirects ---------------------------------------------------------------------


def test_a_slash_redirect_stays_on_the_host_the_request_reached(client: TestClient) -> None:
    response = client.get(
        "/healthz/?probe=1", headers={"host": "evil.example"}, follow_redirects=False
    )
    assert response.status_code == 307
    assert response.headers["location"] == "/healthz?probe=1"
    assert client.get("/healthz/", follow_redirects=True).json() == {"status": "ok"}


def test_a_slash_redirect_is_relative_with_allowed_hosts_too(tmp_path: Path) -> None:
    app = build_app(tmp_path, allowed_hosts=["example.com"])
    with TestClient(app, base_url="https://example.com") as client:
        response = client.get("/healthz/", follow_redirects=False)
        assert (response.status_code, response.headers["location"]) == (307, "/healthz")
        evil = client.get("/healthz/", headers={"host": "evil.example"}, follow_redirects=False)
        assert evil.status_code == 400


@pytest.mark.parametrize(
    "path", ["//evil.example/x.txt/", "/%5Cevil.example/x.txt/", "/%2Fevil.example/x.txt/"]
)
def test_a_slash_redirect_never_leaves_the_site(app: FastAPI, path: str) -> None:
    """A path that, as a relative URL, would name another host (`//host`, which browsers
    also read from `/\\host`) is never sent back as a Location."""
    app.add_api_route("/{name:path}.txt", lambda: {}, methods=["GET"])  # matches //evil...
    with TestClient(app, base_url="https://testserver") as client:
        response = client.get(path, follow_redirects=False)
    assert response.status_code in (307, 404)
    location = response.headers.get("location", "/")
    assert location.startswith("/")
    assert not location.startswith(("//", "/\\"))


# Any text that UTF-8 encodes, percent-encoded into the path; not "." or "..", which a
# client resolves away.
SEGMENT = st.text(st.characters(codec="utf-8"), min_size=1, max_size=8).filter(
    lambda text: text not in (".", "..")
)


@given(
    host=st.from_regex(r"[a-z0-9.-]{1,40}(:[0-9]{1,5})?", fullmatch=True),
    name=SEGMENT,
    slash=st.booleans(),
)
@BOUNDED
def test_no_host_header_moves_a_slash_redirect(
    client: TestClient, host: str, name: str, slash: bool
) -> None:
    """/test/files/{name} exists without the slash: with it, the answer is a redirect to
    the path without it, relative whatever the Host header says."""
    path = "/test/files/" + name + ("/" if slash else "")
    response = client.get(quote(path), headers={"host": host}, follow_redirects=False)
    if "/" in name:  # a segment of its own: no route has it
        assert response.status_code in (307, 404)
    elif slash:
        assert response.status_code == 307
        location = response.headers["location"]
        assert location.startswith("/test/files/")
        assert httpx2.URL(location).path == path.removesuffix("/")
    else:
        assert response.status_code == 200
    if "location" in response.headers:
        assert not response.headers["location"].startswith(("//", "/\\", "http"))


# -- logs --------------------------------------------------------------------------------


TEST_LOG = logging.getLogger("test.bad_input")


@contextmanager
def json_logs_only(*loggers: logging.Logger) -> Iterator[None]:
    """The service's JSON log handler alone on `loggers`, writing to sys.stdout (which
    capsys captures as UTF-8). Entered inside the test: pytest attaches its own handlers
    to the loggers that do not propagate when a test starts, and would copy the surrogates
    into the test report, which pytest-xdist cannot send between processes.
    """
    handler = logs.handler()
    saved = [(logger.propagate, logger.level) for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.propagate = False
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        for logger, (propagate, level) in zip(loggers, saved, strict=True):
            logger.removeHandler(handler)
            logger.propagate = propagate
            logger.setLevel(level)


def test_a_lone_surrogate_never_breaks_a_log_line(capsys: pytest.CaptureFixture[str]) -> None:
    with json_logs_only(TEST_LOG):
        TEST_LOG.warning("bad name %s", "\ud800", extra={"field": "zoë \udcff"})
    captured = capsys.readouterr()
    assert "Logging error" not in captured.err
    [line] = [json.loads(text) for text in captured.out.splitlines()]
    assert line["message"] == "bad name \ud800"  # escaped, read back as it was
    assert line["field"] == "zoë \udcff"
    with json_logs_only(TEST_LOG):
        TEST_LOG.warning("zoë")
    assert "zoë" in capsys.readouterr().out  # other text stays readable UTF-8


def test_a_request_with_a_surrogate_in_its_path_is_logged(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """No server in the Procfile hands the app such a path; another ASGI server might."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def ignore(message: Any) -> None:
        pass

    scope = {"type": "http", "method": "GET", "path": "/\udce9t\u00e9", "headers": []}
    with json_logs_only(request_log.log):
        asyncio.run(request_log.RequestLogMiddleware(app)(scope, ignore, ignore))  # type: ignore[arg-type]
    captured = capsys.readouterr()
    assert "Logging error" not in captured.err
    [line] = [json.loads(text) for text in captured.out.splitlines()]
    assert (line["path"], line["status"]) == ("/\udce9t\u00e9", 404)
