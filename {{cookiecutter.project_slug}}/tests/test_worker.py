# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""The worker on real databases (SQLite and PostgreSQL): as a process, it runs queued jobs
and on SIGTERM finishes the job in hand and exits 0; in process (short leases and grace
periods, so it takes seconds), a job that outlives its lease runs once, a failing job is
retried with backoff then failed, a job that outlasts the grace is handed back, and
purge_jobs deletes old finished jobs."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select, update

from {{ cookiecutter.project_slug }}.db import create_sync_engine, jobs
from {{ cookiecutter.project_slug }}.migrator import upgrade
from {{ cookiecutter.project_slug }}.worker import (
    MAX_ATTEMPTS,
    SHUTDOWN_GRACE_SECONDS,
    Worker,
    backoff,
    enqueue,
    job,
)

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
    module = "{{ cookiecutter.project_slug }}.worker"  # a line of its own: any slug fits
    command = [str(ROOT / "bin" / "python"), "-m", module]
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


# Jobs for the tests below. Each run appends a line to the file it is given.
FLAKY_RUNS: dict[str, int] = {}


@job
def record_run(path: str, seconds: float = 0.0) -> None:
    with Path(path).open("a") as runs:
        runs.write(f"{threading.get_ident()}\n")
    time.sleep(seconds)


@job
def always_fails(path: str) -> None:
    record_run(path)
    raise RuntimeError("the mail server said no")


def runs(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def row(engine: Engine, job_id: int) -> dict[str, object]:
    with engine.connect() as connection:
        found = connection.execute(select(jobs).where(jobs.c.id == job_id)).one()
    return dict(found._mapping)


def test_a_job_that_outlives_its_lease_runs_once(engine: Engine, tmp_path: Path) -> None:
    lease = timedelta(seconds=1)
    marker = tmp_path / "runs"
    with engine.begin() as connection:
        slow = enqueue(connection, "record_run", path=str(marker), seconds=3.5)
    workers = [Worker(engine, lease=lease, heartbeat=tmp_path / f"alive{n}") for n in (1, 2)]
    threads = [threading.Thread(target=worker.run) for worker in workers]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: status(engine, slow) == "done", "the slow job to finish")
    finally:
        for worker in workers:
            worker.stopping.set()
        for thread in threads:
            thread.join(timeout=WAIT_SECONDS)
    # 3.5 leases long; the second worker polled all along and never took it over.
    assert runs(marker) == 1
    assert row(engine, slow)["attempts"] == 1
    assert (tmp_path / "alive1").exists()
    assert (tmp_path / "alive2").exists()


def test_a_failing_job_is_retried_with_backoff_then_failed(engine: Engine, tmp_path: Path) -> None:
    marker = tmp_path / "runs"
    with engine.begin() as connection:
        failing = enqueue(connection, "always_fails", path=str(marker))
    worker = Worker(engine, heartbeat=tmp_path / "alive")
    before = datetime.now(UTC)
    assert worker.run_one()
    first = row(engine, failing)
    assert (first["status"], first["attempts"]) == ("queued", 1)
    assert "the mail server said no" in str(first["error"])
    retry_at = first["locked_until"]
    assert isinstance(retry_at, datetime)
    retry_at = retry_at if retry_at.tzinfo else retry_at.replace(tzinfo=UTC)  # SQLite
    assert retry_at >= before + backoff(1)
    assert not worker.run_one()  # not due yet
    for _ in range(MAX_ATTEMPTS - 1):
        with engine.begin() as connection:  # fast-forward past the backoff
            connection.execute(update(jobs).values(locked_until=None))
        assert worker.run_one()
    last = row(engine, failing)
    assert (last["status"], last["attempts"]) == ("failed", MAX_ATTEMPTS)
    assert runs(marker) == MAX_ATTEMPTS
    assert backoff(1) < backoff(2) < backoff(3)


def test_a_job_that_outlasts_the_grace_is_handed_back(engine: Engine, tmp_path: Path) -> None:
    marker = tmp_path / "runs"
    with engine.begin() as connection:
        slow = enqueue(connection, "record_run", path=str(marker), seconds=30)
    worker = Worker(engine, grace=0.5, heartbeat=tmp_path / "alive")
    thread = threading.Thread(target=worker.run)
    thread.start()
    wait_for(lambda: runs(marker) == 1, "the job to start")
    started = time.monotonic()
    worker.stop(signal.SIGTERM)
    thread.join(timeout=WAIT_SECONDS)
    assert not thread.is_alive()
    assert time.monotonic() - started < 10  # the grace, not the job's 30 s
    handed_back = row(engine, slow)
    assert (handed_back["status"], handed_back["attempts"]) == ("queued", 0)
    assert handed_back["locked_until"] is None  # the next worker takes it at once


def test_purge_jobs_deletes_old_finished_jobs_only(database_url: str, engine: Engine) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=30)
    yesterday = datetime.now(UTC) - timedelta(days=1)
    states = {
        "old done": ("done", long_ago),
        "old failed": ("failed", long_ago),
        "recent done": ("done", yesterday),
        "old queued": ("queued", None),
        "old running": ("running", None),
    }
    ids = {}
    with engine.begin() as connection:
        for name, (state, finished) in states.items():
            values = {"name": "greet", "payload": "{}", "status": state, "attempts": 0}
            ids[name] = connection.execute(
                insert(jobs)
                .values(**values, created_at=long_ago, finished_at=finished)
                .returning(jobs.c.id)
            ).scalar_one()
    env = process_env(database_url)
    command = [str(ROOT / "bin" / "admin"), "purge_jobs", "--days", "7", "--batch-size", "1"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "deleted 2 finished jobs" in result.stdout
    with engine.connect() as connection:
        left = set(connection.scalars(select(jobs.c.id)))
    assert left == {ids["recent done"], ids["old queued"], ids["old running"]}


def test_the_grace_fits_the_platforms_and_the_docs_say_so() -> None:
    assert SHUTDOWN_GRACE_SECONDS < 30  # Heroku SIGKILLs 30 s after SIGTERM
    guide = (ROOT / "docs/guide.md").read_text()
    assert f"{SHUTDOWN_GRACE_SECONDS} s" in guide
{%- if cookiecutter.with_kubernetes %}


def test_the_kubernetes_manifest_allows_the_grace_and_probes_the_heartbeat(
    tmp_path: Path,
) -> None:
    import json  # here: the test exists only in projects with Kubernetes manifests
    import os
    import re

    from {{ cookiecutter.project_slug }}.worker import HEARTBEAT_FILE

    manifest = (ROOT / "deploy/kubernetes/worker-deployment.yaml").read_text()
    period = re.search(r"terminationGracePeriodSeconds: (\d+)", manifest)
    assert period is not None
    assert int(period[1]) > SHUTDOWN_GRACE_SECONDS + 5
    # The probe's command is a flow list on one line: JSON.
    found = re.search(r"livenessProbe:\s+exec:\s+command: (\[.*\])", manifest)
    assert found is not None
    probe: list[str] = json.loads(found[1])
    assert str(HEARTBEAT_FILE) in probe[-1]
    # The probe's own command, on a heartbeat file of this test: fresh passes, stale fails.
    command = [*probe[:-1], probe[-1].replace(str(HEARTBEAT_FILE), str(tmp_path / "alive"))]
    assert subprocess.run(command, check=False).returncode != 0  # no file: not alive
    worker = Worker(create_sync_engine("sqlite:///" + str(tmp_path / "db.sqlite3")))
    worker.heartbeat = tmp_path / "alive"
    worker.beat()
    assert subprocess.run(command, check=False).returncode == 0
    stale = time.time() - 120
    os.utime(tmp_path / "alive", (stale, stale))
    assert subprocess.run(command, check=False).returncode != 0
{%- endif %}
