"""Docker and Compose: the Dockerfile lints and runs the Procfile's command, .dockerignore
keeps secrets and local state out, the build stage (run as the shell commands it holds)
makes an app that serves /healthz, and compose.yaml validates."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from dockerfile import env_assignments, exec_form, in_build_context, only, stages
from ecosystem import RENDERS, check_schema, load_yaml, run_offline, tool
from helpers import PROJECT_ENV, layout, procfile, render_cookiecutter, run

pytestmark = pytest.mark.xdist_group("ecosystem")  # shares the renders of `projects`


@pytest.mark.parametrize("name", RENDERS)
def test_dockerfile_lints_and_matches_the_procfile(projects: dict[str, Path], name: str) -> None:
    project = projects[name]
    run_offline([tool("hadolint"), "--failure-threshold", "info", "Dockerfile"], project)
    by_stage = stages(project / "Dockerfile")
    assert set(by_stage) == {"uv", "build", "runtime"}
    version = RENDERS[name].get("python_version", "3.12")
    assert f"ARG PYTHON_VERSION={version}" in (project / "Dockerfile").read_text()
    for stage in ("build", "runtime"):
        assert only(by_stage[stage], "FROM") == f"python:${{PYTHON_VERSION}}-slim AS {stage}"
    runtime = by_stage["runtime"]
    assert exec_form(only(runtime, "CMD")) == procfile(project)["web"]
    user = only(runtime, "USER").split(":")[0]
    assert user.isdigit() and int(user) > 0  # numeric, so runAsNonRoot can check it
    healthcheck = only(runtime, "HEALTHCHECK")
    assert "/healthz" in healthcheck and "PORT" in healthcheck
    assert any(
        "uv sync --locked --no-dev" in arguments
        for key, arguments in by_stage["build"]
        if key == "RUN"
    )
    assert ("RUN", "bin/build") in by_stage["build"]


def test_dockerignore_keeps_secrets_and_local_state_out(projects: dict[str, Path]) -> None:
    project = projects["github-k8s-worker"]
    for rel in [
        ".env",
        ".env.local",
        ".venv/bin/python",
        "var/db.sqlite3",
        ".git/config",
        "deploy/kubernetes/secrets.env",
        "src/x/__pycache__/a.cpython-312.pyc",
        "__pycache__/a.cpython-312.pyc",
    ]:
        assert not in_build_context(project, rel), rel
    for rel in [
        ".env.example",
        "uv.lock",
        "pyproject.toml",
        "bin/python",
        "Procfile",
        ".python-version",
        "README.md",
        "src/my_service/web.py",
    ]:
        assert in_build_context(project, rel), rel


def copy_build_context(project: Path, context: Path) -> None:
    for rel in layout.project_files(project):
        if in_build_context(project, rel):
            (context / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(project / rel, context / rel)


def run_build_stage(project: Path, context: Path, app: Path) -> dict[str, str]:
    """The build stage's instructions as shell commands, /app being `app`.

    The host's uv stands in for the uv image, and the Python of .python-version for the
    base image's. A `RUN --mount=type=bind` sees the bound files only while it runs.
    Returns the environment the stage ended with.
    """
    env = {**PROJECT_ENV, "UV_PYTHON": (project / ".python-version").read_text().strip()}
    for keyword, arguments in stages(project / "Dockerfile")["build"]:
        if keyword == "ENV":
            env.update(env_assignments(arguments))
        elif keyword == "WORKDIR":
            assert arguments == "/app"
        elif keyword == "COPY" and not arguments.startswith("--from="):
            assert arguments == ". ."
            shutil.copytree(context, app, dirs_exist_ok=True, symlinks=True)
        elif keyword == "RUN":
            bound = []
            while arguments.startswith("--"):
                flag, _, arguments = arguments.partition(" ")
                options = dict(item.split("=", 1) for item in flag[len("--mount=") :].split(","))
                if flag.startswith("--mount=") and options["type"] == "bind":
                    target = app / options["target"]
                    if not target.exists():
                        shutil.copy2(context / options["source"], target)
                        bound.append(target)
            run(["sh", "-c", arguments], app, env=env)
            for target in bound:
                target.unlink()
    return env


@pytest.fixture
def built(tmp_path: Path) -> tuple[Path, Path]:
    """A default project, and the /app its Dockerfile's build stage makes of it."""
    project = render_cookiecutter(tmp_path / "out", {})
    context, app = tmp_path / "context", tmp_path / "app"
    context.mkdir()
    app.mkdir()
    copy_build_context(project, context)
    run_build_stage(project, context, app)
    return project, app


def runtime_env(project: Path, app: Path) -> dict[str, str]:
    """The runtime stage's ENV, plus settings a platform would inject."""
    env = {"PATH": os.environ["PATH"], "HOME": str(app)}
    for keyword, arguments in stages(project / "Dockerfile")["runtime"]:
        if keyword == "ENV":
            env.update(env_assignments(arguments))
    with socket.socket() as sock:  # a port nobody listens on: the OS picks it
        sock.bind(("127.0.0.1", 0))
        env["PORT"] = str(sock.getsockname()[1])
    env.update(
        SECRET_KEY="docker-build-stage-test-secret-key-0123456789",
        WEB_CONCURRENCY="1",
        # The embedded defaults, in the image's writable var/.
        DATABASE_URL="sqlite:///var/db.sqlite3",
        SESSION_STORE_URL="sqlite:///var/sessions.sqlite3",
    )
    return env


def test_docker_build_stage_builds_a_serving_app(built: tuple[Path, Path], tmp_path: Path) -> None:
    project, app = built
    dockerfile, env = stages(project / "Dockerfile"), runtime_env(project, app)
    no_dev = "import importlib.util, sys; sys.exit(importlib.util.find_spec('pytest') is not None)"
    run([str(app / ".venv/bin/python"), "-c", no_dev], app)  # dev group left out
    (app / "var").mkdir(exist_ok=True)  # as the runtime stage makes it
    run(procfile(project)["release"], app, env=env)  # a platform releases, then runs web
    healthcheck = only(dockerfile["runtime"], "HEALTHCHECK")
    probe = exec_form(healthcheck.split(" CMD ", 1)[1])
    log = (tmp_path / "web.log").open("w")
    server = subprocess.Popen(
        exec_form(only(dockerfile["runtime"], "CMD")),
        cwd=app,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60  # a guard against a hang, not a speed check
        while subprocess.run(probe, cwd=app, env=env, capture_output=True).returncode != 0:
            assert server.poll() is None, (tmp_path / "web.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "web.log").read_text()
            time.sleep(0.5)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        log.close()
    assert server.returncode == 0, (tmp_path / "web.log").read_text()


@pytest.mark.parametrize("name", RENDERS)
def test_compose_validates_and_runs_the_procfile(projects: dict[str, Path], name: str) -> None:
    project = projects[name]
    result = check_schema("vendor.compose-spec", project / "compose.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    services = load_yaml(project / "compose.yaml")["services"]
    assert {"postgres", "redis", "memcached"} <= set(services)
    for service in services.values():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{port} would be reachable from the network"
    assert services["release"]["command"] == procfile(project)["release"]
    assert "command" not in services["web"]  # the image's CMD: the Procfile's web command
