# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""bin/admin and the admin tasks, run as an operator runs them: as processes, against
real SQLite and PostgreSQL databases."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from {{ cookiecutter.project_slug }}.db import create_sync_engine, jobs, sessions

from helpers import ROOT, SECRET_KEY, process_env

ADMIN = ROOT / "bin" / "admin"


def admin(
    *args: str, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ADMIN), *args],
        env=env or process_env(),
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_lists_the_tasks_with_their_descriptions() -> None:
    result = admin()
    assert result.returncode == 0, result.stderr
    for task in ("migrate", "console", "fix_bad_records", "purge_expired_sessions"):
        assert f"\n  {task} " in result.stdout
    assert "Apply pending database migrations" in result.stdout


def test_listing_needs_no_configuration() -> None:
    env = {key: value for key, value in os.environ.items() if key != "SECRET_KEY"}
    assert admin(env=env).returncode == 0


def test_an_unknown_task_fails_and_lists_the_tasks() -> None:
    result = admin("no_such_task")
    assert result.returncode != 0
    assert "no task named 'no_such_task'" in result.stderr
    assert "fix_bad_records" in result.stderr


def test_task_help_shows_its_arguments() -> None:
    result = admin("fix_bad_records", "--help")
    assert result.returncode == 0
    assert "--apply" in result.stdout


def test_bad_configuration_fails_like_the_web_process() -> None:
    bad = {"SESSION_STORE_URL": "ftp://example.com", "SECRET_KEY": "short"}
    env = process_env(**bad)
    task = admin("migrate", env=env)
    web = subprocess.run(
        [str(ROOT / "bin" / "python"), "-m", "{{ cookiecutter.project_slug }}.web"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert task.returncode == web.returncode != 0
    assert task.stderr == web.stderr
    assert "SESSION_STORE_URL" in task.stderr
    assert "SECRET_KEY" in task.stderr
    assert "short" not in task.stderr  # the value is never shown


def readme_task_example() -> str:
    """The example task of the guide's "Adding a task" (so the guide stays true)."""
    readme = (ROOT / "docs" / "guide.md").read_text()
    start = readme.index("```python\n", readme.index("**Adding a task:**")) + len("```python\n")
    return readme[start : readme.index("```", start)]


@pytest.mark.slow
def test_a_new_file_in_the_admin_folder_is_a_new_task(
    tmp_path: Path, sqlite_database_url: str
) -> None:
    folder = tmp_path / "admin"
    shutil.copytree(ROOT / "admin", folder)
    (folder / "job_counts.py").write_text(readme_task_example())
    runner = [str(ROOT / "bin" / "python"), "-m", "{{ cookiecutter.project_slug }}.admin"]
    env = process_env(sqlite_database_url)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [*runner, str(folder), *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, check=False)

    listed = {line.split()[0]: line for line in run().stdout.splitlines() if line[:2] == "  "}
    assert "Show how many background jobs are in each state." in listed["job_counts"]
    migrated(sqlite_database_url)
    add_jobs(sqlite_database_url, ["queued", "queued", "done"])
    assert sorted(run("job_counts").stdout.splitlines()) == ["done: 1", "queued: 2"]
    assert run("job_counts", "--status", "queued").stdout == "queued: 2\n"
    bad = run("job_counts", "--state", "queued")
    assert bad.returncode == 2
    assert "No such option: --state" in bad.stderr


def test_console_runs_stdin_as_a_script() -> None:
    result = admin("console", stdin="print(6*7)\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "42\n"


def test_console_has_settings_and_database_ready(sqlite_database_url: str) -> None:
    script = "print(engine.dialect.name, settings.log_level)\nprint(settings)\n"
    password_url = "postgresql://app:hunter2-password@db.invalid/app"  # noqa: S105
    env = process_env(sqlite_database_url, SESSION_STORE_URL=password_url)
    result = admin("console", env=env, stdin=script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("sqlite INFO\n")
    assert SECRET_KEY not in result.stdout
    assert "hunter2-password" not in result.stdout


@pytest.mark.slow
def test_console_has_the_session_store_ready(sqlite_database_url: str) -> None:
    migrated(sqlite_database_url)
    script = (
        "run(store.save('k' * 64, '{\"visits\": 1}', ttl=60))\n"
        "print(run(store.load('k' * 64, ttl=60)))\n"
    )
    result = admin("console", env=process_env(sqlite_database_url), stdin=script)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == '{"visits": 1}\n'


def test_console_and_tasks_get_the_database_through_transaction(sqlite_database_url: str) -> None:
    """`transaction()` (database.py), as the console offers it: a block that ends commits,
    one that raises rolls back; both on the process's one engine."""
    migrated(sqlite_database_url)
    script = (
        "from {{ cookiecutter.project_slug }}.job_queue import enqueue\n"
        "with transaction() as c:\n"
        "    enqueue(c, 'greet', username='kept')\n"
        "try:\n"
        "    with transaction() as c:\n"
        "        enqueue(c, 'greet', username='dropped')\n"
        "        raise RuntimeError('undo')\n"
        "except RuntimeError:\n"
        "    pass\n"
        "with transaction() as c:\n"
        "    print(*c.scalars(select(db.jobs.c.payload)))\n"
        "print(c.engine is engine)\n"
    )
    result = admin("console", env=process_env(sqlite_database_url), stdin=script)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == '{"username": "kept"}\nTrue\n'


def test_a_failing_console_script_exits_non_zero() -> None:
    result = admin("console", stdin="raise RuntimeError('boom')\n")
    assert result.returncode == 1
    assert "RuntimeError: boom" in result.stdout  # logged as JSON with its traceback


def migrated(database_url: str) -> None:
    result = admin("migrate", env=process_env(database_url))
    assert result.returncode == 0, result.stdout + result.stderr


def add_sessions(database_url: str, rows: dict[str, dict[str, Any]]) -> None:
    engine = create_sync_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(insert(sessions), [{"key": k, **v} for k, v in rows.items()])
    finally:
        engine.dispose()


def add_jobs(database_url: str, states: list[str]) -> None:
    engine = create_sync_engine(database_url)
    created_at = datetime.now(UTC)
    rows = [{"name": "x", "payload": "{}", "status": state, "attempts": 0} for state in states]
    try:
        with engine.begin() as connection:
            connection.execute(insert(jobs), [{**row, "created_at": created_at} for row in rows])
    finally:
        engine.dispose()


def session_keys(database_url: str) -> set[str]:
    engine = create_sync_engine(database_url)
    try:
        with engine.connect() as connection:
            return set(connection.scalars(select(sessions.c.key)))
    finally:
        engine.dispose()


def row(data: str, *, created: int = -60, expires: int = 3600) -> dict[str, Any]:
    """A session row created/expiring that many seconds from now."""
    now = datetime.now(UTC)
    return {
        "data": data,
        "created_at": now + timedelta(seconds=created),
        "expires_at": now + timedelta(seconds=expires),
    }


@pytest.mark.slow
def test_fix_bad_records_reports_then_fixes_in_one_go(database_url: str) -> None:
    migrated(database_url)
    good = {"a" * 64: row(json.dumps({"visits": 3})), "b" * 64: row("{}")}
    bad = {
        "c" * 64: row("\x80\x04\x95 pickle?"),
        "d" * 64: row("[1, 2]"),
        "e" * 64: row("{}", created=60, expires=-60),
    }
    add_sessions(database_url, {**good, **bad})
    env = process_env(database_url)

    dry = admin("fix_bad_records", env=env)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "dry run: 3 unusable session rows" in dry.stdout
    assert "would delete session cccccccccccc...: data is not JSON" in dry.stdout
    assert session_keys(database_url) == set(good) | set(bad)  # a dry run changes nothing

    applied = admin("fix_bad_records", "--apply", env=env)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "deleted 3 unusable session rows" in applied.stdout
    assert session_keys(database_url) == set(good)

    again = admin("fix_bad_records", "--apply", env=env)
    assert "deleted 0 unusable session rows" in again.stdout
    assert session_keys(database_url) == set(good)


@pytest.mark.slow
def test_purge_expired_sessions_keeps_live_ones(database_url: str) -> None:
    migrated(database_url)
    live, expired = "a" * 64, "b" * 64
    add_sessions(database_url, {live: row("{}"), expired: row("{}", expires=-1)})
    result = admin("purge_expired_sessions", "--batch-size", "1", env=process_env(database_url))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "deleted 1 expired sessions" in result.stdout
    assert session_keys(database_url) == {live}


def test_tasks_run_on_the_project_interpreter() -> None:
    result = admin("console", stdin="import sys\nprint(sys.prefix)\n")
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()) == ROOT / ".venv"
