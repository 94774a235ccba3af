"""Kubernetes: the manifests validate against the bundled schemas of two versions, run each
Procfile process, probe /healthz, take their settings from the kustomization, and give
the web server time to drain."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from ecosystem import RENDERS, load_yaml
from helpers import procfile

KUBERNETES_RENDERS = [name for name, data in RENDERS.items() if data.get("with_kubernetes")]
KUBERNETES_VERSIONS = ["1.30.0", kubernetes_validate.latest_version()]
DNS_1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")

pytestmark = pytest.mark.xdist_group("ecosystem")  # shares the renders of `projects`


def drain_seconds(project: Path) -> int:
    """The web server's drain after SIGTERM: GRACEFUL_TIMEOUT in the project's web.py."""
    [web] = project.glob("src/*/web.py")
    for node in ast.parse(web.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "GRACEFUL_TIMEOUT":
            seconds: int = ast.literal_eval(node.value)
            return seconds
    raise AssertionError(f"{web} sets no GRACEFUL_TIMEOUT")


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
