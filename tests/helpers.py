"""Render the template with either engine and work with the generated projects.

Nothing here touches $HOME: cookiecutter gets its own config file (replay and clone
folders in the output folder), and every project lands in a pytest temp folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import copier
from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TEMPLATE / "hooks"))

import answers  # noqa: E402
import layout  # noqa: E402

ANSWERS_FILE = ".copier-answers.yml"
DEFAULTS: dict[str, Any] = {
    key: value[0] if isinstance(value, list) else value
    for key, value in json.loads((TEMPLATE / "cookiecutter.json").read_text()).items()
    if not key.startswith("_")
}
DEFAULTS["project_slug"] = "my_service"

# Generated projects pick their interpreter from .python-version; never download one.
PROJECT_ENV = {
    **os.environ,
    "UV_PYTHON_DOWNLOADS": "never",
    "PYENV_VERSION": os.environ.get("PYENV_VERSION", "3.11.7:3.12.1:3.13.0"),
}
PROJECT_ENV.pop("VIRTUAL_ENV", None)  # the template's own venv is not the project's


def render_cookiecutter(out: Path, data: dict[str, Any] | None = None) -> Path:
    """Generate into out/<slug> with cookiecutter; returns the project folder."""
    out.mkdir(parents=True, exist_ok=True)
    config = out / "cookiecutterrc.yml"
    config.write_text(
        f"cookiecutters_dir: {json.dumps(str(out / '.cc'))}\n"
        f"replay_dir: {json.dumps(str(out / '.replay'))}\n"
    )
    return Path(
        cookiecutter(
            str(TEMPLATE),
            no_input=True,
            output_dir=str(out),
            extra_context=data or {},
            config_file=str(config),
        )
    )


def render_copier(dst: Path, data: dict[str, Any] | None = None, **kwargs: Any) -> Path:
    """Generate into dst with copier (template HEAD, uncommitted edits included)."""
    kwargs.setdefault("vcs_ref", "HEAD")
    copier.run_copy(
        str(TEMPLATE), dst, data=data or {}, defaults=True, unsafe=True, quiet=True, **kwargs
    )
    return dst


def tree(root: Path) -> dict[str, tuple[bytes, bool]]:
    """Every file's bytes and executable bit, answers file excluded."""
    return {
        rel: ((root / rel).read_bytes(), bool((root / rel).stat().st_mode & 0o111))
        for rel in layout.project_files(root)
        if rel != ANSWERS_FILE
    }


def run(cmd: list[str], cwd: Path, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run a command in a generated project; fail with its output when it fails."""
    kwargs.setdefault("env", PROJECT_ENV)
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} exited {result.returncode} in {cwd}\n"
            f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        )
    return result


def sync(project: Path) -> None:
    """Create the project's virtualenv from its lock, as bin/setup does."""
    run(["uv", "sync", "--locked", "--quiet"], project)
