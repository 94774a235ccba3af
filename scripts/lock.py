"""Refresh the generated project's uv.lock after changing its pyproject.toml.

Renders the template with default answers (hooks off), locks it with uv, and writes the
lock back with the project name templated again. The lock is the same for every answer:
all answers share the dependency list and `requires-python`.

    uv run python scripts/lock.py            # re-resolve, keeping pinned versions
    uv run python scripts/lock.py --upgrade  # take the newest versions allowed
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from cookiecutter.main import cookiecutter

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_LOCK = ROOT / "{{cookiecutter.project_slug}}" / "uv.lock"
RENDERED_NAME = 'name = "my-service"'
TEMPLATED_NAME = "name = \"{{ cookiecutter.project_slug | replace('_', '-') }}\""


def main(args: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(cookiecutter(str(ROOT), no_input=True, output_dir=tmp, accept_hooks=False))
        lock = project / "uv.lock"
        if TEMPLATE_LOCK.exists():
            lock.write_text(TEMPLATE_LOCK.read_text().replace(TEMPLATED_NAME, RENDERED_NAME))
        # Any interpreter will do: the resolution is universal.
        subprocess.run(["uv", "lock", "--python", sys.executable, *args], cwd=project, check=True)
        text = lock.read_text()
        if text.count(RENDERED_NAME) != 1:
            sys.exit(f"expected exactly one {RENDERED_NAME!r} in the lock")
        TEMPLATE_LOCK.write_text(text.replace(RENDERED_NAME, TEMPLATED_NAME))


if __name__ == "__main__":
    main(sys.argv[1:])
