"""A new team's first week, built the README's way, with both engines.

Each engine generates the service (with a worker) into a git repository, and `bin/setup`
prepares it. Then the team grows it exactly as the generated README and guide say, with
code taken from the rendered guide where the guide gives it:

- a required setting (a `*_URL`) and a defaulted one in settings.py, their variables below
  the "your variables" line of .env.example (the tests take their values from there) and
  in the developer's own .env;
- a dependency with `bin/python -m uv add`, used by a client built on the required setting;
- the demo deleted by the steps of the guide's "Remove the demo" bullet;
- the guide's database example: a table in tables.py with its migration
  (`bin/admin new_migration`), a `def` endpoint that writes a row and enqueues a job in the
  request's transaction, the job in jobs.py, and the guide's test of it;
- the guide's admin task.

Both grown projects hold the same files, byte for byte. One runs every documented check:
the whole suite (the fuzz test covers the new endpoint with nothing more written), ruff,
mypy, `bin/build`, the release step and `bin/admin twelve_factor --live`; the other, set up
by the other engine, runs the team's tests and the static twelve-factor check.
"""

from __future__ import annotations

import re
import subprocess
import textwrap
from pathlib import Path

import pytest
from helpers import PROJECT_ENV, render_cookiecutter, render_copier, run
from updates import append, edit

pytestmark = pytest.mark.xdist_group("first_week")

SLUG = "my_service"
PACKAGE = Path("src") / SLUG
ANSWERS = {"with_worker": True}
GIT = {**PROJECT_ENV, "GIT_CONFIG_NOSYSTEM": "1"}
for _role in ("AUTHOR", "COMMITTER"):
    GIT |= {f"GIT_{_role}_NAME": "Tests", f"GIT_{_role}_EMAIL": "tests@example.invalid"}

SETTINGS_FIELDS = """
    # The payments service this one calls: required, each deploy names its own.
    payments_url: str = Field(repr=False)
    orders_page_size: int = Field(default=20, ge=1, le=500)
"""
SETTINGS_VARIABLES = """
# Base URL of the payments service (required).
PAYMENTS_URL=http://127.0.0.1:9000
# Orders on one page of the order list (1 to 500).
ORDERS_PAGE_SIZE=20
"""
SETTINGS_TEST = f'''"""The service's own settings."""

from __future__ import annotations

from {SLUG}.config import Settings
from {SLUG}.payments import client

from helpers import make_settings, team_values


def test_the_tests_get_env_examples_values() -> None:
    settings = make_settings("sqlite:///var/unused.sqlite3")
    assert settings.payments_url == "http://127.0.0.1:9000"
    assert team_values()["ORDERS_PAGE_SIZE"] == "20"
    with client(settings) as payments:
        assert str(payments.base_url) == "http://127.0.0.1:9000"


def test_one_is_required_and_one_has_a_default() -> None:
    assert Settings.model_fields["payments_url"].is_required()
    assert Settings.model_fields["orders_page_size"].default == 20
'''
PAYMENTS_CLIENT = f'''"""The payments service's HTTP client."""

from __future__ import annotations

import httpx

from {SLUG}.config import Settings


def client(settings: Settings) -> httpx.Client:
    """A client for PAYMENTS_URL; close it (use it in a `with` block)."""
    return httpx.Client(base_url=settings.payments_url, timeout=5.0)
'''


def guide_section(project: Path, heading: str) -> str:
    guide = (project / "docs" / "guide.md").read_text(encoding="utf-8")
    return guide.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]


def python_blocks(text: str) -> list[str]:
    """The Python code blocks of a piece of Markdown, in order, dedented."""
    blocks = re.findall(r"^( *)```python\n(.*?)^\1```$", text, flags=re.MULTILINE | re.DOTALL)
    return [textwrap.dedent(block) for _, block in blocks]


def admin_task_example(project: Path) -> str:
    """The guide's "Adding a task" example."""
    text = guide_section(project, "Admin tasks").split("**Adding a task:**", 1)[1]
    return python_blocks(text)[0]


def generate(engine: str, tmp_path: Path) -> Path:
    if engine == "cookiecutter":
        project = render_cookiecutter(tmp_path / engine, ANSWERS)
    else:
        project = render_copier(tmp_path / engine / SLUG, ANSWERS)
    run(["git", "init", "-q"], project, env=GIT)
    run(["git", "add", "-A"], project, env=GIT)
    run(["git", "commit", "-qm", "Generated"], project, env=GIT)
    output = run(["bin/setup"], project)
    assert "bin/setup: ready" in output.stdout + output.stderr
    return project


def add_settings(project: Path) -> None:
    settings = project / PACKAGE / "settings.py"
    edit(
        settings,
        "from pydantic_settings import BaseSettings\n",
        "from pydantic import Field\nfrom pydantic_settings import BaseSettings\n",
    )
    append(settings, SETTINGS_FIELDS)
    example = project / ".env.example"
    assert "own variables" in example.read_text(encoding="utf-8").splitlines()[-2]
    for dotenv in (example, project / ".env"):
        append(dotenv, SETTINGS_VARIABLES)
    (project / "tests" / "test_team_settings.py").write_text(SETTINGS_TEST, encoding="utf-8")


def add_dependency(project: Path) -> None:
    """`bin/python -m uv add`, as the README says: the lock gains only what was added."""
    lock = project / "uv.lock"
    before = lock.read_text(encoding="utf-8").splitlines()
    run(["bin/python", "-m", "uv", "add", "--quiet", "httpx"], project)
    after = lock.read_text(encoding="utf-8").splitlines()
    removed = [line for line in before if line not in set(after)]
    assert removed == [], f"uv add rewrote the lock: {removed[:10]}"
    assert any(line.startswith('name = "httpx"') for line in after)
    (project / PACKAGE / "payments.py").write_text(PAYMENTS_CLIENT, encoding="utf-8")


def add_orders(project: Path) -> None:
    """The guide's database example: table, endpoint, job and test."""
    table, endpoint, job, test = python_blocks(guide_section(project, "The database"))
    assert "Table(" in table and "def create_order(" in endpoint  # the guide's order
    assert "def send_receipt(db: Database" in job and "migrated_database_url" in test
    tables = project / PACKAGE / "tables.py"
    edit(
        tables,
        "from .db import metadata\n",
        "from sqlalchemy import Boolean, Column, Integer, Table, Text\n\n"
        "from .db import metadata\n",
    )
    append(tables, "\n" + table)
    (project / PACKAGE / "orders.py").write_text('"""Orders."""\n\n' + endpoint, encoding="utf-8")
    routes = project / PACKAGE / "routes.py"
    edit(
        routes,
        "from .config import Settings\n",
        "from . import orders\nfrom .config import Settings\n",
    )
    append(routes, "    app.include_router(orders.router)\n")
    jobs = project / PACKAGE / "jobs.py"
    edit(
        jobs,
        "from .database import Database\n",
        "from sqlalchemy import select, update\n\nfrom .database import Database\n",
    )
    edit(
        jobs,
        "from .job_queue import job\n",
        "from .job_queue import job\nfrom .tables import orders\n",
    )
    append(jobs, "\n\n" + job)
    (project / "tests" / "test_orders.py").write_text('"""Orders."""\n\n' + test, encoding="utf-8")
    # The README's table row: migrate to head, then write the new table's migration.
    run(["bin/admin", "migrate"], project)
    run(["bin/admin", "new_migration", "add orders"], project)
    assert (project / "migrations" / "service" / "service_0001_add_orders.py").exists()


def add_admin_task(project: Path) -> None:
    (project / "admin" / "job_counts.py").write_text(admin_task_example(project), encoding="utf-8")


def removal_steps(guide: str) -> tuple[list[str], str]:
    """The guide's "Remove the demo" bullet: the files it deletes and the module it edits."""
    bullet = guide.split("- **Remove the demo:**", 1)[1].split("\n- ", 1)[0].split("\n\n")[0]
    named = re.findall(r"`([^`\s]+)`", bullet.split(". ", 1)[0])
    files = [name for name in named if "/" in name]
    [module] = [name for name in named if "/" not in name and name.endswith(".py")]
    assert len(files) == 3 and module == "routes.py", bullet
    return files, module


def remove_the_demo(project: Path) -> None:
    """The guide's steps, exactly as it lists them."""
    files, module = removal_steps((project / "docs" / "guide.md").read_text(encoding="utf-8"))
    for name in files:
        (project / name).unlink()
    routes = project / PACKAGE / module
    lines = routes.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if not re.search(r"\bdemo\b", line)]
    assert len(lines) - len(kept) == 2, "the guide says two lines of routes.py name demo"
    routes.write_text("".join(kept), encoding="utf-8")


def grow(project: Path) -> None:
    add_settings(project)
    add_dependency(project)
    remove_the_demo(project)
    add_orders(project)
    add_admin_task(project)
    run(["bin/python", "-m", "ruff", "format", "--quiet", "."], project)
    run(["git", "add", "-A"], project, env=GIT)
    run(["git", "commit", "-qm", "The first week"], project, env=GIT)


def tracked(project: Path) -> dict[str, bytes]:
    """The committed files (git's view: the ignored .env, var/, .venv are not the code),
    a migration's creation time aside."""
    names = run(["git", "ls-files", "-z"], project).stdout.split("\0")
    return {
        name: re.sub(rb"(?m)^Create Date: .*$", b"", (project / name).read_bytes())
        for name in names
        if name
    }


def test_the_first_week_built_the_readmes_way_stays_green_on_both_engines(
    tmp_path: Path,
) -> None:
    by_cookiecutter, by_copier = (
        generate(engine, tmp_path) for engine in ("cookiecutter", "copier")
    )
    for project in (by_cookiecutter, by_copier):
        grow(project)
    first, second = tracked(by_cookiecutter), tracked(by_copier)
    answers = ".copier-answers.yml"
    assert answers in first and answers in second
    differing = {
        name
        for name in (first.keys() | second.keys()) - {answers}
        if first.get(name) != second.get(name)
    }
    assert differing == set()

    # Every documented check on one; the suite as CI runs it (the slow tier too).
    project = by_cookiecutter
    suite = run(["bin/python", "-m", "pytest", "-m", "", "-q", "-rA", "-n", "2"], project)
    for test in ("test_orders.py::test_an_order_queues_its_receipt", "test_fuzz.py::"):
        assert f"PASSED tests/{test}" in suite.stdout, suite.stdout[-3000:]
    for check in (["ruff", "check", "--no-cache", "."], ["ruff", "format", "--check", "."]):
        run(["bin/python", "-m", *check], project)
    run(["bin/python", "-m", "mypy"], project)
    run(["bin/build"], project)
    run(["bin/admin", "migrate"], project)  # the release step, with .env's settings
    counts = run(["bin/admin", "job_counts", "--status", "done"], project)
    assert counts.stdout == ""  # no job has run on the developer's database yet
    usage = subprocess.run(
        ["bin/admin", "job_counts", "--nope"], cwd=project, capture_output=True, text=True
    )
    assert usage.returncode == 2 and "--nope" in usage.stderr
    run(["bin/admin", "twelve_factor", "--live"], project)

    # The other engine's project, set up its own way: the team's tests and factor checks.
    team_tests = ["tests/test_orders.py", "tests/test_team_settings.py"]
    run(["bin/python", "-m", "pytest", "-q", "-n", "0", *team_tests], by_copier)
    run(["bin/admin", "twelve_factor"], by_copier)
