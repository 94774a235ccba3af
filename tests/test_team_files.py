"""The layout check judges what the template rendered, never the team's own files.

Adopting the template in a repository that already holds files (`copier copy` into it),
`copier copy --overwrite`, `copier recopy` (copier's way back from a bad update) and
`copier update` all succeed and keep every file the team added.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import copier
import pytest
from helpers import DEFAULTS, TEMPLATE, layout, render_copier, snapshot_template

pytestmark = pytest.mark.xdist_group("team_files")

# The team's own files: a module and a test of its own, its jobs, docs, notes, and a Jinja
# page of its web app (template syntax that is the team's, not left over from the render).
TEAM_FILES = {
    "src/my_service/billing.py": '"""The team\'s own module."""\n\nRATE = 3\n',
    # A team-owned file the template created (copier.yml's _skip_if_exists), rewritten.
    "src/my_service/jobs.py": '"""Our jobs."""\n\nfrom .job_queue import job\n',
    "tests/test_billing.py": "from my_service.billing import RATE\n\n\n"
    "def test_rate() -> None:\n    assert RATE == 3\n",
    "docs/runbook.md": "# Runbook\n\nRestart with `{{ service }}`.\n",
    "NOTES.md": "Our notes.\n",
    "templates/page.html": "{% block body %}{{ user }}{% endblock %}\n",
    "config/broken-on-purpose.yaml": "a: [\n",  # the team's business, not the template's
}


def git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=Team", "-c", "user.email=team@example.invalid", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def add_team_files(root: Path) -> None:
    for rel, text in TEAM_FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")


def assert_team_files_kept(root: Path) -> None:
    for rel, text in TEAM_FILES.items():
        assert (root / rel).read_text(encoding="utf-8") == text, rel
    # ...and what the template rendered is all there and verifies.
    rendered = layout.rendered_paths(TEMPLATE, DEFAULTS)
    assert layout.verify(root, layout.select(DEFAULTS), rendered) == []


def commit(root: Path) -> None:
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "--no-verify", "-m", "state")


def test_copy_into_an_existing_repository_keeps_its_files(tmp_path: Path) -> None:
    project = tmp_path / "my_service"
    project.mkdir()
    add_team_files(project)
    commit(project)
    render_copier(project)
    assert_team_files_kept(project)


def test_copy_with_overwrite_keeps_the_teams_files(tmp_path: Path) -> None:
    project = render_copier(tmp_path / "my_service")
    add_team_files(project)
    render_copier(project, overwrite=True)
    assert_team_files_kept(project)


def test_recopy_keeps_the_teams_files(tmp_path: Path) -> None:
    project = render_copier(tmp_path / "my_service")
    add_team_files(project)
    commit(project)
    copier.run_recopy(project, defaults=True, overwrite=True, unsafe=True, quiet=True)
    assert_team_files_kept(project)


def test_update_keeps_the_teams_files(tmp_path: Path) -> None:
    template = snapshot_template(tmp_path / "template")
    project = tmp_path / "my_service"
    copier.run_copy(str(template), project, vcs_ref="HEAD", defaults=True, unsafe=True, quiet=True)
    add_team_files(project)
    commit(project)
    copier.run_update(
        project, vcs_ref="HEAD", defaults=True, overwrite=True, unsafe=True, quiet=True
    )
    assert_team_files_kept(project)


def test_an_undeclared_file_the_template_renders_is_still_reported(tmp_path: Path) -> None:
    project = render_copier(tmp_path / "my_service")
    (project / "stray.txt").write_text("rendered, but not in hooks/layout.yml\n")
    rendered = layout.rendered_paths(TEMPLATE, DEFAULTS) | {"stray.txt"}
    problems = layout.verify(project, layout.select(DEFAULTS), rendered)
    assert [str(p) for p in problems] == [
        "stray.txt: [unexpected] not declared in hooks/layout.yml"
    ]


def test_rendered_paths_are_the_layout_of_a_fresh_render(tmp_path: Path) -> None:
    project = render_copier(tmp_path / "my_service")
    selection = layout.select(DEFAULTS)
    rendered = layout.rendered_paths(TEMPLATE, DEFAULTS)
    kept = {rel for rel in rendered if not layout._covered(rel, selection.excluded)}
    assert kept == set(layout.project_files(project)) - {".copier-answers.yml"}
