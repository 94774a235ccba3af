# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""The worker as a real process on real databases: it runs queued jobs, records failures,
and on SIGTERM finishes the job in hand and exits 0."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, insert, select

from {{ cookiecutter.project_slug }}.db import create_sync_engine, jobs
from {{ cookiecutter.project_slug }}.migrator import upgrade
from {{ cookiecutter.project_slug }}.worker import enqueue

from helpers import ROOT, process_env

WAIT_SECONDS = 60.0  # a bound for a loaded CI machine, not a performance expectation


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    upgrade(database_url)
    engine = create_sync_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def worker(database_url: str, engine: Engine) -> Iterator[subprocess.Popen[str]]:
    env = process_env(database_url)
    command = [str(ROOT / "bin" / "python"), "-m", "{{ cookiecutter.project_slug }}.worker"]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    yield process
    if process.poll() is None:
        process.kill()
        process.communicate()


def status(engine: Engine, job_id: int) -> str:
    with engine.connect() as connection:
        return str(connection.scalar(select(jobs.c.status).where(jobs.c.id == job_id)))


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"still waiting for {what} after {WAIT_SECONDS:.0f}s")
        time.sleep(0.1)


def stop(process: subprocess.Popen[str]) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=WAIT_SECONDS)
    return process.returncode, output


def test_runs_queued_jobs_and_exits_0_on_sigterm(
    engine: Engine, worker: subprocess.Popen[str]
) -> None:
    with engine.begin() as connection:
        first = enqueue(connection, "greet", username="ada")
        second = enqueue(connection, "greet", username="grace")
    wait_for(lambda: status(engine, second) == "done", "the jobs to run")
    assert status(engine, first) == "done"
    returncode, output = stop(worker)
    assert returncode == 0, output
    assert "hello, ada" in output
    assert "hello, grace" in output
    assert "worker stopped" in output


def test_finishes_the_job_in_hand_on_sigterm(engine: Engine, worker: subprocess.Popen[str]) -> None:
    with engine.begin() as connection:
        slow = enqueue(connection, "greet", username="ada", work_seconds=2)
        waiting = enqueue(connection, "greet", username="grace")
    wait_for(lambda: status(engine, slow) == "running", "the job to start")
    returncode, output = stop(worker)
    assert returncode == 0, output
    assert status(engine, slow) == "done"
    assert status(engine, waiting) == "queued"  # not started after SIGTERM; the next worker will


def test_a_failing_job_is_recorded_and_the_worker_goes_on(
    engine: Engine, worker: subprocess.Popen[str]
) -> None:
    with engine.begin() as connection:
        # A payload the worker cannot run (written around enqueue's checks).
        values = {"name": "greet", "payload": "{}", "status": "queued", "attempts": 0}
        broken = connection.execute(
            insert(jobs).values(**values, created_at=datetime.now(UTC)).returning(jobs.c.id)
        ).scalar_one()
        fine = enqueue(connection, "greet", username="ada")
    wait_for(lambda: status(engine, fine) == "done", "the next job to run")
    assert status(engine, broken) == "failed"
    with engine.connect() as connection:
        error = connection.scalar(select(jobs.c.error).where(jobs.c.id == broken))
    assert "username" in str(error)
    assert stop(worker)[0] == 0


def test_enqueue_refuses_bad_jobs_and_stores_nothing(engine: Engine) -> None:
    with engine.begin() as connection:
        with pytest.raises(ValueError, match="unknown job 'nope'"):
            enqueue(connection, "nope")
        with pytest.raises(ValueError, match="bad arguments for job 'greet'"):
            enqueue(connection, "greet", name="ada")
        with pytest.raises(ValueError, match="not JSON"):
            enqueue(connection, "greet", username=object())
        assert connection.scalars(select(jobs.c.id)).all() == []
