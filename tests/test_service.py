"""The generated service from scratch: bin/setup on a fresh render, then the Procfile's web
command; and bad settings stopping the web process before it binds.

These need a project that never had a virtualenv, so they render their own.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import PROJECT_ENV, free_port, procfile, render_cookiecutter, run

pytestmark = pytest.mark.xdist_group("service")

CONFIG_VARS = (
    "PORT",
    "WEB_CONCURRENCY",
    "SECRET_KEY",
    "DATABASE_URL",
    "SESSION_STORE_URL",
    "SESSION_TTL_SECONDS",
    "SESSION_MAX_AGE_SECONDS",
    "SESSION_COOKIE_SECURE",
    "SESSION_STORE_TLS_VERIFY",
    "LOG_LEVEL",
)
BOOT_LIMIT = 60.0  # seconds; a bound for a loaded CI machine, not a benchmark


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh render on which bin/setup ran once (its output in setup.log)."""
    project = render_cookiecutter(tmp_path_factory.mktemp("service"))
    assert not (project / ".venv").exists()
    assert not (project / ".env").exists()
    result = run(["bin/setup"], project, env=clean_env())
    (project.parent / "setup.log").write_text(result.stdout + result.stderr)
    return project


def clean_env(**values: str) -> dict[str, str]:
    """The projects' environment without any service setting the caller's shell has."""
    env = {k: v for k, v in PROJECT_ENV.items() if k not in CONFIG_VARS}
    env.update(values)
    return env


def snapshot(project: Path) -> dict[str, str]:
    """Content and mode of every file outside .venv, and the installed distributions."""
    files = {
        str(path.relative_to(project)): hashlib.sha256(path.read_bytes()).hexdigest()
        + oct(path.stat().st_mode)
        for path in project.rglob("*")
        if path.is_file() and ".venv" not in path.relative_to(project).parts
    }
    site = next((project / ".venv" / "lib").glob("python3.*/site-packages"))
    files[".venv installed"] = " ".join(sorted(p.name for p in site.glob("*.dist-info")))
    return files


def test_setup_makes_a_fresh_clone_ready(project: Path) -> None:
    assert (project / ".venv" / "bin" / "python").exists()
    assert (project / "var").is_dir()
    dotenv = (project / ".env").read_text()
    example = (project / ".env.example").read_text()
    [key] = [line for line in dotenv.splitlines() if line.startswith("SECRET_KEY=")]
    assert len(key.removeprefix("SECRET_KEY=")) >= 32
    assert dotenv.replace(key, "SECRET_KEY=") == example  # the rest is the documented defaults
    assert (project / ".env").stat().st_mode & 0o077 == 0  # a secret: owner only


def test_setup_again_changes_nothing(project: Path) -> None:
    before = snapshot(project)
    run(["bin/setup"], project, env=clean_env())
    assert snapshot(project) == before


def test_web_command_serves_healthz_on_embedded_defaults(project: Path) -> None:
    port = free_port()
    web = subprocess.Popen(
        procfile(project)["web"],
        cwd=project,
        env=clean_env(PORT=str(port)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + BOOT_LIMIT
        while True:
            assert web.poll() is None, web.communicate()[0].decode()
            assert time.monotonic() < deadline, "no answer on /healthz"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz") as response:
                    assert (response.status, response.read()) == (200, b'{"status":"ok"}')
                    break
            except urllib.error.URLError:
                time.sleep(0.05)
        web.send_signal(signal.SIGTERM)
        assert web.wait(timeout=25) == 0
    finally:
        if web.poll() is None:  # a failed assertion: stop it as a platform would
            web.terminate()
            web.wait(timeout=30)


@contextlib.contextmanager
def set_aside(path: Path) -> Iterator[None]:
    """Move path out of the project for the block; put it back afterwards."""
    hidden = path.with_name(path.name + ".hidden")
    path.rename(hidden)
    try:
        yield
    finally:
        hidden.rename(path)


def refused_web_start(project: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the web command, which must exit without ever binding its port."""
    port = free_port()
    result = subprocess.run(
        procfile(project)["web"],
        cwd=project,
        env=clean_env(PORT=str(port), **env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # nothing was bound
    return result


def test_bad_settings_stop_web_before_it_binds(project: Path) -> None:
    with set_aside(project / ".env"):  # else .env would supply SECRET_KEY
        result = refused_web_start(project, DATABASE_URL="mysql//root:pw-hunter2@db")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "SECRET_KEY: is required but not set" in output
    assert "DATABASE_URL: " in output
    assert "pw-hunter2" not in output
    assert "mysql//" not in output
    assert "Traceback" not in output


def test_web_refuses_to_start_without_the_build(project: Path) -> None:
    """Assets are built at build time (bin/build), never by the web process."""
    build = project / "build"
    with set_aside(build):
        result = refused_web_start(project)
        assert not build.exists()  # it did not build anything at run time
    assert result.returncode == 2
    assert "run bin/build" in result.stderr
    assert "Traceback" not in result.stderr


def test_bin_python_syncs_when_the_lock_is_newer(project: Path) -> None:
    lock = project / "uv.lock"
    later = (project / ".venv" / "pyvenv.cfg").stat().st_mtime + 10
    os.utime(lock, (later, later))
    first = run(["bin/python", "-c", "pass"], project, env=clean_env())
    assert "older than uv.lock" in first.stderr
    second = run(["bin/python", "-c", "pass"], project, env=clean_env())
    assert second.stderr == ""
