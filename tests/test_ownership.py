"""Ordinary growth of a service never fights template updates (the ownership corpus).

A project is generated (by either engine) from a release of a throwaway clone of the
template, and "the team" makes every ordinary change the way the generated README's "Where
your changes go" says: an endpoint and middleware in routes.py, a setting in settings.py
and .env.example, a table in tables.py with its migration, a job in jobs.py, an admin task,
a dependency with `uv add`, a README section and a test. The template then cuts a release
that changes the neighbours of all of them (a template route that also changes app.py's
import line, a template setting, a template table with its migration, the job queue, the
guide and the README template, and the dependency list with its lock). The project's own
bin/update must merge it with no conflict, keep every team change, bring every template
change, leave README.md alone, and leave a project whose own checks and tests pass.

`run_corpus(engine, tmp_path, from_ref)` is the whole scenario from any template commit:
the tests here start from HEAD; a release record can start it from each recorded release.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from helpers import PROJECT_ENV, TEMPLATE
from updates import ENGINES, ROOT, SLUG, commit_all, edit, generate, git, leftovers

pytestmark = pytest.mark.xdist_group("update")

PACKAGE = f"src/{SLUG}"
README_SECTION = "\n## Notes\n\nThe notes feature keeps short notes (`GET /api/notes`).\n"
ENV_VARIABLE = "# Notes listed per page.\nNOTES_PAGE_SIZE=20\n"
TEAM_DEPENDENCY = "anyio"  # locked already (through starlette): no new download

NOTES_MODULE = '''\
"""Notes: a feature of the service's own."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

router = APIRouter()


@router.get("/api/notes")
async def list_notes(request: Request) -> dict[str, int]:
    return {"page_size": request.app.state.settings.notes_page_size}


class NotesHeader:
    """Marks every response as served by the notes-enabled service."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("x-notes", "on")
            await send(message)

        await self.app(scope, receive, send_marked)
'''
NOTES_JOB = """

@job
def archive_notes(db: Database, before_id: int) -> None:
    db.execute(delete(notes).where(notes.c.id < before_id))
"""
NOTES_TABLE = """

notes = Table(
    "notes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("text", Text, nullable=False),
)
"""
ADMIN_TASK = f'''\
"""Count the notes."""

import typer
from sqlalchemy import func, select

from {SLUG}.config import load_settings
from {SLUG}.db import create_sync_engine
from {SLUG}.tables import notes


def main() -> None:
    engine = create_sync_engine(load_settings().database_url)
    with engine.connect() as connection:
        typer.echo(f"notes: {{connection.scalar(select(func.count()).select_from(notes))}}")
'''
TEAM_TEST = f'''\
"""The notes endpoint, its setting and its middleware."""

from fastapi.testclient import TestClient
from pydantic import SecretStr

from {SLUG}.app import create_app
from {SLUG}.config import Settings
from {SLUG}.job_queue import JOBS


def test_notes_use_their_setting_and_carry_the_header() -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        secret_key=SecretStr("t" * 40),
        database_url="sqlite:///var/test.sqlite3",
        session_store_url="sqlite:///var/test-sessions.sqlite3",
        notes_page_size=7,
    )
    with TestClient(create_app(settings)) as client:
        response = client.get("/api/notes")
    assert response.json() == {{"page_size": 7}}
    assert response.headers["x-notes"] == "on"
    assert "archive_notes" in JOBS  # the team's job, registered by the app
'''

# The template release: neighbours of every team change.
RELEASE_MODULE = '''\
"""Which template release the service runs (a template route)."""

from fastapi import APIRouter

router = APIRouter()


@router.get("/template-release")
async def template_release() -> dict[str, str]:
    return {"release": "two"}
'''
RELEASE_QUEUE_LINE = "MAX_PAYLOAD_BYTES = 65_536  # template release two"
RELEASE_TABLE = """
# Template release two: an audit log.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("event", String(100), nullable=False),
)
"""
RELEASE_MIGRATION = '''\
"""Audit log table (template release two).

Revision ID: {revision}
Revises: {parent}
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "{revision}"
down_revision: str | None = "{parent}"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )


def downgrade() -> None:
    op.drop_table("audit_log")
'''
RELEASE_SETTING = "RELEASE_CHANNEL"
RELEASE_GUIDE_LINE = "Template release two changed this guide.\n"
RELEASE_README_LINE = "Template release two changed the README template.\n"
RELEASE_DEPENDENCY = ('"aiomcache>=0.8.2",', '"aiomcache>=0.8.2,<1",')
# The project's tests that cover what the team and the release changed (the whole suite
# takes many minutes on a busy machine; tests/test_generated.py runs it on fresh projects).
PROJECT_TESTS = [
    "tests/test_notes.py",
    "tests/test_app.py",
    "tests/test_config.py",
    "tests/test_env_example.py",
    "tests/test_migrations.py",
    "tests/test_admin.py",
    "tests/test_demo.py",
]
# -m "": every tier of those files, the slow tests too (the project's default is the fast one).
PYTEST = ["uv", "run", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-m", ""]


@dataclass(frozen=True)
class Corpus:
    project: Path
    update: subprocess.CompletedProcess[str]
    team_readme: str


def env(copier_bin: Path | None = None) -> dict[str, str]:
    """The project's environment, with this suite's copier (or the one in `copier_bin`)
    first on PATH, where bin/update takes it."""
    first = copier_bin or Path(sys.executable).parent
    return {**PROJECT_ENV, "PATH": f"{first}{os.pathsep}{PROJECT_ENV['PATH']}"}


def minimum_copier_version() -> str:
    declared = yaml.safe_load((TEMPLATE / "copier.yml").read_text(encoding="utf-8"))
    return str(declared["_min_copier_version"])


@pytest.fixture(scope="session")
def minimum_copier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of a copier of the oldest version copier.yml admits, installed apart."""
    venv = tmp_path_factory.mktemp("copier-minimum") / "venv"
    for command in (
        ["uv", "venv", "--quiet", "--python", sys.executable, str(venv)],
        [
            "uv",
            "pip",
            "install",
            "--quiet",
            "--python",
            str(venv / "bin" / "python"),
            f"copier=={minimum_copier_version()}",
        ],
    ):
        subprocess.run(command, env=PROJECT_ENV, check=True, capture_output=True)
    return venv / "bin"


def run(project: Path, *cmd: str, **extra: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        cmd, cwd=project, env={**env(), **extra}, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"{' '.join(cmd)}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(autouse=True)
def git_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Template Tests")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "tests@example.invalid")
    monkeypatch.delenv("COPIER_OPERATION", raising=False)


def where_changes_go(project: Path) -> dict[str, str]:
    """The README's "Where your changes go" table: kind of change -> where it goes."""
    readme = (project / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Where your changes go\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| ([^|]+?) \| ([^|]+?) \|$", section, flags=re.MULTILINE)
    return {kind: where for kind, where in rows if kind != "To add"}  # not the header


# --- the team ----------------------------------------------------------------------------


def team_changes(project: Path, tmp_path: Path) -> None:
    """Every ordinary change, each where the README's table says it goes."""
    table = where_changes_go(project)
    for kind, place in {
        "an endpoint": f"{PACKAGE}/routes.py",
        "middleware": f"{PACKAGE}/routes.py",
        "a setting": f"{PACKAGE}/settings.py",
        "a table": f"{PACKAGE}/tables.py",
        "a job": f"{PACKAGE}/jobs.py",
        "an admin task": "admin/",
        "a dependency": "uv add NAME",
        "a test": "tests/",
        "documentation": "this README",
    }.items():
        assert place in table[kind], f"the README no longer sends {kind} to {place}"

    (project / PACKAGE / "notes.py").write_text(NOTES_MODULE)
    routes = project / PACKAGE / "routes.py"
    edit(routes, "from . import demo\n", "from . import demo, notes\n")
    routes.write_text(
        routes.read_text()
        + "    app.include_router(notes.router)\n    app.add_middleware(notes.NotesHeader)\n"
    )
    settings = project / PACKAGE / "settings.py"
    edit(settings, "from pydantic_settings", "from pydantic import Field\nfrom pydantic_settings")
    settings.write_text(
        settings.read_text() + "\n    notes_page_size: int = Field(default=20, ge=1, le=500)\n"
    )
    with (project / ".env.example").open("a") as file:
        file.write(ENV_VARIABLE)
    tables = project / PACKAGE / "tables.py"
    edit(
        tables,
        "from .db import metadata\n",
        "from sqlalchemy import Column, Integer, Table, Text\n\nfrom .db import metadata\n",
    )
    edit(tables, '__all__ = ["metadata"]\n', '__all__ = ["metadata", "notes"]\n')
    tables.write_text(tables.read_text() + NOTES_TABLE)
    jobs = project / PACKAGE / "jobs.py"
    edit(jobs, "import time\n", "import time\n\nfrom sqlalchemy import delete\n")
    edit(
        jobs,
        "from .job_queue import job\n",
        "from .job_queue import job\nfrom .tables import notes\n",
    )
    jobs.write_text(jobs.read_text() + NOTES_JOB)
    database = {
        "SECRET_KEY": "x" * 48,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'team.sqlite3'}",
        "SESSION_STORE_URL": f"sqlite:///{tmp_path / 'team-sessions.sqlite3'}",
    }
    run(project, "bin/admin", "migrate", **database)
    run(project, "bin/admin", "new_migration", "add notes", **database)
    (project / "admin" / "notes_count.py").write_text(ADMIN_TASK)
    run(project, "uv", "add", "--quiet", TEAM_DEPENDENCY)
    with (project / "README.md").open("a") as file:
        file.write(README_SECTION)
    (project / "tests" / "test_notes.py").write_text(TEAM_TEST)
    run(project, "uv", "run", "ruff", "format", "--quiet", ".")  # as the pre-commit hook would
    commit_all(project, "Notes: endpoint, middleware, setting, table, task, dependency, test")


def assert_team_changes_kept(project: Path, team_readme: str) -> None:
    assert (project / "README.md").read_text() == team_readme
    assert "app.add_middleware(notes.NotesHeader)" in (project / PACKAGE / "routes.py").read_text()
    assert "notes_page_size" in (project / PACKAGE / "settings.py").read_text()
    assert (project / ".env.example").read_text().endswith(ENV_VARIABLE)
    assert '"notes",' in (project / PACKAGE / "tables.py").read_text()
    assert "def archive_notes(db: Database" in (project / PACKAGE / "jobs.py").read_text()
    assert (project / "migrations" / "service" / "service_0001_add_notes.py").is_file()
    assert (project / "admin" / "notes_count.py").read_text() == ADMIN_TASK
    assert (project / "tests" / "test_notes.py").is_file()
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert any(d.startswith(f"{TEAM_DEPENDENCY}>=") for d in pyproject["project"]["dependencies"])


# --- the template release ----------------------------------------------------------------


def template_release(repo: Path) -> None:
    """Changes next to every team change; re-locks the way maintainers do."""
    package = repo / ROOT / "src" / "{{cookiecutter.project_slug}}"
    (package / "release_info.py").write_text(RELEASE_MODULE)
    edit(
        package / "app.py",
        "from . import assets, bad_requests, database, routes,",
        "from . import assets, bad_requests, database, release_info, routes,",
    )
    edit(
        package / "app.py",
        "    routes.install(app, settings)\n",
        "    app.include_router(release_info.router)\n    routes.install(app, settings)\n",
    )
    edit(
        package / "config.py",
        '    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"\n',
        '    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"\n'
        '    release_channel: str = "stable"\n',
    )
    edit(
        repo / ROOT / ".env.example",
        "LOG_LEVEL=INFO\n",
        f"LOG_LEVEL=INFO\n# Template release channel.\n{RELEASE_SETTING}=stable\n",
    )
    edit(package / "job_queue.py", "Job = Callable", f"{RELEASE_QUEUE_LINE}\nJob = Callable")
    db = package / "db.py"
    edit(db, '\nSCHEMES = ("sqlite"', f'{RELEASE_TABLE}\nSCHEMES = ("sqlite"')
    versions = repo / ROOT / "migrations" / "versions"
    parent = max(p.name.split("_", 1)[0] for p in versions.glob("[0-9]*_*.py"))
    revision = f"{int(parent) + 1:04d}"
    (versions / f"{revision}_audit_log.py").write_text(
        RELEASE_MIGRATION.format(revision=revision, parent=parent)
    )
    guide = repo / ROOT / "docs" / "guide.md"
    edit(guide, "## Configuration\n", f"## Configuration\n\n{RELEASE_GUIDE_LINE}")
    readme = repo / ROOT / "README.md"
    edit(readme, "## Tests\n", f"## Tests\n\n{RELEASE_README_LINE}")
    edit(repo / ROOT / "pyproject.toml", *RELEASE_DEPENDENCY)
    edit(
        repo / "hooks" / "layout.yml",
        "  - src/{slug}/request_log.py\n",
        "  - src/{slug}/release_info.py\n  - src/{slug}/request_log.py\n",
    )
    subprocess.run(
        [sys.executable, "scripts/lock.py"], cwd=repo, env=env(), check=True, capture_output=True
    )
    commit_all(repo, "Release two")
    git(repo, "tag", "v2")


def assert_template_changes_arrived(project: Path) -> None:
    assert "release_info.router" in (project / PACKAGE / "app.py").read_text()
    assert "release_channel" in (project / PACKAGE / "config.py").read_text()
    env_example = (project / ".env.example").read_text()
    ours = env_example.index("# Your service's own variables")
    assert 0 < env_example.index(f"{RELEASE_SETTING}=stable") < ours
    assert '"audit_log",' in (project / PACKAGE / "db.py").read_text()
    assert RELEASE_QUEUE_LINE in (project / PACKAGE / "job_queue.py").read_text()
    assert list((project / "migrations" / "versions").glob("*_audit_log.py"))
    assert RELEASE_GUIDE_LINE in (project / "docs" / "guide.md").read_text()
    assert RELEASE_DEPENDENCY[1] in (project / "pyproject.toml").read_text()


# --- the scenario ------------------------------------------------------------------------


def template_clone(tmp_path: Path, from_ref: str) -> Path:
    """A throwaway clone of the template: `from_ref` tagged v1, then HEAD on a branch."""
    repo = tmp_path / "template"
    git(tmp_path, "clone", "--quiet", "--no-checkout", str(TEMPLATE), str(repo))
    head = git(TEMPLATE, "rev-parse", "HEAD").strip()
    git(repo, "tag", "v1", git(TEMPLATE, "rev-parse", f"{from_ref}^{{commit}}").strip())
    git(repo, "checkout", "--quiet", "-B", "release", head)
    return repo


def run_corpus(
    engine: str, tmp_path: Path, from_ref: str = "HEAD", copier_bin: Path | None = None
) -> Corpus:
    """Generate from `from_ref`, grow the project as a team would, take a release of HEAD
    plus template changes next to every team change with bin/update (running the copier
    in `copier_bin`, else this suite's)."""
    repo = template_clone(tmp_path, from_ref)
    project = generate(engine, repo, tmp_path, "v1")
    team_changes(project, tmp_path)
    team_readme = (project / "README.md").read_text()
    template_release(repo)
    update = subprocess.run(
        ["bin/update", "--defaults", "--vcs-ref", "v2"],
        cwd=project,
        env=env(copier_bin),
        capture_output=True,
        text=True,
        check=False,
    )
    return Corpus(project, update, team_readme)


def touched_python_files(project: Path) -> list[str]:
    """The Python files the team's commit or the update changed."""
    changed = git(project, "diff", "--name-only", "HEAD~1").split()  # team commit + update
    new = git(project, "ls-files", "--others", "--exclude-standard").split()
    paths = {rel for rel in changed + new if rel.endswith(".py")}
    return sorted(rel for rel in paths if (project / rel).exists())


@pytest.mark.parametrize(
    ("engine", "copier_version"),
    [(engine, "newest") for engine in ENGINES] + [("copier", "minimum")],
)
def test_ordinary_changes_merge_with_a_release_without_conflicts(
    tmp_path: Path, engine: str, copier_version: str, request: pytest.FixtureRequest
) -> None:
    """With the copier this suite runs, and with the oldest one copier.yml admits
    (`_min_copier_version`: bin/update takes the copier first on PATH)."""
    copier_bin = request.getfixturevalue("minimum_copier") if copier_version == "minimum" else None
    corpus = run_corpus(engine, tmp_path, copier_bin=copier_bin)
    project = corpus.project
    assert corpus.update.returncode == 0, corpus.update.stdout + corpus.update.stderr
    if copier_bin:
        version = subprocess.run(
            [copier_bin / "copier", "--version"], capture_output=True, text=True, check=True
        )
        assert version.stdout.split()[-1] == minimum_copier_version()
    assert "merged cleanly" in corpus.update.stdout
    assert leftovers(project) == []
    assert yaml.safe_load((project / ".copier-answers.yml").read_text())["_commit"] == "v2"
    assert_team_changes_kept(project, corpus.team_readme)
    assert_template_changes_arrived(project)
    assert RELEASE_README_LINE not in (project / "README.md").read_text()

    # The updated project is whole: its lock matches, and its own checks and tests pass
    # (the team's test and the template's migration test over both migration branches).
    run(project, "uv", "lock", "--check")
    run(project, "uv", "sync", "--locked", "--quiet")
    touched = touched_python_files(project)  # tests/test_generated.py lints whole projects
    run(project, "uv", "run", "ruff", "check", *touched)
    run(project, "uv", "run", "ruff", "format", "--check", *touched)
    run(project, "uv", "run", "mypy")
    run(project, *PYTEST, *PROJECT_TESTS)


def test_team_files_are_what_copier_skips() -> None:
    """copier.yml's _skip_if_exists names exactly the files the README calls yours."""
    config = yaml.safe_load((TEMPLATE / "copier.yml").read_text())
    skipped = {p.replace("{{ project_slug }}", "{slug}") for p in config["_skip_if_exists"]}
    guide = (TEMPLATE / ROOT / "docs" / "guide.md").read_text()
    yours = guide.split("**Yours, never touched by an update:**", 1)[1].split("\n- ", 1)[0]
    named = {
        name.replace("{{ cookiecutter.project_slug }}", "{slug}")
        for name in re.findall(r"`([^`]+)`", yours)
        if not name.endswith("/")
    }
    assert skipped == named


def test_template_files_say_that_updates_replace_them() -> None:
    """Every template file whose format has comments says so at its top; team files don't."""
    sys.path.insert(0, str(TEMPLATE / "scripts"))
    import mark_template_files

    assert mark_template_files.unmarked() == [], "run scripts/mark_template_files.py"
    for rel in mark_template_files.team_files():
        text = (TEMPLATE / ROOT / rel).read_text(encoding="utf-8")
        assert mark_template_files.NOTE not in text, rel


def test_the_teams_sections_come_last_in_shared_files() -> None:
    """Releases add above the team's part of .env.example and pyproject.toml, so a team
    addition at the end never touches a line a release changes."""
    env_example = (TEMPLATE / ROOT / ".env.example").read_text(encoding="utf-8")
    last_block = env_example.rstrip("\n").rsplit("\n\n", 1)[1]
    assert last_block.startswith("# Your service's own variables"), "template variables go above"
    assert all(line.startswith("#") for line in last_block.splitlines())

    pyproject = (TEMPLATE / ROOT / "pyproject.toml").read_text(encoding="utf-8")
    for array, marker in (("dependencies = [", "# yours (`uv add NAME`"), ("dev = [", "# yours")):
        body = pyproject.split(f"\n{array}\n", 1)[1].split("\n]\n", 1)[0]
        lines = body.splitlines()
        assert lines[-1].strip().startswith(marker), f"{array} must end with its yours line"
        names = [re.split(r"[\[<>=;!~ ]", line.strip().strip('",'))[0] for line in lines]
        names = [name for name in names if name and not name.startswith("#")]
        # uv add keeps a sorted list sorted (it would put a team dependency between two of
        # the template's); an unsorted one gets the new name at its end, below the marker.
        assert names != sorted(names), f"{array}: keep the groups out of alphabetical order"
