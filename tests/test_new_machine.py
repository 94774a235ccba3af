"""The README's command 1, run as a new user runs it, on the OS's own Python.

`/usr/bin/python3` comes first on PATH (on Debian it is "externally managed": pip refuses
to install into it, PEP 668), HOME is empty, and nothing else is on PATH: no uv, no
pyenv shims, no copier. The one extra folder holds a `python3.12` alone, as a
distribution or Homebrew package of the Python the service asks for would. Then every
command the generated README documents (tests, linters, pre-commit, update) runs with
what bin/setup left behind, without uv on PATH.

The network settings of this machine (CA bundle, proxies) pass through, and uv's
download cache is shared with the suite: neither changes what gets installed.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from helpers import TEMPLATE, free_port, interrupt, snapshot_template

pytestmark = pytest.mark.xdist_group("new_machine")

OS_PYTHON = Path("/usr/bin/python3")
BOOT_LIMIT = 120.0  # seconds; a bound for a loaded machine, not a benchmark
PASSED_THROUGH = re.compile(r".*(CERT|CA_BUNDLE|_PROXY|_proxy).*|PIP_.*|LANG|LC_ALL|TZ")


def setup_command(number: int) -> str:
    readme = (TEMPLATE / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Set up", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    lines = block.splitlines()
    return next(lines[i + 1] for i, line in enumerate(lines) if line.startswith(f"# {number}."))


def generated_readme_commands(
    project: Path, section: str, document: str = "README.md"
) -> list[str]:
    """The `&&`-chained commands of the first code block under a heading of a document."""
    readme = (project / document).read_text(encoding="utf-8")
    block = readme.split(f"## {section}\n", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    line = next(line for line in block.splitlines() if line and not line.startswith("#"))
    line = line.split(" #", 1)[0]  # a comment after the command
    return [part.strip() for part in line.split("&&")]


def find_python312() -> Path:
    """An installed CPython 3.12 (the service's default python_version), by its real path."""
    found = subprocess.run(
        ["uv", "python", "find", "--system", "3.12"], capture_output=True, text=True, check=False
    )
    if found.returncode != 0:
        pytest.fail("no Python 3.12 on this machine: the generated service needs one")
    return Path(found.stdout.strip()).resolve()


@pytest.fixture
def new_user(tmp_path: Path) -> dict[str, str]:
    if not OS_PYTHON.exists():
        pytest.fail(f"{OS_PYTHON} is missing: this test is about the OS's own Python")
    home = tmp_path / "home"
    home.mkdir()
    extra = tmp_path / "python312"
    extra.mkdir()
    (extra / "python3.12").symlink_to(find_python312())
    cache = subprocess.run(["uv", "cache", "dir"], capture_output=True, text=True, check=True)
    env = {k: v for k, v in os.environ.items() if PASSED_THROUGH.fullmatch(k)}
    env.update(
        HOME=str(home),
        PATH=f"{OS_PYTHON.parent}:/bin:{extra}",
        UV_CACHE_DIR=cache.stdout.strip(),
        UV_PYTHON_DOWNLOADS="never",  # proves nothing is downloaded but packages from PyPI
    )
    return env


def run(command: str, cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"{command}\n--- stdout\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def serve_until_healthz(command: str, project: Path, env: dict[str, str]) -> None:
    """Run bin/dev as written; stop it (the whole process group) once /healthz answers."""
    port = free_port()  # the one change to what the README says: PORT in .env
    dotenv = project / ".env"
    dotenv.write_text(re.sub(r"(?m)^PORT=.*$", f"PORT={port}", dotenv.read_text()))
    dev = subprocess.Popen(
        ["bash", "-c", command],
        cwd=project.parent / "template",
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + BOOT_LIMIT
        while True:
            assert dev.poll() is None, dev.communicate()[0].decode()
            assert time.monotonic() < deadline, "no answer on /healthz"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz") as response:
                    assert (response.status, response.read()) == (200, b'{"status":"ok"}')
                    return
            except urllib.error.URLError:
                time.sleep(0.2)
    finally:
        interrupt(dev)  # Ctrl-C, as the README says


def test_command_one_on_the_os_python_serves_and_every_readme_command_runs(
    tmp_path: Path, new_user: dict[str, str]
) -> None:
    checkout = snapshot_template(tmp_path / "template")
    command = setup_command(1)
    assert command.startswith("python3 ")  # the Python first on PATH: /usr/bin/python3
    prepare, _, dev = command.rpartition(" && ")
    assert dev == "../my_service/bin/dev"

    output = run(prepare, checkout, new_user)
    project = tmp_path / "my_service"
    assert "bin/setup: ready" in output
    user_base = Path(new_user["HOME"]) / ".local"  # pip --user would install here
    assert not (user_base / "lib").exists() and not (user_base / "bin").exists()
    serve_until_healthz(dev, project, new_user)

    # What bin/setup left is enough for every documented command: no uv on PATH.
    assert shutil.which("uv", path=new_user["PATH"]) is None
    tests = generated_readme_commands(project, "Tests")
    assert all(part.startswith("bin/") for part in tests), tests
    for part in tests:  # the suite itself runs in test_generated; here one file of it
        run(part + (" -q tests/test_config.py" if " pytest" in part else ""), project, new_user)
    git = "git -c user.name=Team -c user.email=team@example.invalid"
    run(f"git init -q && git add -A && {git} commit -q -m Generated", project, new_user)
    run("bin/python -m pre_commit run --all-files", project, new_user)
    update = generated_readme_commands(project, "Keeping up with the template", "docs/guide.md")[0]
    assert shlex.split(update)[:2] == ["bin/update", "--defaults"]
    output = run(f"{update} --vcs-ref HEAD", project, new_user)
    assert "merged cleanly" in output
