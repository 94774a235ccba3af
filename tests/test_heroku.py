"""Heroku: app.json matches the Procfile, and honcho (a Procfile runner) accepts it."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from ecosystem import RENDERS, tool
from helpers import procfile, run

pytestmark = pytest.mark.xdist_group("ecosystem")  # shares the renders of `projects`


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
    assert post_compile.read_text().rstrip().endswith('exec "$root/bin/build"')


@pytest.mark.parametrize("name", RENDERS)
def test_honcho_accepts_the_procfile(projects: dict[str, Path], name: str) -> None:
    result = run([tool("honcho"), "check"], projects[name])
    assert set(procfile(projects[name])) <= set(re.findall(r"\w+", result.stderr + result.stdout))
