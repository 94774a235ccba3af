"""A team's project as its guide has it grow: settings of its own, the demo removed.

The test changes a freshly generated project (with a worker) exactly the documented ways,
then runs the project's whole test suite, linters and `bin/admin twelve_factor --live`,
which must stay green:

- a required setting (no default, a `*_URL`) and a defaulted one, each a field of
  `ServiceSettings` in settings.py with its variable below the "your variables" line of
  .env.example, the value the tests take (docs/guide.md, "Your settings in the tests");
- the demo deleted by the steps of the guide's "Remove the demo" bullet, read from the
  generated guide itself, so the steps it lists are the steps tested.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers import PROJECT_ENV, render_cookiecutter, run, sync

SLUG = "my_service"
PACKAGE = f"src/{SLUG}"
PROJECT_CHECKS = {
    "tests": ["uv", "run", "--locked", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2"],
    "ruff": ["uv", "run", "--locked", "ruff", "check", "--no-cache", "."],
    "format": ["uv", "run", "--locked", "ruff", "format", "--check", "--no-cache", "."],
    "mypy": ["uv", "run", "--locked", "mypy"],
}
TEAM_FIELDS = """
    # The payments service this one calls: required, each deploy names its own.
    payments_url: str = Field(repr=False)
    orders_page_size: int = Field(default=20, ge=1, le=500)
"""
TEAM_VARIABLES = """
# Base URL of the payments service (required).
PAYMENTS_URL=http://127.0.0.1:9000
# Orders on one page of the order list (1 to 500).
ORDERS_PAGE_SIZE=20
"""
# A test of the team's own: the tests see the value .env.example gives, the required
# setting is required, and the defaulted one has its default.
TEAM_TEST = f'''"""The service's own settings."""

from __future__ import annotations

from {SLUG}.config import Settings

from helpers import make_settings, team_values


def test_the_tests_get_env_examples_values() -> None:
    settings = make_settings("sqlite:///var/unused.sqlite3")
    assert settings.payments_url == "http://127.0.0.1:9000"
    assert team_values()["ORDERS_PAGE_SIZE"] == "20"


def test_one_is_required_and_one_has_a_default() -> None:
    assert Settings.model_fields["payments_url"].is_required()
    assert Settings.model_fields["orders_page_size"].default == 20
'''

pytestmark = pytest.mark.xdist_group("team_project")


def generate(tmp_path: Path) -> Path:
    project = render_cookiecutter(tmp_path, {"with_worker": True})
    sync(project)
    return project


def check(project: Path, *pytest_args: str) -> None:
    for name, command in PROJECT_CHECKS.items():
        run([*command, *pytest_args] if name == "tests" else command, project)


def add_team_settings(project: Path) -> None:
    """A required and a defaulted setting, the documented way, and a test of the team's."""
    settings = project / PACKAGE / "settings.py"
    text = settings.read_text(encoding="utf-8")
    text = text.replace(
        "from pydantic_settings import BaseSettings\n",
        "from pydantic import Field\nfrom pydantic_settings import BaseSettings\n",
    )
    settings.write_text(text + TEAM_FIELDS, encoding="utf-8")
    example = project / ".env.example"
    assert "own variables" in example.read_text(encoding="utf-8").splitlines()[-2]
    with example.open("a", encoding="utf-8") as file:
        file.write(TEAM_VARIABLES)
    (project / "tests" / "test_team_settings.py").write_text(TEAM_TEST, encoding="utf-8")


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


def test_a_team_project_with_settings_of_its_own_and_no_demo_stays_green(
    tmp_path: Path,
) -> None:
    # One project for both changes: each runs the whole suite, and a project grows both ways.
    project = generate(tmp_path)
    add_team_settings(project)
    remove_the_demo(project)
    check(project)
    run(["bin/build"], project)
    settings = {
        "PAYMENTS_URL": "https://payments.example.invalid",
        "SECRET_KEY": "x" * 40,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "SESSION_STORE_URL": f"sqlite:///{tmp_path / 'sessions.sqlite3'}",
    }
    git = {**PROJECT_ENV, "GIT_CONFIG_NOSYSTEM": "1"}
    for role in ("AUTHOR", "COMMITTER"):
        git |= {f"GIT_{role}_NAME": "Tests", f"GIT_{role}_EMAIL": "tests@example.invalid"}
    for command in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "."]):
        run(command, project, env=git)  # factor I: the code is tracked in git
    # The static checks and the live ones (two web processes sharing a session).
    run(["bin/admin", "twelve_factor", "--live"], project, env={**PROJECT_ENV, **settings})
