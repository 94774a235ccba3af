"""The hooks on their own: layout verification catches each kind of breakage, loudly."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import DEFAULTS, TEMPLATE, layout, render_cookiecutter, tree

HOOKS = TEMPLATE / "hooks"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_cookiecutter(tmp_path_factory.mktemp("base"))


@pytest.fixture
def project(generated: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "my_service"
    shutil.copytree(generated, copy, symlinks=True)
    return copy


def run_hook(name: str, cwd: Path, context: dict[str, object]) -> subprocess.CompletedProcess[str]:
    """Run a hook the way copier does: context as JSON, then the template folder."""
    env = {k: v for k, v in os.environ.items() if k != "COPIER_OPERATION"}
    return subprocess.run(
        [sys.executable, str(HOOKS / name), json.dumps(context), str(TEMPLATE)],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_a_fresh_render_verifies_clean(project: Path) -> None:
    assert layout.verify(project, layout.select(DEFAULTS)) == []
    assert run_hook("post_gen_project.py", project, DEFAULTS).returncode == 0


def append(rel: str, text: str) -> Callable[[Path], None]:
    def breaker(root: Path) -> None:
        with (root / rel).open("a", encoding="utf-8", newline="") as file:
            file.write(text)

    return breaker


def write(rel: str, text: str) -> Callable[[Path], None]:
    def breaker(root: Path) -> None:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8", newline="")

    return breaker


def remove(root: Path) -> None:
    (root / "README.md").unlink()


def chmod_off(root: Path) -> None:
    (root / "bin" / "python").chmod(0o644)


BREAKAGES = {
    "missing file": (remove, "README.md", "missing"),
    "undeclared file": (write("notes.txt", "hi\n"), "notes.txt", "unexpected"),
    "excluded file left": (write("src/my_service/worker.py", "\n"), "worker.py", "excluded"),
    "script not executable": (chmod_off, "bin/python", "not-executable"),
    "jinja variable left": (
        append("README.md", "{{ cookiecutter.x }}\n"),
        "README.md",
        "unrendered",
    ),
    "jinja block left": (append("LICENSE", "{% if x %}\n"), "LICENSE", "unrendered"),
    "jinja comment left": (append("Procfile", "# {# c #}\n"), "Procfile", "unrendered"),
    "crlf": (append("README.md", "line\r\n"), "README.md", "line-endings"),
    "python syntax": (append("src/my_service/db.py", "def (:\n"), "db.py", "syntax"),
    "toml syntax": (append("pyproject.toml", "[broken\n"), "pyproject.toml", "syntax"),
    "yaml syntax": (write("compose-broken.yml", "a: [\n"), "compose-broken.yml", "syntax"),
    "json syntax": (write("broken.json", "{nope}\n"), "broken.json", "syntax"),
    "procfile line shape": (append("Procfile", "not a process line\n"), "Procfile", "procfile"),
    "procfile bypasses bin": (append("Procfile", "extra: python -m x\n"), "Procfile", "procfile"),
    "procfile missing script": (append("Procfile", "extra: bin/nope\n"), "Procfile", "procfile"),
}


@pytest.mark.parametrize(("breaker", "path", "rule"), BREAKAGES.values(), ids=BREAKAGES.keys())
def test_each_breakage_is_reported(
    project: Path, breaker: Callable[[Path], None], path: str, rule: str
) -> None:
    breaker(project)
    problems = layout.verify(project, layout.select(DEFAULTS))
    assert any(path in p.path and p.rule == rule for p in problems), problems


@pytest.mark.parametrize(
    ("breaker", "path", "rule"),
    [
        BREAKAGES["missing file"],
        BREAKAGES["jinja variable left"],
        BREAKAGES["procfile bypasses bin"],
    ],
    ids=["missing", "unrendered", "procfile"],
)
def test_post_gen_hook_fails_loudly(
    project: Path, breaker: Callable[[Path], None], path: str, rule: str
) -> None:
    breaker(project)
    result = run_hook("post_gen_project.py", project, DEFAULTS)
    assert result.returncode == 1
    assert f"{path}: [{rule}]" in result.stderr


def test_post_gen_hook_prunes_excluded_paths(project: Path) -> None:
    worker = project / "src" / "my_service" / "worker.py"
    worker.write_text('"""A worker left from a different answer."""\n')
    assert run_hook("post_gen_project.py", project, DEFAULTS).returncode == 0
    assert not worker.exists()


def test_post_gen_hook_is_idempotent(project: Path) -> None:
    before = tree(project)
    for _ in range(2):
        assert run_hook("post_gen_project.py", project, DEFAULTS).returncode == 0
    assert tree(project) == before


def test_on_update_the_hook_prunes_but_leaves_the_teams_files(project: Path) -> None:
    (project / "notes.txt").write_text("the team's own file\n")
    (project / "README.md").unlink()  # the team may delete what they don't want
    env = {**os.environ, "COPIER_OPERATION": "update"}
    result = subprocess.run(
        [sys.executable, str(HOOKS / "post_gen_project.py"), json.dumps(DEFAULTS), str(TEMPLATE)],
        cwd=project,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (project / "notes.txt").exists()


def test_pre_gen_hook_lists_every_problem(tmp_path: Path) -> None:
    bad = {**DEFAULTS, "project_slug": "class", "author_email": "x", "with_worker": "no"}
    result = run_hook("pre_gen_project.py", tmp_path, bad)
    assert result.returncode == 1
    for needle in ("project_slug 'class'", "author_email 'x'", "with_worker='no'"):
        assert needle in result.stderr


def lock_names(project: Path) -> list[str]:
    text = (project / "uv.lock").read_text(encoding="utf-8")
    return [block.split('"', 2)[1] for block in text.split("\n[[package]]\nname = ")[1:]]


@pytest.mark.parametrize("name", ["Abacus", "Order Desk", "Zeta Thing"])
def test_the_projects_own_lock_entry_sorts_where_uv_puts_it(tmp_path: Path, name: str) -> None:
    # uv keeps the lock sorted by name: left where the template's default slug sorts, the
    # project's entry would move on the team's first `uv add`, rewriting unrelated lines.
    project = render_cookiecutter(tmp_path, {"project_name": name})
    names = lock_names(project)
    assert project.name.replace("_", "-") in names
    assert names == sorted(names)
    before = tree(project)
    context = {**DEFAULTS, "project_name": name, "project_slug": project.name}
    assert run_hook("post_gen_project.py", project, context).returncode == 0
    assert tree(project) == before  # idempotent
