"""The guide's worked example of the database ("The database" in docs/guide.md) works as
written in a generated project, and its endpoint is fuzzed with nothing more to write.

The team adds what the guide shows, code blocks taken from the rendered guide: the orders
table in tables.py with its migration (`bin/admin new_migration`), a `def` endpoint that
writes an order and enqueues its job on the request's connection, the job in jobs.py
that takes the database, and the guide's test on the `migrated_database_url` fixture.
The project's own fuzz test (on the `migrated_database` fixture, every migration branch
applied) then passes with the new endpoint in the schema, as do the team's test, ruff and
mypy.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from helpers import PROJECT_ENV, render_cookiecutter, run, sync
from updates import edit

SLUG = "my_service"
PACKAGE = Path("src") / SLUG


def guide_examples(project: Path) -> list[str]:
    """The Python blocks of the guide's "The database" section, in order, dedented."""
    guide = (project / "docs" / "guide.md").read_text(encoding="utf-8")
    section = guide.split("\n## The database\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"^( *)```python\n(.*?)^\1```$", section, flags=re.MULTILINE | re.DOTALL)
    return [textwrap.dedent(block) for _, block in blocks]


def test_the_guides_database_example_works_and_is_fuzzed(tmp_path: Path) -> None:
    project = render_cookiecutter(tmp_path, {"with_worker": True})
    table, endpoint, job, test = guide_examples(project)
    assert "Table(" in table and "def create_order(" in endpoint  # the guide's order
    assert "def send_receipt(db: Database" in job and "migrated_database_url" in test

    tables = project / PACKAGE / "tables.py"
    edit(
        tables,
        "from .db import metadata\n",
        "from sqlalchemy import Boolean, Column, Integer, Table, Text\n\n"
        "from .db import metadata\n",
    )
    tables.write_text(tables.read_text() + "\n" + table)
    (project / PACKAGE / "orders.py").write_text('"""Orders."""\n\n' + endpoint)
    routes = project / PACKAGE / "routes.py"
    edit(routes, "from . import demo\n", "from . import demo, orders\n")
    routes.write_text(routes.read_text() + "    app.include_router(orders.router)\n")
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
    jobs.write_text(jobs.read_text() + "\n\n" + job)
    (project / "tests" / "test_orders.py").write_text('"""Orders."""\n\n' + test)

    sync(project)
    env = {
        **PROJECT_ENV,
        "SECRET_KEY": "x" * 48,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'dev.sqlite3'}",
        "SESSION_STORE_URL": f"sqlite:///{tmp_path / 'dev.sqlite3'}",
    }
    run(["bin/admin", "migrate"], project, env=env)
    run(["bin/admin", "new_migration", "add orders"], project, env=env)
    assert list((project / "migrations" / "service").glob("service_0001_add_orders.py"))

    run(["uv", "run", "--locked", "ruff", "format", "--quiet", "."], project)
    run(["uv", "run", "--locked", "ruff", "check", "--no-cache", "."], project)
    run(["uv", "run", "--locked", "mypy"], project)
    pytest = ["uv", "run", "--locked", "pytest", "-v", "-p", "no:cacheprovider", "-n", "0"]
    fuzzed = run([*pytest, "tests/test_orders.py", "tests/test_fuzz.py"], project)
    assert "test_an_order_queues_its_receipt PASSED" in fuzzed.stdout
    assert "test_every_endpoint_holds_under_fuzzing PASSED" in fuzzed.stdout
