"""CI and pre-commit of the generated project: the GitHub and GitLab workflows validate
against their schemas and run everything (tests against real services, the release step
twice, the twelve-factor check; the template check on a schedule); renovate.json
validates; the text files pass the whitespace hooks; pre-commit passes offline and guards
commits in a synced project."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ecosystem import RENDERS, check_schema, load_yaml, run_offline
from helpers import PROJECT_ENV, layout, render_cookiecutter, run, sync

pytestmark = pytest.mark.xdist_group("ecosystem")  # shares the renders of `projects`


@pytest.mark.parametrize("name", RENDERS)
def test_generated_text_files_satisfy_the_whitespace_hooks(
    projects: dict[str, Path], name: str
) -> None:
    """What end-of-file-fixer and trailing-whitespace would change, for every render."""
    project, bad = projects[name], []
    for rel in layout.project_files(project):
        data = (project / rel).read_bytes()
        if b"\0" in data or not data:
            continue
        lines = data.decode("utf-8").split("\n")
        if not data.endswith(b"\n") or data.endswith(b"\n\n"):
            bad.append(f"{rel}: must end with exactly one newline")
        for number, line in enumerate(lines, 1):
            stripped = line.rstrip()
            markdown_break = rel.endswith(".md") and line == stripped + "  " and stripped
            if line != stripped and not markdown_break:
                bad.append(f"{rel}:{number}: trailing whitespace")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize(
    ("name", "present", "absent"),
    [
        ("github-k8s-worker", ".github/workflows/ci.yml", ".gitlab-ci.yml"),
        ("gitlab-k8s", ".gitlab-ci.yml", ".github"),
        ("none-awkward", None, ".github"),
    ],
)
def test_ci_files_follow_the_ci_answer(
    projects: dict[str, Path], name: str, present: str | None, absent: str
) -> None:
    project = projects[name]
    assert not (project / absent).exists()
    if present:
        assert (project / present).is_file()
    else:
        assert not (project / ".gitlab-ci.yml").exists()


def test_github_workflow_validates_and_runs_everything(projects: dict[str, Path]) -> None:
    path = projects["github-k8s-worker"] / ".github/workflows/ci.yml"
    result = check_schema("vendor.github-workflows", path)
    assert result.returncode == 0, result.stdout + result.stderr
    workflow = load_yaml(path)
    test_job = workflow["jobs"]["test"]
    assert set(test_job["services"]) == {"postgres", "redis", "memcached"}
    assert {"TEST_DATABASE_URL", "TEST_REDIS_URL", "TEST_MEMCACHED_URL"} <= set(test_job["env"])
    steps = all_steps(workflow)
    uses = {step["uses"].split("@")[0]: step.get("with", {}) for step in steps if "uses" in step}
    assert uses["actions/setup-python"]["python-version-file"] == ".python-version"
    assert uses["astral-sh/setup-uv"]["enable-cache"] is True
    runs = [step.get("run", "") for step in steps]
    assert "bin/build" in runs
    assert 'uv run pytest -m ""' in runs  # every tier, the slow one too
    [install] = [command for command in runs if "apt-get install" in command]
    assert runs.index(install) < runs.index('uv run pytest -m ""')
    assert "redis-server" in install  # the tests start a Redis Cluster from the binary
    assert "faketime" in install  # the worker's skewed-clock test (Chrome is on the runner)
    assert any("pre-commit run --all-files" in command for command in runs)
    [release] = [command for command in runs if "Procfile" in command]
    assert release.count('sh -c "$release"') == 2
    assert "${{ github.ref }}" in path.read_text(encoding="utf-8")  # raw block rendered
    assert runs[-1] == "bin/admin twelve_factor --live"  # after the release, with its env


def test_github_checks_for_template_releases_on_a_schedule(projects: dict[str, Path]) -> None:
    path = projects["github-k8s-worker"] / ".github/workflows/template-update.yml"
    result = check_schema("vendor.github-workflows", path)
    assert result.returncode == 0, result.stdout + result.stderr
    workflow = load_yaml(path)
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert triggers["schedule"][0]["cron"] and "workflow_dispatch" in triggers
    # One pull request per release, opened with the workflow's own token (no hosted bot),
    # tested against the same services as CI.
    assert workflow["permissions"] == {"contents": "write", "pull-requests": "write"}
    [job] = workflow["jobs"].values()
    assert set(job["services"]) == {"postgres", "redis", "memcached"}
    assert {"TEST_DATABASE_URL", "TEST_REDIS_URL", "TEST_MEMCACHED_URL"} <= set(job["env"])
    last = all_steps(workflow)[-1]
    assert last["run"] == "bin/update --pull-request"
    assert last["env"]["GITHUB_TOKEN"] == "${{ github.token }}"  # raw block rendered
    assert {"GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"} <= set(workflow["env"])
    assert not (projects["gitlab-k8s"] / ".github").exists()


def test_gitlab_ci_validates_and_runs_everything(projects: dict[str, Path]) -> None:
    project = projects["gitlab-k8s"]
    result = check_schema("vendor.gitlab-ci", project / ".gitlab-ci.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    pipeline = load_yaml(project / ".gitlab-ci.yml")
    assert "python3.13" in pipeline["default"]["image"]
    assert pipeline["default"]["cache"]["key"]["files"] == ["uv.lock"]
    test_job = pipeline["test"]
    assert {service["alias"] for service in test_job["services"]} == {
        "postgres",
        "redis",
        "memcached",
    }
    assert {"TEST_DATABASE_URL", "TEST_REDIS_URL", "TEST_MEMCACHED_URL"} <= set(
        test_job["variables"]
    )
    assert test_job["script"][:2] == ["bin/build", 'uv run pytest -m ""']  # every tier
    [install] = [line for line in test_job["before_script"] if "apt-get install" in line]
    assert "redis-server" in install  # the tests start a Redis Cluster from the binary
    browser_and_clock = {"chromium", "chromium-driver", "faketime"}  # for the tests' own
    assert browser_and_clock <= set(install.split())
    assert test_job["before_script"][-1] == "uv sync"  # what the default would have run
    assert test_job["script"].count('sh -c "$release"') == 2
    assert any("pre-commit run --all-files" in line for line in pipeline["lint"]["script"])
    assert test_job["script"][-1].startswith("bin/admin twelve_factor --live")
    update = pipeline["template-update"]
    assert update["script"][-1] == "bin/update --pull-request"
    assert "$TEMPLATE_UPDATE_TOKEN@" in update["script"][0]  # CI_JOB_TOKEN cannot push
    assert update["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "schedule"'}]
    assert update["extends"] == "test"  # the test job's services for the update's tests
    assert {"GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"} <= set(update["variables"])
    assert not update["variables"]["UV_CACHE_DIR"].startswith(".")  # no untracked folder


@pytest.mark.parametrize("name", RENDERS)
def test_renovate_config_validates(projects: dict[str, Path], name: str) -> None:
    path = projects[name] / "renovate.json"
    result = check_schema("vendor.renovate", path)
    assert result.returncode == 0, result.stdout + result.stderr
    config = json.loads(path.read_text(encoding="utf-8"))
    assert {"pep621", "github-actions", "dockerfile"} <= set(config["enabledManagers"])
    # Template releases come from the CI's template-update job; without CI, from Renovate.
    with_ci = RENDERS[name]["ci"] != "none"
    assert ("copier" in config["enabledManagers"]) is not with_ci
    assert config["lockFileMaintenance"]["enabled"] is True  # uv.lock refreshed
    assert config["ignoreScripts"] is False  # copier update --trust: the template's migrations


def test_renovate_validation_rejects_a_broken_config(
    projects: dict[str, Path], tmp_path: Path
) -> None:
    """Control: an unknown manager fails the schema check above."""
    text = (projects["none-awkward"] / "renovate.json").read_text(encoding="utf-8")
    broken = tmp_path / "renovate.json"
    broken.write_text(text.replace('"copier",', '"copierr",', 1), encoding="utf-8")
    assert check_schema("vendor.renovate", broken).returncode != 0


@pytest.mark.parametrize(
    ("name", "rel", "schema", "old", "new"),
    [
        (
            "github-k8s-worker",
            ".github/workflows/ci.yml",
            "vendor.github-workflows",
            "runs-on:",
            "run-on:",
        ),
        ("gitlab-k8s", ".gitlab-ci.yml", "vendor.gitlab-ci", "  script:", "  scripts:"),
        ("none-awkward", "compose.yaml", "vendor.compose-spec", "  redis:\n", "  redis: 6\n"),
    ],
)
def test_schema_validation_rejects_a_broken_file(
    projects: dict[str, Path],
    tmp_path: Path,
    name: str,
    rel: str,
    schema: str,
    old: str,
    new: str,
) -> None:
    """Control: the schema checks above would catch a mistake."""
    text = (projects[name] / rel).read_text(encoding="utf-8")
    assert old in text
    broken = tmp_path / Path(rel).name
    broken.write_text(text.replace(old, new), encoding="utf-8")
    assert check_schema(schema, broken).returncode == 1


def all_steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A generated project with its venv, in a git repository; the env to run it with."""
    home = tmp_path_factory.mktemp("home")
    project = render_cookiecutter(tmp_path_factory.mktemp("synced"), RENDERS["github-k8s-worker"])
    sync(project)
    env = {
        **PROJECT_ENV,
        "HOME": str(home),
        "PRE_COMMIT_HOME": str(home / "pre-commit"),
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
    }
    run(["git", "init", "--quiet"], project, env=env)
    run(["git", "add", "--all"], project, env=env)
    return project, env


def test_pre_commit_passes_offline_and_guards_commits(synced: tuple[Path, dict[str, str]]) -> None:
    project, env = synced
    pre_commit = str(project / ".venv/bin/pre-commit")
    run_offline([pre_commit, "run", "--all-files", "--show-diff-on-failure"], project, env=env)
    assert run(["git", "diff", "--name-only"], project, env=env).stdout == ""  # none fixed
    # Once installed, a plain `git commit` runs the same hooks, still offline.
    run([pre_commit, "install"], project, env=env)
    committed = run_offline(["git", "commit", "-m", "generated"], project, env=env)
    assert "ruff format" in committed.stdout + committed.stderr
    # copier update leftovers: a .rej file and conflict markers outside a git merge.
    (project / "README.md.rej").write_text("left by copier update\n")
    (project / "NOTES.md").write_text("<<<<<<< before\nmine\n=======\ntheirs\n>>>>>>> after\n")
    run(["git", "add", "--all"], project, env=env)
    refused = subprocess.run(
        ["git", "commit", "-m", "leftovers"], cwd=project, env=env, capture_output=True, text=True
    )
    report = refused.stdout + refused.stderr  # git passes hook output on to stderr
    assert refused.returncode != 0
    assert re.search(r"forbid \*\.rej files.*\.+Failed", report), report
    assert "NOTES.md:1: Merge conflict string" in report


def test_ci_release_step_runs_twice(synced: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    """The workflow's release script, run as GitHub runs it, on an embedded database."""
    project, env = synced
    workflow = load_yaml(project / ".github/workflows/ci.yml")
    [step] = [
        step for step in workflow["jobs"]["test"]["steps"] if "Procfile" in step.get("run", "")
    ]
    env = {
        **env,
        **step["env"],
        "DATABASE_URL": f"sqlite:///{tmp_path}/release.sqlite3",
        "SESSION_STORE_URL": f"sqlite:///{tmp_path}/sessions.sqlite3",
    }
    run(["bash", "-e", "-c", step["run"]], project, env=env)


def test_project_honcho_accepts_the_procfile(synced: tuple[Path, dict[str, str]]) -> None:
    """The honcho of the project's own dev group, which bin/dev runs."""
    project, env = synced
    result = run([str(project / ".venv/bin/honcho"), "check"], project, env=env)
    assert "web" in result.stdout + result.stderr
