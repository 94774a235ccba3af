# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""What the tests share beside fixtures: the project's processes, settings and a browser.

- `procfile()` and `process_command()`: the Procfile, read one way.
- `team_values()`: the values tests give the service's own settings (settings.py).
- `process_env()`: the environment of a process under test, built one way.
- `make_settings()`: validated settings for an app built in the test process.
- `run_with_store()`: a session store's calls, on a fresh store.
- `Browser`: a TestClient that carries exactly the session cookie a test says.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import re
import shlex
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import httpx2
from fastapi.testclient import TestClient

from {{ cookiecutter.project_slug }} import assets
from {{ cookiecutter.project_slug }}.config import Settings
from {{ cookiecutter.project_slug }}.sessions import SessionStore, create_store

ROOT = Path(__file__).resolve().parents[1]  # the project
TESTS = ROOT / "tests"
# PYTHONPATH that gives a web process the routes of tests/extra_routes.py.
WITH_TEST_ROUTES = f"{TESTS / 'with_test_routes'}{os.pathsep}{TESTS}"
SECRET_KEY = "test-secret-key-" + "x" * 32
# .env.example's line above the service's own variables (settings.py's ServiceSettings).
YOUR_VARIABLES = "# Your service's own variables"
T = TypeVar("T")
PROCFILE_LINE = re.compile(r"(?P<name>[A-Za-z0-9_-]{1,63}):\s*(?P<command>\S.*)")


def procfile() -> dict[str, str]:
    """Process type -> command line, from the project's Procfile (a bad line fails)."""
    entries = {}
    for line in (ROOT / "Procfile").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            match = PROCFILE_LINE.fullmatch(line)
            assert match, f"not a Procfile entry: {line!r}"
            entries[match["name"]] = match["command"]
    return entries


def process_command(name: str) -> list[str]:
    """The Procfile's command for process type `name`, as argv."""
    return shlex.split(procfile()[name])


def team_values() -> dict[str, str]:
    """The service's own variables as the tests set them: .env.example's values below its
    "your variables" line (NAME=value; an empty value stays unset, as in .env).

    This is the one place the tests take them from, so a required setting (no default)
    works in every test once .env.example gives it a value that suits local use and tests,
    e.g. PAYMENTS_URL=http://127.0.0.1:9000. A test that needs another value sets it.
    """
    lines = (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    starts = [n for n, line in enumerate(lines) if line.startswith(YOUR_VARIABLES)]
    assert starts, f".env.example has no line starting {YOUR_VARIABLES!r}"
    values: dict[str, str] = {}
    for line in lines[starts[0] + 1 :]:
        name, sep, value = line.partition("=")
        if sep and value and not line.startswith("#"):
            values[name.strip()] = value
    return values


def process_env(
    database_url: str = "sqlite:///var/unused.sqlite3", **values: str
) -> dict[str, str]:
    """The environment of a process under test (bin/admin, a Procfile command).

    It is this process's environment without the settings variables a developer's shell
    may export (they would leak into the test), plus a valid configuration on
    `database_url` (also the session store), the service's own `team_values()` and
    `values`, e.g. `PORT="8001"`.
    """
    env = {
        key: value for key, value in os.environ.items() if key.lower() not in Settings.model_fields
    }
    env.update(team_values())
    env.update(SECRET_KEY=SECRET_KEY, DATABASE_URL=database_url, SESSION_STORE_URL=database_url)
    env.update(values)
    return env


def make_settings(session_store_url: str, **overrides: object) -> Settings:
    """Settings for an app under test; nothing read from the environment or .env (the
    service's own settings get `team_values()`)."""
    values: dict[str, object] = {
        **{name.lower(): value for name, value in team_values().items()},
        "secret_key": SECRET_KEY,
        "database_url": "sqlite:///var/test.sqlite3",
        "session_store_url": session_store_url,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


COOKIE = "__Host-session"  # the session cookie's name when Secure (the default)


class Browser:
    """A TestClient that sends exactly the session cookie we tell it (or the last one set)."""

    def __init__(self, client: TestClient, name: str = COOKIE) -> None:
        self.client, self.name = client, name
        self.cookie: str | None = None

    def request(
        self,
        method: str,
        path: str,
        *,
        json: object = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx2.Response:
        self.client.cookies.clear()
        headers = dict(headers or {})
        if self.cookie:
            headers["cookie"] = f"{self.name}={self.cookie}"
        response: httpx2.Response = self.client.request(
            method, path, json=json, content=content, headers=headers
        )
        for header in response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            if name == self.name:
                value = rest.split(";")[0]
                self.cookie = value or None
        return response


def build_assets_once() -> None:
    """bin/build's output, built unless present; for modules that make an app at import."""
    assets.BUILD.parent.mkdir(parents=True, exist_ok=True)
    with (assets.BUILD.parent / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            assets.load_manifest()
        except assets.AssetsNotBuilt:
            assets.build()


def run_with_store(
    url: str, steps: Callable[[SessionStore], Awaitable[T]], *, tls_verify: bool = True
) -> T:
    """Run `steps(store)` on a fresh store for `url`, then close it."""

    async def main() -> T:
        store = create_store(url, tls_verify=tls_verify)
        try:
            return await steps(store)
        finally:
            await store.aclose()

    return asyncio.run(main())
