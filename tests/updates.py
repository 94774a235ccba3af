"""What the update tests share: a throwaway copy of the committed template, projects
generated from it by either engine, git, and a home folder of each test's own.

test_update.py, test_update_check.py, test_local_checkout.py, test_ownership.py,
test_recopy.py, test_template_update.py and test_first_week.py use it; the releases
v1, v2 and v3 of the throwaway template are here too.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import copier
import pytest
import yaml
from cookiecutter.main import cookiecutter
from helpers import ANSWERS_FILE, TEMPLATE, layout

ROOT = "{{cookiecutter.project_slug}}"  # the template folder of both engines
DATA = {"project_name": "Demo Service"}
SLUG = "demo_service"
ENGINES = ["cookiecutter", "copier"]
CONFLICT_MARKERS = ("<<<<<<< ", ">>>>>>> ")


@pytest.fixture(autouse=True)
def no_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """git, copier and cookiecutter see an empty home and a fixed git identity."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Template Tests")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "tests@example.invalid")
    monkeypatch.delenv("COPIER_OPERATION", raising=False)


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"git {' '.join(args)} in {cwd}:\n{result.stderr}"
    return result.stdout


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", message)


def edit(path: Path, old: str, new: str) -> None:
    """Replace one anchor in a template file; fail clearly when the anchor moved."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{path.name} no longer contains {old!r}: update this test"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as file:
        file.write(text)


def committed_template(tmp_path: Path) -> Path:
    """A fresh git repository holding the template's last commit, without its tags."""
    repo = tmp_path / "template"
    archive = subprocess.run(
        ["git", "archive", "HEAD"], cwd=TEMPLATE, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(repo, filter="data")
    git(repo, "init", "-q")
    commit_all(repo, "The template as committed")
    return repo


def generate(engine: str, repo: Path, tmp_path: Path, ref: str) -> Path:
    """A project from the template at `ref`, committed to its own git repository."""
    if engine == "copier":
        project = tmp_path / "project" / SLUG
        copier.run_copy(
            str(repo), project, data=DATA, vcs_ref=ref, defaults=True, unsafe=True, quiet=True
        )
    else:
        out = tmp_path / "project"
        out.mkdir()
        config = tmp_path / "cookiecutterrc.yml"  # clones and replays out of $HOME
        config.write_text(
            f"cookiecutters_dir: {json.dumps(str(tmp_path / 'cc-clones'))}\n"
            f"replay_dir: {json.dumps(str(tmp_path / 'cc-replay'))}\n"
        )
        # A release is pinned with --checkout, which needs a repository URL; HEAD is
        # the local folder as it is.
        pinned = ref != "HEAD"
        project = Path(
            cookiecutter(
                f"git+{repo.as_uri()}" if pinned else str(repo),
                checkout=ref if pinned else None,
                no_input=True,
                extra_context=DATA,
                output_dir=str(out),
                config_file=str(config),
            )
        )
    git(project, "init", "-q")
    commit_all(project, "Generated")
    return project


def answers(project: Path) -> dict[str, Any]:
    record: dict[str, Any] = yaml.safe_load((project / ANSWERS_FILE).read_text())
    return record


def leftovers(project: Path) -> list[str]:
    """Files with conflict markers, and *.rej files, anywhere in the project."""
    found = []
    for rel in layout.project_files(project):
        path = project / rel
        lines = path.read_bytes().decode("utf-8", errors="replace").splitlines()
        if rel.endswith(".rej") or any(line.startswith(CONFLICT_MARKERS) for line in lines):
            found.append(rel)
    return found


def bin_update(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The project's bin/update, with this suite's copier first on PATH."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        [str(project / "bin" / "update"), *args],
        cwd=project,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


# --- the throwaway template's releases ---------------------------------------------

NOTES = "# Notes for {{ cookiecutter.project_name }}\n\n" + "".join(
    f"Paragraph {n}.\n" for n in range(1, 7)
)
TEAM_GUIDE_LINE = "Local note kept by the team.\n"
TEAM_NOTES_LINE = "Team line.\n"
TEAM_NOTES_EDIT = "Paragraph 4, as the team put it.\n"
V2_GUIDE_LINE = "Release two line for {{ cookiecutter.project_slug }}.\n"
V3_GUIDE_LINE = "Release three footer.\n"
MIGRATION = """\
  - version: v2
    command: ["{{ _copier_python }}", "{{ _copier_conf.src_path }}/hooks/migrate.py",
              "{{ cookiecutter | tojson }}", "{{ _copier_conf.src_path }}",
              rename, NOTES.md, docs/NOTES.md]
"""


def release_v1(tmp_path: Path) -> Path:
    """The committed template plus a notes file (moved in v2), tagged v1."""
    repo = committed_template(tmp_path)
    (repo / ROOT / "NOTES.md").write_text(NOTES, encoding="utf-8")
    edit(repo / "hooks" / "layout.yml", "always:\n", "always:\n  - NOTES.md\n")
    commit_all(repo, "v1")
    git(repo, "tag", "v1")
    return repo


def add_question(repo: Path, name: str, default: str) -> None:
    """A new question with a default, declared for both engines."""
    path = repo / "cookiecutter.json"
    questions = json.loads(path.read_text(encoding="utf-8"))
    first_private = next(i for i, key in enumerate(questions) if key.startswith("_"))
    items = list(questions.items())
    items.insert(first_private, (name, default))
    path.write_text(json.dumps(dict(items), indent=2, ensure_ascii=False) + "\n")
    question = f"{name}:\n  type: str\n  default: {json.dumps(default)}\n\n"
    edit(repo / "copier.yml", "\ncookiecutter:\n", f"\n{question}cookiecutter:\n")
    edit(repo / "copier.yml", "    __year:", f"    {name}: {{{{ {name} | tojson }}}}\n    __year:")


def add_migration(repo: Path) -> None:
    copier_yml = repo / "copier.yml"
    text = copier_yml.read_text(encoding="utf-8")
    if "\n_migrations: []\n" in text:
        edit(copier_yml, "\n_migrations: []\n", f"\n_migrations:\n{MIGRATION}")
    elif "\n_migrations:\n" in text:
        edit(copier_yml, "\n_migrations:\n", f"\n_migrations:\n{MIGRATION}")
    else:
        append(copier_yml, f"_migrations:\n{MIGRATION}")


def release_v2(repo: Path) -> None:
    """A changed file, a new file with a new question, and a file moved by a migration."""
    project = repo / ROOT
    guide = project / "docs" / "guide.md"  # a template-owned file
    title, rest = guide.read_text(encoding="utf-8").split("\n", 1)
    guide.write_text(f"{title}\n{V2_GUIDE_LINE}{rest}", encoding="utf-8")
    add_question(repo, "support_url", "https://support.example.invalid/")
    (project / "docs").mkdir(exist_ok=True)
    (project / "docs" / "support.md").write_text("Support: {{ cookiecutter.support_url }}\n")
    git(repo, "mv", f"{ROOT}/NOTES.md", f"{ROOT}/docs/NOTES.md")
    edit(project / "docs" / "NOTES.md", "Paragraph 1.\n", "Paragraph 1, revised in v2.\n")
    edit(
        repo / "hooks" / "layout.yml",
        "  - NOTES.md\n",
        "  - docs/NOTES.md\n  - docs/support.md\n",
    )
    add_migration(repo)
    commit_all(repo, "v2")
    git(repo, "tag", "v2")


def release_v3(repo: Path) -> None:
    """Edits the line the team edited in the notes; adds a line where theirs was added."""
    edit(repo / ROOT / "docs" / "NOTES.md", "Paragraph 4.\n", "Paragraph 4, release three.\n")
    append(repo / ROOT / "docs" / "guide.md", V3_GUIDE_LINE)
    commit_all(repo, "v3")
    git(repo, "tag", "v3")
