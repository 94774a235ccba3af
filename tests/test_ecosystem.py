"""The generated project's ecosystem files: pre-commit, CI, Docker, Compose,
Heroku and Kubernetes.

Each file is checked offline with the tool its platform would use: check-jsonschema's
vendored schemas (GitHub Actions, GitLab CI, Compose), hadolint, kubernetes-validate's
bundled Kubernetes schemas, honcho. Where the OS allows, validators and pre-commit run in
an empty network namespace (`unshare --net`), which proves they need no network. Beyond
syntax, the tests check what the files promise: every process type runs its Procfile
command, probes hit /healthz, CI runs the tests against real services and the release
twice. No Docker engine runs here, so the Dockerfile's build stage runs as the shell
commands it holds, and its image command must then serve /healthz to its HEALTHCHECK.
"""

from __future__ import annotations

import ast
import functools
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from helpers import PROJECT_ENV, layout, render_cookiecutter, run, sync
from test_render import AWKWARD_TEXT

pytestmark = pytest.mark.xdist_group("ecosystem")  # shares the module's renders

TOOLS = Path(sys.executable).parent  # check-jsonschema, hadolint, honcho of the template
RENDERS: dict[str, dict[str, Any]] = {
    "github-k8s-worker": {"ci": "github", "with_kubernetes": True, "with_worker": True},
    "gitlab-k8s": {"ci": "gitlab", "with_kubernetes": True, "python_version": "3.13"},
    "none-awkward": {**AWKWARD_TEXT, "ci": "none", "python_version": "3.11"},
}
KUBERNETES_RENDERS = [name for name, data in RENDERS.items() if data.get("with_kubernetes")]
KUBERNETES_VERSIONS = ["1.30.0", kubernetes_validate.latest_version()]
DNS_1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {
        name: render_cookiecutter(tmp_path_factory.mktemp(name), data)
        for name, data in RENDERS.items()
    }


# --- helpers ----------------------------------------------------------------------------


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


def procfile(project: Path) -> dict[str, list[str]]:
    """Process type -> command (argv) of the generated Procfile."""
    lines = (project / "Procfile").read_text(encoding="utf-8").splitlines()
    pairs = (line.split(":", 1) for line in lines if line.strip() and not line.startswith("#"))
    return {name.strip(): shlex.split(command) for name, command in pairs}


def drain_seconds(project: Path) -> int:
    """The web server's drain after SIGTERM: GRACEFUL_TIMEOUT in the project's web.py."""
    [web] = project.glob("src/*/web.py")
    for node in ast.parse(web.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "GRACEFUL_TIMEOUT":
            seconds: int = ast.literal_eval(node.value)
            return seconds
    raise AssertionError(f"{web} sets no GRACEFUL_TIMEOUT")


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def check_schema(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*offline_prefix(), tool("check-jsonschema"), "--builtin-schema", schema, str(path)],
        capture_output=True,
        text=True,
    )


def all_steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


# --- generated text passes the whitespace hooks (cheap, every render) ---------------------


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


# --- CI -----------------------------------------------------------------------------------


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
    assert "uv run pytest" in runs
    assert any("pre-commit run --all-files" in command for command in runs)
    [release] = [command for command in runs if "Procfile" in command]
    assert release.count('sh -c "$release"') == 2
    assert "${{ github.ref }}" in path.read_text(encoding="utf-8")  # raw block rendered


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
    assert test_job["script"][:2] == ["bin/build", "uv run pytest"]
    assert test_job["script"].count('sh -c "$release"') == 2
    assert any("pre-commit run --all-files" in line for line in pipeline["lint"]["script"])


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


# --- Docker and Compose -------------------------------------------------------------------


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    result, pending = [], ""
    for line in dockerfile.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        keyword, _, arguments = pending.strip().partition(" ")
        result.append((keyword.upper(), " ".join(arguments.split())))
        pending = ""
    return result


def env_assignments(arguments: str) -> dict[str, str]:
    """The variables of a Dockerfile ENV line (`KEY=value ...` form)."""
    pairs = (part.partition("=") for part in shlex.split(arguments))
    return {key: value for key, _, value in pairs}


def stages(dockerfile: Path) -> dict[str, list[tuple[str, str]]]:
    """Stage name -> its instructions (after FROM)."""
    named: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for keyword, arguments in instructions(dockerfile):
        if keyword == "FROM":
            current = named.setdefault(arguments.split()[-1], [("FROM", arguments)])
        else:
            current.append((keyword, arguments))
    return named


def only(stage: list[tuple[str, str]], keyword: str) -> str:
    [arguments] = [arguments for key, arguments in stage if key == keyword]
    return arguments


def exec_form(arguments: str) -> list[str]:
    command = json.loads(arguments)
    assert isinstance(command, list)
    return command


DOCKERIGNORE_GLOBS = {"**/": "(.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}


@functools.cache
def dockerignore(project: Path) -> list[tuple[bool, re.Pattern[str]]]:
    """(excludes, pattern) rules of .dockerignore, in order (Docker's syntax, simplified)."""
    rules = []
    for line in (project / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        excludes = not line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        parts = re.split(r"(\*\*/|\*\*|\*|\?)", pattern)
        regex = "".join(DOCKERIGNORE_GLOBS.get(part, re.escape(part)) for part in parts)
        rules.append((excludes, re.compile(rf"{regex}(/.*)?")))
    return rules


def in_build_context(project: Path, rel: str) -> bool:
    """True when `docker build` would send the file (last matching rule wins)."""
    included = True
    for excludes, pattern in dockerignore(project):
        if pattern.fullmatch(rel):
            included = not excludes
    return included


@pytest.mark.parametrize("name", RENDERS)
def test_dockerfile_lints_and_matches_the_procfile(projects: dict[str, Path], name: str) -> None:
    project = projects[name]
    run_offline([tool("hadolint"), "--failure-threshold", "info", "Dockerfile"], project)
    by_stage = stages(project / "Dockerfile")
    assert set(by_stage) == {"uv", "build", "runtime"}
    version = RENDERS[name].get("python_version", "3.12")
    assert f"ARG PYTHON_VERSION={version}" in (project / "Dockerfile").read_text()
    for stage in ("build", "runtime"):
        assert only(by_stage[stage], "FROM") == f"python:${{PYTHON_VERSION}}-slim AS {stage}"
    runtime = by_stage["runtime"]
    assert exec_form(only(runtime, "CMD")) == procfile(project)["web"]
    user = only(runtime, "USER").split(":")[0]
    assert user.isdigit() and int(user) > 0  # numeric, so runAsNonRoot can check it
    healthcheck = only(runtime, "HEALTHCHECK")
    assert "/healthz" in healthcheck and "PORT" in healthcheck
    assert any(
        "uv sync --locked --no-dev" in arguments
        for key, arguments in by_stage["build"]
        if key == "RUN"
    )
    assert ("RUN", "bin/build") in by_stage["build"]


def test_dockerignore_keeps_secrets_and_local_state_out(projects: dict[str, Path]) -> None:
    project = projects["github-k8s-worker"]
    for rel in [
        ".env",
        ".env.local",
        ".venv/bin/python",
        "var/db.sqlite3",
        ".git/config",
        "deploy/kubernetes/secrets.env",
        "src/x/__pycache__/a.cpython-312.pyc",
        "__pycache__/a.cpython-312.pyc",
    ]:
        assert not in_build_context(project, rel), rel
    for rel in [
        ".env.example",
        "uv.lock",
        "pyproject.toml",
        "bin/python",
        "Procfile",
        ".python-version",
        "README.md",
        "src/my_service/web.py",
    ]:
        assert in_build_context(project, rel), rel


def copy_build_context(project: Path, context: Path) -> None:
    for rel in layout.project_files(project):
        if in_build_context(project, rel):
            (context / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(project / rel, context / rel)


def run_build_stage(project: Path, context: Path, app: Path) -> dict[str, str]:
    """The build stage's instructions as shell commands, /app being `app`.

    The host's uv stands in for the uv image, and the Python of .python-version for the
    base image's. A `RUN --mount=type=bind` sees the bound files only while it runs.
    Returns the environment the stage ended with.
    """
    env = {**PROJECT_ENV, "UV_PYTHON": (project / ".python-version").read_text().strip()}
    for keyword, arguments in stages(project / "Dockerfile")["build"]:
        if keyword == "ENV":
            env.update(env_assignments(arguments))
        elif keyword == "WORKDIR":
            assert arguments == "/app"
        elif keyword == "COPY" and not arguments.startswith("--from="):
            assert arguments == ". ."
            shutil.copytree(context, app, dirs_exist_ok=True, symlinks=True)
        elif keyword == "RUN":
            bound = []
            while arguments.startswith("--"):
                flag, _, arguments = arguments.partition(" ")
                options = dict(item.split("=", 1) for item in flag[len("--mount=") :].split(","))
                if flag.startswith("--mount=") and options["type"] == "bind":
                    target = app / options["target"]
                    if not target.exists():
                        shutil.copy2(context / options["source"], target)
                        bound.append(target)
            run(["sh", "-c", arguments], app, env=env)
            for target in bound:
                target.unlink()
    return env


@pytest.fixture
def built(tmp_path: Path) -> tuple[Path, Path]:
    """A default project, and the /app its Dockerfile's build stage makes of it."""
    project = render_cookiecutter(tmp_path / "out", {})
    context, app = tmp_path / "context", tmp_path / "app"
    context.mkdir()
    app.mkdir()
    copy_build_context(project, context)
    run_build_stage(project, context, app)
    return project, app


def runtime_env(project: Path, app: Path) -> dict[str, str]:
    """The runtime stage's ENV, plus settings a platform would inject."""
    env = {"PATH": os.environ["PATH"], "HOME": str(app)}
    for keyword, arguments in stages(project / "Dockerfile")["runtime"]:
        if keyword == "ENV":
            env.update(env_assignments(arguments))
    with socket.socket() as sock:  # a port nobody listens on: the OS picks it
        sock.bind(("127.0.0.1", 0))
        env["PORT"] = str(sock.getsockname()[1])
    env.update(
        SECRET_KEY="docker-build-stage-test-secret-key-0123456789",
        WEB_CONCURRENCY="1",
        # The embedded defaults, in the image's writable var/.
        DATABASE_URL="sqlite:///var/db.sqlite3",
        SESSION_STORE_URL="sqlite:///var/sessions.sqlite3",
    )
    return env


def test_docker_build_stage_builds_a_serving_app(built: tuple[Path, Path], tmp_path: Path) -> None:
    project, app = built
    dockerfile, env = stages(project / "Dockerfile"), runtime_env(project, app)
    no_dev = "import importlib.util, sys; sys.exit(importlib.util.find_spec('pytest') is not None)"
    run([str(app / ".venv/bin/python"), "-c", no_dev], app)  # dev group left out
    (app / "var").mkdir(exist_ok=True)  # as the runtime stage makes it
    run(procfile(project)["release"], app, env=env)  # a platform releases, then runs web
    healthcheck = only(dockerfile["runtime"], "HEALTHCHECK")
    probe = exec_form(healthcheck.split(" CMD ", 1)[1])
    log = (tmp_path / "web.log").open("w")
    server = subprocess.Popen(
        exec_form(only(dockerfile["runtime"], "CMD")),
        cwd=app,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60  # a guard against a hang, not a speed check
        while subprocess.run(probe, cwd=app, env=env, capture_output=True).returncode != 0:
            assert server.poll() is None, (tmp_path / "web.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "web.log").read_text()
            time.sleep(0.5)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        log.close()
    assert server.returncode == 0, (tmp_path / "web.log").read_text()


@pytest.mark.parametrize("name", RENDERS)
def test_compose_validates_and_runs_the_procfile(projects: dict[str, Path], name: str) -> None:
    project = projects[name]
    result = check_schema("vendor.compose-spec", project / "compose.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    services = load_yaml(project / "compose.yaml")["services"]
    assert {"postgres", "redis", "memcached"} <= set(services)
    for service in services.values():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{port} would be reachable from the network"
    assert services["release"]["command"] == procfile(project)["release"]
    assert "command" not in services["web"]  # the image's CMD: the Procfile's web command


# --- Heroku -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", RENDERS)
def test_heroku_app_json_matches_the_procfile(projects: dict[str, Path], name: str) -> None:
    project = projects[name]
    manifest = json.loads((project / "app.json").read_text(encoding="utf-8"))
    # Heroku allows 30 characters.
    assert manifest["name"] == RENDERS[name].get("project_name", "My Service")[:30]
    assert set(manifest["formation"]) == set(procfile(project)) - {"release"}
    addons = {addon["plan"]: addon["as"] for addon in manifest["addons"]}
    assert addons == {"heroku-postgresql": "DATABASE", "heroku-redis": "SESSION_STORE"}
    assert manifest["env"]["SECRET_KEY"]["generator"] == "secret"
    # Heroku Redis serves rediss:// with a self-signed certificate.
    assert manifest["env"]["SESSION_STORE_TLS_VERIFY"]["value"] == "false"
    documented = re.findall(r"^([A-Z_]+)=", (project / ".env.example").read_text(), re.M)
    assert set(manifest["env"]) <= set(documented)
    assert (project / ".python-version").read_text().strip() == RENDERS[name].get(
        "python_version", "3.12"
    )
    # Heroku's Python buildpack runs bin/post_compile after installing: assets at build time.
    post_compile = project / "bin/post_compile"
    assert os.access(post_compile, os.X_OK)
    assert post_compile.read_text().rstrip().endswith('exec "$(dirname "$0")/build"')


# --- Kubernetes ---------------------------------------------------------------------------


def manifests(project: Path) -> dict[str, dict[str, Any]]:
    """kind/name -> resource, from every manifest the kustomization lists."""
    folder = project / "deploy/kubernetes"
    kustomization = load_yaml(folder / "kustomization.yaml")
    resources: dict[str, dict[str, Any]] = {}
    for rel in kustomization["resources"]:
        for doc in yaml.safe_load_all((folder / rel).read_text(encoding="utf-8")):
            resources[f"{doc['kind']}/{doc['metadata']['name']}"] = doc
    return resources


def pod_specs(resources: dict[str, dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for key, resource in resources.items():
        if resource["kind"] in ("Deployment", "Job"):
            yield key, resource["spec"]["template"]["spec"]
        elif resource["kind"] == "CronJob":
            yield key, resource["spec"]["jobTemplate"]["spec"]["template"]["spec"]


@pytest.mark.parametrize("name", KUBERNETES_RENDERS)
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_kubernetes_manifests_validate(projects: dict[str, Path], name: str, version: str) -> None:
    for key, resource in manifests(projects[name]).items():
        try:
            kubernetes_validate.validate(resource, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{key} is invalid for Kubernetes {version}: {error}")


def test_kubernetes_validation_rejects_a_broken_manifest(projects: dict[str, Path]) -> None:
    """Control: a misspelt field fails the strict validation above."""
    web = manifests(projects["github-k8s-worker"])["Deployment/my-service-web"]
    container = web["spec"]["template"]["spec"]["containers"][0]
    container["readinessProbe"]["httpGett"] = container["readinessProbe"].pop("httpGet")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(web, kubernetes_validate.latest_version(), strict=True)


@pytest.mark.parametrize("name", KUBERNETES_RENDERS)
def test_kubernetes_runs_each_procfile_process(projects: dict[str, Path], name: str) -> None:
    project = projects[name]
    app = RENDERS[name].get("project_slug", "my_service").replace("_", "-")
    processes, resources = procfile(project), manifests(project)
    deployments = {
        key.split("/", 1)[1].removeprefix(f"{app}-"): resource["spec"]["template"]["spec"]
        for key, resource in resources.items()
        if resource["kind"] == "Deployment"
    }
    assert set(deployments) == set(processes) - {"release"}
    for process, spec in deployments.items():
        assert spec["containers"][0]["command"] == processes[process]
    # Kubernetes counts the grace period from the start of preStop: it must cover the
    # pause there plus the web server's whole drain.
    [web] = deployments["web"]["containers"]
    pause = int(web["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert deployments["web"]["terminationGracePeriodSeconds"] > pause + drain_seconds(project)
    job = resources[f"Job/{app}-release"]["spec"]
    assert job["template"]["spec"]["containers"][0]["command"] == processes["release"]
    assert job["backoffLimit"] in (0, 1) and job["activeDeadlineSeconds"] > 0
    assert job["template"]["spec"]["restartPolicy"] == "Never"


@pytest.mark.parametrize("name", KUBERNETES_RENDERS)
def test_kubernetes_scales_each_long_running_process(projects: dict[str, Path], name: str) -> None:
    """One HorizontalPodAutoscaler per Deployment, which leaves the replica count to it."""
    resources = manifests(projects[name])
    deployments = {k.split("/")[1]: r for k, r in resources.items() if r["kind"] == "Deployment"}
    autoscalers = [r["spec"] for r in resources.values() if r["kind"] == "HorizontalPodAutoscaler"]
    targets = {hpa["scaleTargetRef"]["name"]: hpa for hpa in autoscalers}
    assert set(targets) == set(deployments)
    for target, hpa in targets.items():
        assert hpa["scaleTargetRef"]["kind"] == "Deployment"
        assert "replicas" not in deployments[target]["spec"], target
        assert 1 <= hpa["minReplicas"] < hpa["maxReplicas"]
        [container] = deployments[target]["spec"]["template"]["spec"]["containers"]
        assert container["resources"]["requests"]["cpu"]  # Utilization is of the request
    assert targets[next(t for t in targets if t.endswith("-web"))]["minReplicas"] >= 2  # the PDB


@pytest.mark.parametrize("name", KUBERNETES_RENDERS)
def test_kubernetes_schedules_the_purge_tasks(projects: dict[str, Path], name: str) -> None:
    """A CronJob per scheduled admin task, each an existing task run by bin/admin."""
    project = projects[name]
    cronjobs = [r["spec"] for r in manifests(project).values() if r["kind"] == "CronJob"]
    commands = [
        c["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"] for c in cronjobs
    ]
    assert ["bin/admin", "purge_expired_sessions"] in commands
    if (project / "admin/purge_jobs.py").is_file():
        assert ["bin/admin", "purge_jobs"] in commands
    for cronjob, command in zip(cronjobs, commands, strict=True):
        assert command[0] == "bin/admin" and (project / "admin" / f"{command[1]}.py").is_file()
        assert cronjob["concurrencyPolicy"] == "Forbid"
        assert cronjob["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] == "Never"


@pytest.mark.parametrize("name", KUBERNETES_RENDERS)
def test_kubernetes_web_is_probed_and_served(projects: dict[str, Path], name: str) -> None:
    project = projects[name]
    app = RENDERS[name].get("project_slug", "my_service").replace("_", "-")
    resources = manifests(project)
    web = resources[f"Deployment/{app}-web"]["spec"]["template"]
    [container] = web["spec"]["containers"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    port_env = {item["name"]: item["value"] for item in container["env"]}["PORT"]
    assert ports["http"] == int(port_env)
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
    service = resources[f"Service/{app}-web"]["spec"]
    assert service["selector"].items() <= web["metadata"]["labels"].items()
    assert {port["targetPort"] for port in service["ports"]} == {"http"}


@pytest.mark.parametrize("name", KUBERNETES_RENDERS)
def test_kubernetes_config_comes_from_the_kustomization(
    projects: dict[str, Path], name: str
) -> None:
    folder = projects[name] / "deploy/kubernetes"
    kustomization = load_yaml(folder / "kustomization.yaml")
    listed = set(kustomization["resources"])
    assert listed == {p.name for p in folder.glob("*.yaml")} - {"kustomization.yaml"}
    [config] = kustomization["configMapGenerator"]
    [secrets] = kustomization["secretGenerator"]
    assert all((folder / env).is_file() for env in config["envs"])
    assert secrets["envs"] == ["secrets.env"]  # git-ignored; the example is committed
    assert (folder / "secrets.env.example").is_file()
    assert "deploy/kubernetes/secrets.env" in (projects[name] / ".gitignore").read_text()
    documented = set(
        re.findall(r"^([A-Z_]+)=", (projects[name] / ".env.example").read_text(), re.M)
    )
    for env_file in [*config["envs"], "secrets.env.example"]:
        variables = re.findall(r"^([A-Z_]+)=", (folder / env_file).read_text(), re.M)
        assert set(variables) <= documented, env_file
    images = {image["name"] for image in kustomization["images"]}
    for key, spec in pod_specs(manifests(projects[name])):
        [container] = spec["containers"]
        assert container["image"] in images, key
        sources = {next(iter(ref.values()))["name"] for ref in container["envFrom"]}
        assert sources == {config["name"], secrets["name"]}, key
        assert spec["securityContext"]["runAsNonRoot"] is True, key


@pytest.mark.parametrize("name", KUBERNETES_RENDERS)
def test_kubernetes_names_are_dns_labels(projects: dict[str, Path], name: str) -> None:
    for key, resource in manifests(projects[name]).items():
        assert DNS_1123_LABEL.fullmatch(resource["metadata"]["name"]), key
        for value in resource["metadata"]["labels"].values():
            assert DNS_1123_LABEL.fullmatch(value), key


def test_kubernetes_files_only_when_asked(projects: dict[str, Path]) -> None:
    assert not (projects["none-awkward"] / "deploy").exists()
    assert "secrets.env" not in (projects["none-awkward"] / ".gitignore").read_text()
    gitlab = projects["gitlab-k8s"] / "deploy/kubernetes"
    assert not (gitlab / "worker-deployment.yaml").exists()  # no worker asked for


# --- Procfile, pre-commit and the CI release step in a synced project (slow) -------------


@pytest.mark.parametrize("name", RENDERS)
def test_honcho_accepts_the_procfile(projects: dict[str, Path], name: str) -> None:
    result = run([tool("honcho"), "check"], projects[name])
    assert set(procfile(projects[name])) <= set(re.findall(r"\w+", result.stderr + result.stdout))


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
