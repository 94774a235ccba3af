"""Generating a release from a local clone of the template: that release, or a clear stop.

cookiecutter checks out `--checkout <tag>` only in a repository it clones from a URL; a
local folder is rendered as it is, so without the pre-generation hook's check a project
would silently be made from the folder's HEAD while the user asked for a release. copier
clones a local repository at `--vcs-ref` and needs no such check.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from updates import (  # the same throwaway template and isolation
    ROOT,
    answers,
    append,
    commit_all,
    committed_template,
    generate,
    git,
    no_home,
)

pytestmark = pytest.mark.xdist_group("update")
__all__ = ["no_home"]  # an autouse fixture: imported to apply here too


def template_with_two_releases(tmp_path: Path) -> Path:
    repo = committed_template(tmp_path)
    git(repo, "tag", "v0.1.0")
    append(repo / ROOT / "README.md", "A line of the next release.\n")
    commit_all(repo, "The next release")
    git(repo, "tag", "v0.2.0")
    return repo


def cookiecutter_cli(
    args: list[str], cwd: Path, tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "cookiecutterrc.yml"  # clones and replays out of $HOME
    config.write_text(
        f"cookiecutters_dir: {json.dumps(str(tmp_path / 'cc-clones'))}\n"
        f"replay_dir: {json.dumps(str(tmp_path / 'cc-replay'))}\n"
    )
    command = [sys.executable, "-m", "cookiecutter", "--no-input", "--config-file", str(config)]
    return subprocess.run([*command, *args], cwd=cwd, capture_output=True, text=True, check=False)


def test_cookiecutter_refuses_a_release_it_would_not_render(tmp_path: Path) -> None:
    repo = template_with_two_releases(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    result = cookiecutter_cli(["--checkout", "v0.1.0", str(repo), "-o", str(out)], out, tmp_path)
    assert result.returncode != 0
    assert "--checkout v0.1.0 was asked for" in result.stderr
    assert f"cookiecutter --checkout v0.1.0 git+file://{repo}" in result.stderr
    assert list(out.iterdir()) == []  # refused before anything was written


def test_cookiecutter_renders_a_local_folder_already_at_the_release(tmp_path: Path) -> None:
    repo = template_with_two_releases(tmp_path)
    git(repo, "checkout", "-q", "v0.1.0")
    out = tmp_path / "out"
    out.mkdir()
    result = cookiecutter_cli(["--checkout", "v0.1.0", str(repo), "-o", str(out)], out, tmp_path)
    assert result.returncode == 0, result.stderr
    [project] = out.iterdir()
    assert answers(project)["_commit"] == "v0.1.0"
    assert "next release" not in (project / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("engine", ["cookiecutter", "copier"])
def test_the_documented_local_forms_render_the_release(tmp_path: Path, engine: str) -> None:
    # cookiecutter through git+file:// (what the refusal and the README say), copier from
    # the folder itself with --vcs-ref.
    repo = template_with_two_releases(tmp_path)
    project = generate(engine, repo, tmp_path, "v0.1.0")
    assert answers(project)["_commit"] == "v0.1.0"
    assert "next release" not in (project / "README.md").read_text(encoding="utf-8")
