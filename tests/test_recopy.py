"""`bin/update --recopy`: every template file afresh, the team's files and sections kept.

`copier recopy --overwrite` alone renders .env.example and pyproject.toml from the
template, dropping the variables and dependencies the team added below their markers.
For a project of each engine (cookiecutter's carries copier's answers file too), the
team adds a variable, a dependency, a route and a file of its own, edits a template
file, and recopies with one answer changed: the template file is the template's again,
the files the new answers exclude are gone, and everything of the team's is still there,
with uv.lock re-resolved to match.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from updates import (  # the same throwaway template, engines and isolation
    ENGINES,
    SLUG,
    answers,
    append,
    bin_update,
    commit_all,
    committed_template,
    edit,
    generate,
    git,
    no_home,
)

pytestmark = pytest.mark.xdist_group("update")
__all__ = ["no_home"]  # an autouse fixture: imported to apply here too

TEAM_VARIABLE = "# Page size of the notes list.\nNOTES_PAGE_SIZE=20\n"
TEAM_DEPENDENCY = '    "idna>=3",  # locked already: no new download\n'
YOURS = "    # yours (`uv add NAME` appends below)\n"
TEAM_ROUTE = "# The team's routes.\n"
TEMPLATE_EDIT = "A line that the recopy takes back.\n"


@pytest.mark.parametrize("engine", ENGINES)
def test_recopy_keeps_the_teams_sections_and_drops_what_the_answers_exclude(
    tmp_path: Path, engine: str
) -> None:
    repo = committed_template(tmp_path)
    git(repo, "tag", "v1")
    project = generate(engine, repo, tmp_path, "v1")
    assert answers(project)["_commit"] == "v1"
    append(project / ".env.example", TEAM_VARIABLE)
    edit(project / "pyproject.toml", YOURS, f"{YOURS}{TEAM_DEPENDENCY}")
    append(project / "src" / SLUG / "routes.py", TEAM_ROUTE)
    (project / "ops").mkdir()
    (project / "ops" / "runbook.md").write_text("Not in the template's layout.\n")
    guide = project / "docs" / "guide.md"
    fresh_guide = guide.read_text(encoding="utf-8")
    append(guide, TEMPLATE_EDIT)
    commit_all(project, "Team changes")
    assert not (project / "src" / SLUG / "worker.py").exists()

    added = bin_update(project, "--recopy", "-d", "with_worker=true")
    assert added.returncode == 0, added.stdout + added.stderr
    assert (project / "src" / SLUG / "worker.py").is_file()  # the new answer's files
    assert answers(project)["with_worker"] is True
    commit_all(project, "Recopied with a worker")

    removed = bin_update(project, "--recopy", "-d", "with_worker=false")
    assert removed.returncode == 0, removed.stdout + removed.stderr
    assert "kept your section of .env.example" in removed.stdout
    assert not (project / "src" / SLUG / "worker.py").exists()  # the answers exclude it
    assert not (project / "tests" / "test_worker.py").exists()
    assert answers(project)["with_worker"] is False
    env_example = (project / ".env.example").read_text(encoding="utf-8")
    assert env_example.endswith(TEAM_VARIABLE)
    assert env_example.count("NOTES_PAGE_SIZE") == 1
    pyproject = (project / "pyproject.toml").read_text(encoding="utf-8")
    assert f"{YOURS}{TEAM_DEPENDENCY}" in pyproject
    assert pyproject.count("idna") == 1
    assert (project / "src" / SLUG / "routes.py").read_text().endswith(TEAM_ROUTE)
    assert (project / "ops" / "runbook.md").is_file()
    assert guide.read_text(encoding="utf-8") == fresh_guide  # the template's again
    locked = subprocess.run(
        [str(Path(sys.executable).parent / "uv"), "lock", "--check"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert locked.returncode == 0, locked.stderr
