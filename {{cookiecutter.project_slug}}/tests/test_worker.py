# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""The worker on real databases (SQLite and PostgreSQL): as a process, it runs queued jobs
and on SIGTERM finishes the job in hand and exits 0; in process (short leases and grace
periods, so it takes seconds), a job that outlives its lease runs once, a failing job is
retried with backoff then failed, a job that outlasts the grace is handed back, and
purge_jobs deletes old finished jobs. A lost lease: a worker process frozen (SIGSTOP) past
its lease loses the job to another, and its result is discarded; a worker whose clock is
5 minutes off (libfaketime) keeps leases on PostgreSQL's clock."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert, select, update

from {{ cookiecutter.project_slug }}.db import create_sync_engine, jobs
from {{ cookiecutter.project_slug }}.migrator import upgrade
from {{ cookiecutter.project_slug }}.worker import (
    MAX_ATTEMPTS,
    SHUTDOWN_GRACE_SECONDS,
    Worker,
    backoff,
    enqueue,
)

from helpers import ROOT, TESTS, process_env
from servers import unavailable
from worker_jobs import runs_by, test_metadata, written  # the tests' jobs (and workers')

WAIT_SECONDS = 60.0  # a bound for a loaded CI machine, not a performance expectation


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    upgrade(database_url)
    engine = create_sync_engine(database_url)
    test_metadata.create_all(engine)
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


@pytest.mark.slow
def test_finishes_the_job_in_hand_on_sigterm(engine: Engine, worker: subprocess.Popen[str]) -> None:
    with engine.begin() as connection:
        slow = enqueue(connection, "greet", username="ada", work_seconds=2)
        waiting = enqueue(connection, "greet", username="grace")
    wait_for(lambda: status(engine, slow) == "running", "the job to start")
    returncode, output = stop(worker)
    assert returncode == 0, output
    assert status(engine, slow) == "done"
    assert status(engine, waiting) == "queued"  # not started after SIGTERM; the next worker will


@pytest.mark.slow
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


def texts(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.scalars(select(written.c.text)))


def test_a_job_gets_the_database_and_its_writes_commit_with_its_result(
    engine: Engine, tmp_path: Path
) -> None:
    with engine.begin() as connection:
        with pytest.raises(ValueError, match="'db' is the database"):
            enqueue(connection, "write", db="mine", text="ada")
        done = enqueue(connection, "write", text="ada")
        failing = enqueue(connection, "write", text="fail")
    worker = Worker(engine, heartbeat=tmp_path / "alive")
    assert worker.run_one()
    assert (status(engine, done), texts(engine)) == ("done", ["ada"])
    assert worker.run_one()
    assert (status(engine, failing), texts(engine)) == ("queued", ["ada"])  # rolled back


def test_a_job_in_a_long_write_transaction_keeps_its_lease(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """On SQLite the job holds the database's write lock, so renewals wait for it, and
    so does every other worker's claim: the job's lease runs out, but it is not lost.
    Two workers, a job 2.5 leases long: it runs once and its result is recorded."""
    lease = timedelta(seconds=1)
    with engine.begin() as connection:
        slow = enqueue(connection, "write", text="ada", after=2.5)
    workers = [Worker(engine, lease=lease, heartbeat=tmp_path / f"alive{n}") for n in (1, 2)]
    threads = [threading.Thread(target=worker.run) for worker in workers]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: status(engine, slow) == "done", "the job to finish")
    finally:
        for worker in workers:
            worker.stopping.set()
        for thread in threads:
            thread.join(timeout=WAIT_SECONDS)
    assert not any(thread.is_alive() for thread in threads)
    assert (row(engine, slow)["attempts"], texts(engine)) == (1, ["ada"])
    messages = [record.getMessage() for record in caplog.records]
    assert [m for m in messages if "lease lost" in m or "discarded" in m] == []


def test_a_job_whose_lease_was_lost_rolls_its_writes_back(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with engine.begin() as connection:
        job_id = enqueue(connection, "write", text="ada", before=1.5)
    worker = Worker(engine, heartbeat=tmp_path / "alive")
    thread = threading.Thread(target=worker.run_one)
    thread.start()
    wait_for(lambda: status(engine, job_id) == "running", "the job to start")
    with engine.begin() as connection:  # another worker's claim, as after a lost lease
        connection.execute(update(jobs).values(attempts=jobs.c.attempts + 1))
    thread.join(timeout=WAIT_SECONDS)
    assert texts(engine) == []  # the job wrote, then found its lease lost
    assert (row(engine, job_id)["status"], row(engine, job_id)["attempts"]) == ("running", 2)
    messages = [record.getMessage() for record in caplog.records]
    assert [m for m in messages if m.startswith("job result discarded: lease lost")] != []


def runs(path: Path) -> int:
    return len(runs_by(path))


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


class WorkerProcess:
    """`tests/worker_jobs.py` as a process: the project's worker with a lease of `lease`
    seconds, its JSON log in a file, `env` added to its environment."""

    def __init__(self, database_url: str, log: Path, lease: float, **env: str) -> None:
        self.log = log
        command = [str(ROOT / "bin" / "python"), str(TESTS / "worker_jobs.py"), str(lease)]
        with log.open("wb") as output:
            self.process = subprocess.Popen(
                command,
                env=process_env(database_url, **env),
                stdout=output,
                stderr=subprocess.STDOUT,
            )

    def lines(self) -> list[dict[str, object]]:
        """The log so far, a dict per JSON line (anything else, a crash, fails the test)."""
        return [json.loads(line) for line in self.log.read_text().splitlines() if line]

    def said(self, message: str) -> list[dict[str, object]]:
        return [line for line in self.lines() if str(line["message"]).startswith(message)]

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # in case the test left it stopped
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=WAIT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()


@pytest.fixture
def worker_processes() -> Iterator[list[WorkerProcess]]:
    """Worker processes a test starts (it appends them); stopped at the end."""
    started: list[WorkerProcess] = []
    yield started
    for process in started:
        process.stop()


@pytest.mark.slow
def test_a_worker_stopped_past_its_lease_loses_the_job_and_its_result(
    database_url: str,
    engine: Engine,
    tmp_path: Path,
    worker_processes: list[WorkerProcess],
) -> None:
    marker = tmp_path / "runs"
    first = WorkerProcess(database_url, tmp_path / "first.log", lease=2)
    worker_processes.append(first)
    with engine.begin() as connection:
        job_id = enqueue(connection, "record_run", path=str(marker), seconds=3)
    wait_for(lambda: len(runs_by(marker)) == 1, "the first worker to start the job")
    first.process.send_signal(signal.SIGSTOP)  # frozen mid-job: its lease runs out
    second = WorkerProcess(database_url, tmp_path / "second.log", lease=2)
    worker_processes.append(second)
    wait_for(lambda: status(engine, job_id) == "done", "the second worker to run the job")
    recorded = row(engine, job_id)
    first.process.send_signal(signal.SIGCONT)  # its job ends at once: 3 s have passed
    wait_for(
        lambda: bool(first.said("job finished") or first.said("job result discarded")),
        "the first worker to report the job's end",
    )
    assert first.stop() == 0
    assert second.stop() == 0
    assert runs_by(marker) == [first.process.pid, second.process.pid]  # it ran twice...
    assert (recorded["status"], recorded["attempts"], recorded["error"]) == ("done", 2, None)
    assert row(engine, job_id) == recorded  # ...and its result is the second worker's
    assert first.said("job finished") == []
    [discarded] = first.said("job result discarded: lease lost")
    assert (discarded["job_id"], discarded["attempt"], discarded["result"]) == (job_id, 1, "done")
    [finished] = second.said("job finished")
    assert (finished["job_id"], finished["attempt"], finished["status"]) == (job_id, 2, "done")


def test_a_job_whose_lease_was_lost_is_not_handed_back(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    marker = tmp_path / "runs"
    with engine.begin() as connection:
        slow = enqueue(connection, "record_run", path=str(marker), seconds=30)
    worker = Worker(engine, grace=0.5, heartbeat=tmp_path / "alive")
    thread = threading.Thread(target=worker.run)
    thread.start()
    wait_for(lambda: runs(marker) == 1, "the job to start")
    with engine.begin() as connection:  # another worker's claim, as after a lost lease
        connection.execute(update(jobs).values(attempts=jobs.c.attempts + 1))
    taken_over = row(engine, slow)
    worker.stop(signal.SIGTERM)
    thread.join(timeout=WAIT_SECONDS)
    assert not thread.is_alive()
    assert row(engine, slow) == taken_over  # still the other worker's: running, attempt 2
    messages = [record.getMessage() for record in caplog.records]
    assert [m for m in messages if m.startswith("job not handed back: lease lost")] != []
    assert [m for m in messages if m.startswith("job handed back")] == []


@pytest.mark.slow
@pytest.mark.parametrize("skew", ["+5m", "-5m"])
def test_a_worker_with_a_skewed_clock_keeps_leases_on_the_database_clock(
    postgres_database_url: str,
    tmp_path: Path,
    skew: str,
    worker_processes: list[WorkerProcess],
) -> None:
    """A worker 5 minutes ahead would see every live lease as run out and take the job
    over; one 5 minutes behind would write leases that ran out already. On PostgreSQL
    both use the database's clock, so neither happens."""
    libfaketime = sorted(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"))
    if not libfaketime:
        unavailable("libfaketime not found (Debian: apt-get install faketime)")
    upgrade(postgres_database_url)
    engine = create_sync_engine(postgres_database_url)
    marker = tmp_path / "runs"
    try:
        with engine.begin() as connection:
            live = enqueue(connection, "record_run", path=str(marker))
            # Held by another worker for 60 s more, by the database's clock.
            held = {"status": "running", "attempts": 1}
            until = func.now() + timedelta(seconds=60)
            connection.execute(
                update(jobs).where(jobs.c.id == live).values(**held, locked_until=until)
            )
            slow = enqueue(connection, "record_run", path=str(marker), seconds=3)
        skewed = WorkerProcess(
            postgres_database_url,
            tmp_path / "skewed.log",
            60,
            LD_PRELOAD=str(libfaketime[0]),  # not the faketime command: it swallows SIGTERM
            FAKETIME=skew,
            # The monotonic clock stays true: libfaketime's breaks Python's timed waits.
            FAKETIME_DONT_FAKE_MONOTONIC="1",
        )
        worker_processes.append(skewed)
        wait_for(lambda: runs(marker) == 1, "the skewed worker to start a job")
        assert (status(engine, live), row(engine, live)["attempts"]) == ("running", 1)
        assert status(engine, slow) == "running"
        with engine.connect() as connection:
            ahead = connection.scalar(
                select(jobs.c.locked_until - func.now()).where(jobs.c.id == slow)
            )
        assert isinstance(ahead, timedelta)
        assert timedelta(seconds=50) < ahead <= timedelta(seconds=60)  # its lease: 60 s
        # A worker with a true clock finds nothing to take over.
        assert not Worker(engine, heartbeat=tmp_path / "alive").run_one()
        wait_for(lambda: status(engine, slow) == "done", "the skewed worker to finish")
        assert skewed.stop() == 0
    finally:
        engine.dispose()
    assert runs_by(marker) == [skewed.process.pid]


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
    import os  # here: the test exists only in projects with Kubernetes manifests
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
