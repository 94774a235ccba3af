# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Fixtures: real backing services, migrated databases, and the app's build output.

Each server comes from TEST_REDIS_URL / TEST_REDIS_CLUSTER_URL / TEST_MEMCACHED_URL /
TEST_DATABASE_URL when set (a CI with service containers), else one is started from the
machine's binaries (servers.py) and stopped at the end of the session. Under
pytest-xdist every worker gets its own servers.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from {{ cookiecutter.project_slug }}.db import create_sync_engine, metadata, sessions
from {{ cookiecutter.project_slug }}.migrator import upgrade

from helpers import build_assets_once
from servers import (
    LocalCluster,
    LocalServer,
    memcached_server,
    own_postgres,
    redis_cluster,
    redis_server,
    started,
    throwaway_database,
)

# Every property test: real servers and processes are slow at times (no deadline, no
# health check about speed or function-scoped fixtures), and nothing is written to the
# project folder (no example database). Each test sets only its max_examples.
settings.register_profile(
    "service", deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
settings.load_profile("service")


def pytest_configure(config: pytest.Config) -> None:
    """On CI every tier runs: the slow tier that pyproject.toml's addopts leave out
    (`-m "not slow"`, the fast local loop) is put back, whatever command the CI runs."""
    on_ci = os.environ.get("CI", "").lower() == "true"  # as GitHub and GitLab set it
    if on_ci and config.option.markexpr == "not slow":
        config.option.markexpr = ""


@pytest.fixture(scope="session", autouse=True)
def built_assets() -> None:
    """The app serves bin/build's output: build it once if it is missing (xdist-safe)."""
    build_assets_once()


@pytest.fixture
def redis_process(tmp_path: Path) -> Iterator[LocalServer]:
    """A Redis server of this test's own, which the test may stop and start."""
    yield from started(lambda: redis_server(tmp_path))


@pytest.fixture
def redis_cluster_process(tmp_path: Path) -> Iterator[LocalCluster]:
    """A Redis Cluster (three primaries) of this test's own, which the test may reshape."""
    yield from started(lambda: redis_cluster(tmp_path))


@pytest.fixture
def memcached_process() -> Iterator[LocalServer]:
    """A Memcached server of this test's own, which the test may stop and start."""
    yield from started(memcached_server)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a real Redis server (TEST_REDIS_URL or one started for this session)."""
    if url := os.environ.get("TEST_REDIS_URL"):
        yield url
        return
    workdir = tmp_path_factory.mktemp("redis")
    for server in started(lambda: redis_server(workdir)):
        yield f"redis://127.0.0.1:{server.port}/0"


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """redis+cluster:// URL of a real Redis Cluster (TEST_REDIS_CLUSTER_URL or one started
    for this session)."""
    if url := os.environ.get("TEST_REDIS_CLUSTER_URL"):
        yield url
        return
    workdir = tmp_path_factory.mktemp("redis-cluster")
    for cluster in started(lambda: redis_cluster(workdir)):
        yield cluster.url


@pytest.fixture(scope="session")
def memcached_url() -> Iterator[str]:
    """URL of a real Memcached server (TEST_MEMCACHED_URL or one started for this session)."""
    if url := os.environ.get("TEST_MEMCACHED_URL"):
        yield url
        return
    for server in started(memcached_server):
        yield f"memcached://127.0.0.1:{server.port}"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a real PostgreSQL server (TEST_DATABASE_URL or one started for this session).

    Tests that write should use `postgres_database_url`, a database of their own.
    """
    if url := os.environ.get("TEST_DATABASE_URL"):
        yield url
        return
    with own_postgres() as (url, _):
        yield url


@pytest.fixture
def postgres_database_url(postgres_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test alone (safe under pytest-xdist).

    With TEST_DATABASE_URL the role needs the CREATEDB privilege.
    """
    with throwaway_database(postgres_url) as url:
        yield url


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


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file at the newest revision of every migration branch: the template's
    tables (migrations/versions/) and yours (tables.py, migrations/service/). Nothing
    writes to it: the two fixtures below hand out copies."""
    path = tmp_path_factory.mktemp("migrated") / "template.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def migrated_database(migrated_template: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """URL of a migrated SQLite database made once per session (per xdist worker) and
    shared: the fuzz test's app uses it, so an endpoint of yours that uses a table of
    yours is fuzzed with nothing to write. It holds what the fuzz test wrote; a test that
    must start from empty tables takes `migrated_database_url` instead.
    """
    copy = tmp_path_factory.mktemp("shared") / "db.sqlite3"
    shutil.copyfile(migrated_template, copy)
    return f"sqlite:///{copy}"


@pytest.fixture
def migrated_database_url(migrated_template: Path, tmp_path: Path) -> str:
    """A migrated SQLite database for this test alone, with empty tables.
    For PostgreSQL, `upgrade(postgres_database_url)` (migrator.py) does the same."""
    copy = tmp_path / "migrated.sqlite3"
    shutil.copyfile(migrated_template, copy)
    return f"sqlite:///{copy}"


STORES = ("redis", "redis_cluster", "memcached", "postgresql", "sqlite")


@pytest.fixture(params=STORES)
def session_store_url(request: pytest.FixtureRequest) -> str:
    """Each kind of session store in turn, on a real server, ready to use.

    Redis, the Redis Cluster and Memcached are shared by the tests of a worker: session
    keys are random, so tests never see each other's records. A database store gets a
    fresh database with the sessions table (what `bin/admin migrate` creates).
    """
    if request.param in ("redis", "redis_cluster", "memcached"):
        url: str = request.getfixturevalue(f"{request.param}_url")
        return url
    url = request.getfixturevalue(f"{request.param}_database_url".replace("postgresql", "postgres"))
    engine = create_sync_engine(url)
    try:
        metadata.create_all(engine, tables=[sessions])
    finally:
        engine.dispose()
    return url
