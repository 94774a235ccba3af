# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""The web app: /healthz, JSON errors that never leak internals, request IDs, and one JSON
log line per request on stdout.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from {{ cookiecutter.project_slug }} import logs
from {{ cookiecutter.project_slug }}.app import TITLE, create_app
from {{ cookiecutter.project_slug }}.config import Settings

from helpers import make_settings

GENERATED_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def settings() -> Settings:
    return make_settings(
        "sqlite:///var/test-sessions.sqlite3",
        secret_key=SecretStr("t" * 40),
        database_url="sqlite:///var/test.sqlite3",
    )


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    """The real app plus two test-only routes: one that fails, one with a typed parameter."""
    app = create_app(settings)

    async def boom() -> None:
        raise RuntimeError("internal detail: password=hunter2")

    async def square(number: int) -> dict[str, int]:
        return {"square": number * number}

    app.add_api_route("/test/boom", boom)
    app.add_api_route("/test/square", square)
    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


Logs = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def stdout_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[Logs]:
    """Configures JSON logging for the test; the callable returns the records logged since
    its last call, parsed from stdout (which must hold nothing but JSON lines).
    """
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    logs.configure("INFO")  # its handler writes to the stdout capsys captures
    yield lambda: [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    root.handlers[:] = handlers
    root.setLevel(level)


def requests_logged(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [record for record in records if record["message"] == "request"]


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_settings_are_on_the_app(app: FastAPI, settings: Settings) -> None:
    assert app.state.settings is settings


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/no/such/page", 404), ("DELETE", "/healthz", 405)],
)
def test_http_errors_are_json(client: TestClient, method: str, path: str, status: int) -> None:
    response = client.request(method, path)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert isinstance(response.json()["detail"], str)


def test_validation_error_is_a_json_422_naming_the_field(client: TestClient) -> None:
    response = client.get("/test/square", params={"number": "seven"})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["query", "number"]
    assert client.get("/test/square", params={"number": "7"}).json() == {"square": 49}


def test_unhandled_error_is_a_json_500_without_internals(
    client: TestClient, stdout_logs: Logs
) -> None:
    stdout_logs()
    response = client.get("/test/boom")
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal Server Error"}
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
    request_id = response.headers["x-request-id"]
    records = stdout_logs()
    [error] = [record for record in records if record["level"] == "ERROR"]
    [request] = requests_logged(records)
    assert error["request_id"] == request_id
    assert "RuntimeError" in error["exception"]  # the traceback is in the log
    assert (request["status"], request["request_id"]) == (500, request_id)


def test_one_json_log_line_per_request(client: TestClient, stdout_logs: Logs) -> None:
    stdout_logs()
    client.get("/healthz")
    client.get("/missing")
    first, second = requests_logged(stdout_logs())
    assert first["message"] == "request"
    assert (first["method"], first["path"], first["status"]) == ("GET", "/healthz", 200)
    assert (second["path"], second["status"]) == ("/missing", 404)
    for line in (first, second):
        assert isinstance(line["duration_ms"], float)
        assert line["duration_ms"] >= 0
        assert GENERATED_ID.fullmatch(line["request_id"])
        assert line["level"] == "INFO"
    assert first["request_id"] != second["request_id"]


def test_request_id_is_generated(client: TestClient) -> None:
    first = client.get("/healthz").headers["x-request-id"]
    second = client.get("/healthz").headers["x-request-id"]
    assert GENERATED_ID.fullmatch(first)
    assert first != second


def test_sane_incoming_request_id_is_kept(client: TestClient, stdout_logs: Logs) -> None:
    stdout_logs()
    incoming = "6f1c2a7e-95d4-4b1e-a3e2-0c9d8b7a6f5e"
    response = client.get("/healthz", headers={"X-Request-ID": incoming})
    assert response.headers["x-request-id"] == incoming
    [line] = requests_logged(stdout_logs())
    assert line["request_id"] == incoming


@pytest.mark.parametrize(
    "incoming",
    ['abc", "level": "forged', "x" * 129, "<script>", "id with spaces", "-leading-dash"],
)
def test_odd_incoming_request_id_is_replaced(client: TestClient, incoming: str) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": incoming})
    assert GENERATED_ID.fullmatch(response.headers["x-request-id"])


def test_openapi_schema_is_published(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert "/healthz" in schema["paths"]
    assert schema["info"]["title"] == TITLE
