"""The generated bin/ scripts: one way to find the project root, one error style.

The root is found the same CDPATH-safe way in every script, so the scripts work from any
directory, with CDPATH exported, in a path with spaces. Errors read `bin/<name>: ...` on
stderr. shellcheck runs on them in tests/test_lint.py and as a pre-commit hook.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from helpers import render_cookiecutter

pytestmark = pytest.mark.xdist_group("bin_scripts")

ROOT_LINE = 'root=$(CDPATH=\'\' cd -- "$(dirname -- "$0")/.." && pwd -P)'
DIE = "die() {{\n    printf 'bin/{name}: %s\\n' \"$*\" >&2\n    exit 1\n}}\n"
# Each runs bin/python, which names the root it found when it has no virtualenv to run.
THROUGH_BIN_PYTHON = ["admin", "build", "post_compile", "python"]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_cookiecutter(tmp_path_factory.mktemp("with spaces") / "out dir")


def scripts(project: Path) -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted((project / "bin").iterdir())}


def test_every_script_finds_the_root_the_same_way(project: Path) -> None:
    for name, text in scripts(project).items():
        assert text.count(ROOT_LINE) == 1, name
        assert "dirname" not in text.replace(ROOT_LINE, ""), f"bin/{name}: another root"


def test_every_script_reports_errors_the_same_way(project: Path) -> None:
    for name, text in scripts(project).items():
        assert "exit 1" not in text.replace(DIE.format(name=name), "") or name == "update", name
        for line in re.findall(r".*>&2.*", text):
            prefix = re.search(r"""(?:echo|printf) ["'](bin/[a-z_]+):""", line)
            assert prefix is None or prefix[1] == f"bin/{name}", f"bin/{name}: {line}"
        if "die " in text:
            assert DIE.format(name=name) in text, name


def new_shell_env(tmp_path: Path) -> dict[str, str]:
    """CDPATH holds a decoy with the same folder names; no uv, no virtualenv anywhere."""
    decoy = tmp_path / "decoy"
    (decoy / "my_service" / "bin").mkdir(parents=True)
    (decoy / "bin").mkdir()
    env = {
        k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")
    }
    env.update(CDPATH=f"{decoy}:", PATH="/usr/bin:/bin")
    return env


@pytest.mark.parametrize("script", THROUGH_BIN_PYTHON)
@pytest.mark.parametrize("where", ["parent", "project", "bin", "elsewhere"])
def test_scripts_find_the_root_from_anywhere_with_cdpath(
    project: Path, tmp_path: Path, script: str, where: str
) -> None:
    cwd, command = {
        "parent": (project.parent, f"my_service/bin/{script}"),
        "project": (project, f"bin/{script}"),
        "bin": (project / "bin", f"./{script}"),
        "elsewhere": (tmp_path, str(project / "bin" / script)),
    }[where]
    result = subprocess.run(
        [command], cwd=cwd, env=new_shell_env(tmp_path), capture_output=True, text=True
    )
    assert result.returncode == 1
    assert result.stderr == (
        f"bin/python: no virtualenv at {project.resolve()}/.venv, and uv is not installed: "
        "run bin/setup\n"
    )


def test_bin_update_stays_in_its_project_with_cdpath(project: Path, tmp_path: Path) -> None:
    env = new_shell_env(tmp_path)
    decoy_project = Path(env["CDPATH"].split(":")[0]) / "my_service"
    subprocess.run(["git", "init", "-q", str(decoy_project)], check=True)  # a repository
    result = subprocess.run(
        ["my_service/bin/update"], cwd=project.parent, env=env, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert result.stderr.startswith("bin/update: not a git repository"), result.stderr


def test_readme_names_the_supported_platforms_and_why(project: Path) -> None:
    readme = (project / "README.md").read_text()
    [platforms] = [p for p in readme.split("\n\n") if p.startswith("**Platforms:**")]
    for needed in ("Linux", "macOS", "WSL", "POSIX", "Native Windows is not supported"):
        assert needed in platforms, needed
