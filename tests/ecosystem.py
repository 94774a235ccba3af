"""What the tests of the generated project's ecosystem files share.

The renders they check (`RENDERS`; the `projects` fixture of conftest.py renders each
once per test worker), the template's own tools (check-jsonschema, hadolint, honcho), and
a way to run a command without network: where the OS allows, validators and pre-commit
run in an empty network namespace (`unshare --net`), which proves they need none.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from helpers import AWKWARD_TEXT, run

TOOLS = Path(sys.executable).parent  # check-jsonschema, hadolint, honcho of the template
RENDERS: dict[str, dict[str, Any]] = {
    "github-k8s-worker": {"ci": "github", "with_kubernetes": True, "with_worker": True},
    "gitlab-k8s": {"ci": "gitlab", "with_kubernetes": True, "python_version": "3.13"},
    "none-awkward": {**AWKWARD_TEXT, "ci": "none", "python_version": "3.11"},
}


@functools.cache
def offline_prefix() -> tuple[str, ...]:
    """A prefix that runs a command without network, or () where the OS does not allow it."""
    for prefix in (("unshare", "--net"), ("unshare", "--map-root-user", "--net")):
        probe = [*prefix, "true"]
        if shutil.which(prefix[0]) and subprocess.run(probe, capture_output=True).returncode == 0:
            return prefix
    return ()


def run_offline(cmd: list[str], cwd: Path, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return run([*offline_prefix(), *cmd], cwd, **kwargs)


def tool(name: str) -> str:
    return str(TOOLS / name)


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def check_schema(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*offline_prefix(), tool("check-jsonschema"), "--builtin-schema", schema, str(path)],
        capture_output=True,
        text=True,
    )
