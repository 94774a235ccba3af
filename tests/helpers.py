"""Render the template with either engine and work with the generated projects.

Nothing here touches $HOME: cookiecutter gets its own config file (replay and clone
folders in the output folder), and every project lands in a pytest temp folder.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import answers  # the hooks' modules (hooks/ is on pytest's pythonpath)
import copier
import layout
from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parents[1]

ANSWERS_FILE = ".copier-answers.yml"
DEFAULTS: dict[str, Any] = {
    key: value[0] if isinstance(value, list) else value
    for key, value in json.loads((TEMPLATE / "cookiecutter.json").read_text()).items()
    if not key.startswith("_")
}
DEFAULTS["project_slug"] = "my_service"
# Names that must survive TOML, YAML, JSON, Python, shell and Markdown unharmed.
AWKWARD_TEXT = {
    "project_name": 'Café O\'Neil "Q" <x>: y & $(rm -rf ~) `id` \\ 日本',
    "project_slug": "cafe_oneil_service_at_the_slug_length_ca",  # 40: the longest allowed
    "description": "Says \"hi\" \\ bye; {braces} 'quotes' #hash % percent",
    "author_name": 'Zoë D\'Arcy \\ "Z"',
    "author_email": "zoe+tag@example.co.uk",
}


def free_port() -> int:
    """A loopback port nobody listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _pyenv_version() -> str | None:
    """Make every pyenv-installed CPython 3 visible (python3.12, python3.13, ...).

    uv finds interpreters by name on PATH; pyenv's shims only answer for the versions in
    PYENV_VERSION, which pyenv narrows to one when it runs `uv` through its own shim.
    """
    try:
        listed = subprocess.run(
            ["pyenv", "versions", "--bare"], capture_output=True, text=True, check=True
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return os.environ.get("PYENV_VERSION")
    cpythons = [v for v in listed if re.fullmatch(r"3\.\d+\.\d+", v)]
    current = os.environ.get("PYENV_VERSION", "").split(":")
    return ":".join(dict.fromkeys([*filter(None, current), *reversed(cpythons)]))


# Generated projects pick their interpreter from .python-version; never download one.
PROJECT_ENV = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
PROJECT_ENV.pop("VIRTUAL_ENV", None)  # the template's own venv is not the project's
PYENV_VERSION = _pyenv_version()
if PYENV_VERSION:
    PROJECT_ENV["PYENV_VERSION"] = PYENV_VERSION


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


def _pairs(case: dict[str, Any]) -> set[tuple[tuple[str, Any], tuple[str, Any]]]:
    items = sorted(case.items())
    return {(a, b) for i, a in enumerate(items) for b in items[i + 1 :]}


def option_cases() -> list[dict[str, Any]]:
    """Every combination of the answers that change which files exist (12), with the
    answers that only change contents spread over them so that every pair of values of
    any two options appears at least once (a covering array of strength 2)."""
    file_options = {
        "with_worker": (False, True),
        "ci": answers.CHOICES["ci"],
        "with_kubernetes": (False, True),
    }
    content_options = {
        "python_version": answers.CHOICES["python_version"],
        "license": answers.CHOICES["license"],
    }
    content_values = list(itertools.product(*content_options.values()))
    covered: set[tuple[tuple[str, Any], tuple[str, Any]]] = set()
    cases = []
    for values in itertools.product(*file_options.values()):
        base = dict(zip(file_options, values, strict=True))
        best = max(
            (dict(base, **dict(zip(content_options, c, strict=True))) for c in content_values),
            key=lambda case: len(_pairs(case) - covered),
        )
        covered |= _pairs(best)
        cases.append(best)
    return cases


def snapshot_template(repo: Path) -> Path:
    """The template's work tree (uncommitted edits included) as one commit in `repo`.

    A release or a clone is a commit: `copier update` needs a `_commit` it can find, and
    the README's commands run from a clone.
    """
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=TEMPLATE,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    for rel in filter(None, listed):
        source = TEMPLATE / rel
        if source.is_file() and not source.is_symlink():
            (repo / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / rel)
    git = ["git", "-c", "user.name=Template", "-c", "user.email=template@example.invalid"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "--no-verify", "-m", "work tree"]):
        subprocess.run([*git, *args], cwd=repo, check=True, capture_output=True)
    return repo


def procfile(project: Path) -> dict[str, list[str]]:
    """Process type -> command (argv) of the generated Procfile."""
    lines = (project / "Procfile").read_text(encoding="utf-8").splitlines()
    pairs = (line.split(":", 1) for line in lines if line.strip() and not line.startswith("#"))
    return {name.strip(): shlex.split(command) for name, command in pairs}


def failing_factors(project: Path, *factors: str) -> dict[str, str]:
    """Factor -> evidence of each of `factors` that fails the generated project's own
    twelve-factor check (src/twelve_factor_check, standard library only), run on it in a
    fresh interpreter: the platform tests ask the check instead of restating its rules."""
    code = (
        "import json, pathlib, sys, twelve_factor_check as c; "
        "verdicts = c.check(pathlib.Path(sys.argv[1]), only=set(sys.argv[2:])); "
        "print(json.dumps({v.factor: v.evidence for v in verdicts if not v.ok}))"
    )
    env = {**os.environ, "PYTHONPATH": str(project / "src")}
    result = subprocess.run(
        [sys.executable, "-c", code, str(project), *factors],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    failed: dict[str, str] = json.loads(result.stdout)
    return failed


def interrupt(group: subprocess.Popen[Any]) -> None:
    """Ctrl-C to a process group started with start_new_session (bin/dev and what it
    runs), as a terminal would; killed if it has not stopped within 30 s."""
    if group.poll() is None:
        os.killpg(group.pid, signal.SIGINT)
    try:
        group.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(group.pid, signal.SIGKILL)
        group.wait()
