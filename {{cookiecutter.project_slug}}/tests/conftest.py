# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Real backing services for the tests: Redis, Memcached and PostgreSQL.

Each server comes from TEST_REDIS_URL / TEST_MEMCACHED_URL / TEST_DATABASE_URL when set
(a CI with service containers), else the fixture starts one from the machine's binaries
on a free port in a temp folder and stops it at the end of the session. Under pytest-xdist
every worker gets its own servers. A server that cannot be had skips the tests that need
it, with the reason; on CI (CI=true) it fails them instead, so a green CI run means every
store was really tested.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql
from sqlalchemy.engine import make_url

from {{ cookiecutter.project_slug }} import assets
from {{ cookiecutter.project_slug }}.config import Settings
from {{ cookiecutter.project_slug }}.db import create_sync_engine, metadata, sessions

TESTS = Path(__file__).parent
# PYTHONPATH that gives a web process the routes of tests/extra_routes.py.
WITH_TEST_ROUTES = f"{TESTS / 'with_test_routes'}{os.pathsep}{TESTS}"
STARTUP_TIMEOUT = 30.0  # seconds; generous for a loaded 2-core CI machine


@pytest.fixture(scope="session", autouse=True)
def built_assets() -> None:
    """The app serves bin/build's output: build it once if it is missing (xdist-safe)."""
    assets.BUILD.parent.mkdir(parents=True, exist_ok=True)
    with (assets.BUILD.parent / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            assets.load_manifest()
        except assets.AssetsNotBuilt:
            assets.build()


def unavailable(reason: str) -> NoReturn:
    """Skip locally, fail on CI: a missing backing service must not pass CI silently."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"backing service unavailable on CI: {reason}", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    """A port nobody listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(
    ready: Callable[[], bool], process: subprocess.Popen[bytes] | None, what: str
) -> None:
    """Poll `ready()` until true; give up when the process died or the timeout passed."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode}")
        if ready():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} not ready after {STARTUP_TIMEOUT:.0f}s")


def answers(port: int, request: bytes, expected: bytes) -> bool:
    """True when a server on the port answers `request` with a reply starting `expected`."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(request)
            return sock.recv(64).startswith(expected)
    except OSError:
        return False


@dataclass
class LocalServer:
    """A server process on a loopback port that tests can stop and start again.

    The port stays the same across restarts, so a URL handed out before a stop works
    again after `start()`: that is how the tests check recovery without a restart.
    """

    name: str
    argv: list[str]
    ping: bytes  # a request the server answers once it is ready...
    pong: bytes  # ...with a reply that starts with this
    port: int
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_until(lambda: answers(self.port, self.ping, self.pong), self.process, self.name)
        except RuntimeError:
            self.stop()
            raise

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def redis_server(workdir: Path) -> LocalServer:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server not found on PATH")
    port = free_port()
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir)]
    argv += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
    return LocalServer("redis-server", argv, b"PING\r\n", b"+PONG", port)


def memcached_server() -> LocalServer:
    binary = shutil.which("memcached")
    if binary is None:
        raise RuntimeError("memcached not found on PATH")
    port = free_port()
    argv = [binary, "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", "64"]
    if os.geteuid() == 0:  # memcached refuses to run as root unless told whom to run as
        argv += ["-u", "root"]
    return LocalServer("memcached", argv, b"version\r\n", b"VERSION", port)


def _started(factory: Callable[[], LocalServer]) -> Iterator[LocalServer]:
    try:
        server = factory()
        server.start()
    except (OSError, RuntimeError) as error:
        unavailable(str(error))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_process(tmp_path: Path) -> Iterator[LocalServer]:
    """A Redis server of this test's own, which the test may stop and start."""
    yield from _started(lambda: redis_server(tmp_path))


@pytest.fixture
def memcached_process() -> Iterator[LocalServer]:
    """A Memcached server of this test's own, which the test may stop and start."""
    yield from _started(memcached_server)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a real Redis server (TEST_REDIS_URL or one started for this session)."""
    if url := os.environ.get("TEST_REDIS_URL"):
        yield url
        return
    workdir = tmp_path_factory.mktemp("redis")
    for server in _started(lambda: redis_server(workdir)):
        yield f"redis://127.0.0.1:{server.port}/0"


@pytest.fixture(scope="session")
def memcached_url() -> Iterator[str]:
    """URL of a real Memcached server (TEST_MEMCACHED_URL or one started for this session)."""
    if url := os.environ.get("TEST_MEMCACHED_URL"):
        yield url
        return
    for server in _started(memcached_server):
        yield f"memcached://127.0.0.1:{server.port}"


def _pg_bindir() -> Path:
    """The PostgreSQL server binaries: `pg_config --bindir`, else Debian's newest install."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_major_version)
    if pg_config := shutil.which("pg_config"):
        bindir = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        candidates.append(Path(bindir.stdout.strip()))
    for path in reversed(candidates):
        if (path / "initdb").exists():
            return path
    raise RuntimeError("PostgreSQL server binaries (initdb) not found via pg_config or in /usr/lib")


def _major_version(bindir: Path) -> int:
    return int(bindir.parent.name) if bindir.parent.name.isdigit() else 0


def _as_postgres_user(argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: drop to the `postgres` user when we are root."""
    if os.geteuid() != 0:
        return argv
    runuser = shutil.which("runuser")
    if runuser is None:
        raise RuntimeError("running as root and runuser is missing: cannot start PostgreSQL")
    return [runuser, "-u", "postgres", "--", *argv]


def _pg_ready(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=1):
            return True
    except psycopg.Error:
        return False


def _run(argv: list[str]) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed: {result.stderr.strip() or result.stdout.strip()}")


def postgres_server(workdir: Path) -> Generator[str, None, None]:
    """initdb + pg_ctl start in workdir; yields a superuser URL; pg_ctl stop at the end."""
    bindir = _pg_bindir()
    data, port = workdir / "data", free_port()
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres", "postgres")
    initdb = [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"]
    _run(_as_postgres_user([*initdb, "--no-sync", "-E", "UTF8", "--locale=C"]))
    options = f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -F"
    pg_ctl = [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(workdir / "postgres.log")]
    _run(_as_postgres_user([*pg_ctl, "-o", options, "-w", "-t", "60", "start"]))
    try:
        url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        wait_until(lambda: _pg_ready(url), None, "postgres")
        yield url
    finally:
        stop = _as_postgres_user([*pg_ctl, "-m", "fast", "-w", "stop"])
        subprocess.run(stop, capture_output=True, check=False)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a real PostgreSQL server (TEST_DATABASE_URL or one started for this session).

    Tests that write should use `postgres_database_url`, a database of their own.
    """
    if url := os.environ.get("TEST_DATABASE_URL"):
        yield url
        return
    # Not under pytest's temp folder: that is private to root, and the server runs as postgres.
    workdir = Path(tempfile.mkdtemp(prefix="pytest-postgres-"))
    try:
        servers = postgres_server(workdir)
        url = next(servers)
    except (OSError, RuntimeError, subprocess.SubprocessError) as error:
        shutil.rmtree(workdir, ignore_errors=True)
        unavailable(f"PostgreSQL: {error}")
    try:
        yield url
    finally:
        servers.close()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def postgres_database_url(postgres_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test alone (safe under pytest-xdist).

    With TEST_DATABASE_URL the role needs the CREATEDB privilege.
    """
    name = f"test_{uuid.uuid4().hex}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def sqlite_database_url(tmp_path: Path) -> str:
    """A fresh SQLite database file for this test alone."""
    return f"sqlite:///{tmp_path / 'db.sqlite3'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each supported database in turn, fresh and empty for this test."""
    fixture = "sqlite_database_url" if request.param == "sqlite" else "postgres_database_url"
    url: str = request.getfixturevalue(fixture)
    return url


STORES = ("redis", "memcached", "postgresql", "sqlite")


@pytest.fixture(params=STORES)
def session_store_url(request: pytest.FixtureRequest) -> str:
    """Each kind of session store in turn, on a real server, ready to use.

    Redis and Memcached are shared by the tests of a worker: session keys are random,
    so tests never see each other's records. A database store gets a fresh database with
    the sessions table (what `bin/admin migrate` creates).
    """
    if request.param in ("redis", "memcached"):
        url: str = request.getfixturevalue(f"{request.param}_url")
        return url
    url = request.getfixturevalue(f"{request.param}_database_url".replace("postgresql", "postgres"))
    engine = create_sync_engine(url)
    try:
        metadata.create_all(engine, tables=[sessions])
    finally:
        engine.dispose()
    return url


def make_settings(session_store_url: str, **overrides: object) -> Settings:
    """Settings for an app under test; nothing read from the environment or .env."""
    values: dict[str, object] = {
        "secret_key": "test-secret-key-" + "x" * 32,
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
    ) -> httpx.Response:
        self.client.cookies.clear()
        headers = dict(headers or {})
        if self.cookie:
            headers["cookie"] = f"{self.name}={self.cookie}"
        response: httpx.Response = self.client.request(
            method, path, json=json, content=content, headers=headers
        )
        for header in response.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            if name == self.name:
                value = rest.split(";")[0]
                self.cookie = value or None
        return response
