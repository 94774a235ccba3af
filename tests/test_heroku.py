"""Heroku: app.json matches the Procfile, and honcho (a Procfile runner) accepts it."""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path

import pytest
from ecosystem import RENDERS, tool
from helpers import failing_factors, procfile, run

pytestmark = pytest.mark.xdist_group("ecosystem")  # shares the renders of `projects`


@pytest.mark.parametrize("name", RENDERS)
def test_heroku_app_json_matches_the_procfile(projects: dict[str, Path], name: str) -> None:
    project = projects[name]
    manifest = json.loads((project / "app.json").read_text(encoding="utf-8"))
    # Heroku allows 30 characters.
    assert manifest["name"] == RENDERS[name].get("project_name", "My Service")[:30]
    # VIII: app.json's formation is the Procfile's long-running process types; V: Heroku's
    # Python buildpack runs bin/post_compile after installing, which runs bin/build.
    assert failing_factors(project, "V", "VIII") == {}
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
    assert os.access(project / "bin/post_compile", os.X_OK)
    # The release step runs once per deploy: the Procfile's, not again as a postdeploy.
    assert "postdeploy" not in manifest.get("scripts", {})
    # Only the router connects, and it appends one X-Forwarded-For entry: the client is that
    # last entry, never the first (the client writes it).
    assert manifest["env"]["FORWARDED_ALLOW_IPS"]["value"] == "*"
    assert manifest["env"]["FORWARDED_TRUSTED_HOPS"]["value"] == "1"


@pytest.mark.parametrize("name", RENDERS)
def test_cloud_native_buildpacks_build_the_assets(projects: dict[str, Path], name: str) -> None:
    """Heroku's CNBs ignore bin/post_compile: project.toml runs bin/build after the Python
    buildpack (an inline buildpack), and keeps the Procfile's process types."""
    project = projects[name]
    descriptor = tomllib.loads((project / "project.toml").read_text(encoding="utf-8"))
    assert descriptor["_"]["schema-version"] == "0.2"
    group = descriptor["io"]["buildpacks"]["group"]
    assert [entry.get("uri") for entry in group] == ["heroku/python", None, "heroku/procfile"]
    script = group[1]["script"]
    assert script["inline"] == "bin/build"
    assert re.fullmatch(r"[a-z0-9-]+/assets", group[1]["id"])
    build = project / script["inline"]
    assert os.access(build, os.X_OK)
    assert "assets build" in build.read_text()


@pytest.mark.parametrize("name", RENDERS)
def test_honcho_accepts_the_procfile(projects: dict[str, Path], name: str) -> None:
    result = run([tool("honcho"), "check"], projects[name])
    assert set(procfile(projects[name])) <= set(re.findall(r"\w+", result.stderr + result.stdout))
