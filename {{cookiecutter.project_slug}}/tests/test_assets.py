# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Static assets: fingerprinted by the build step, served immutable, required at start."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from {{ cookiecutter.project_slug }} import assets
from {{ cookiecutter.project_slug }}.app import create_app

from helpers import make_settings

FINGERPRINTED = re.compile(r"(?P<stem>[\w-]+)\.[0-9a-f]{12}(?P<suffix>\.\w+)")


def test_build_fingerprints_every_source_file(tmp_path: Path) -> None:
    manifest = assets.build(target=tmp_path / "static")
    sources = sorted(p.name for p in assets.SOURCE.iterdir() if p.is_file())
    assert sorted(manifest) == sources
    for name, hashed in manifest.items():
        match = FINGERPRINTED.fullmatch(hashed)
        assert match, hashed
        assert match["stem"] + match["suffix"] == name
        assert (tmp_path / "static" / hashed).read_bytes() == (assets.SOURCE / name).read_bytes()
        assert not (tmp_path / "static" / name).exists()  # only fingerprinted names are served


def test_a_missing_or_damaged_build_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    with pytest.raises(assets.AssetsNotBuilt, match="run bin/build"):
        assets.load_manifest(tmp_path)
    (tmp_path / assets.MANIFEST).write_text("{not json")
    with pytest.raises(assets.AssetsNotBuilt, match="run bin/build"):
        assets.install(FastAPI(), tmp_path)


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    return TestClient(create_app(make_settings(f"sqlite:///{tmp_path / 'sessions.sqlite3'}")))


def test_assets_are_served_with_far_future_immutable_caching(client: TestClient) -> None:
    # What bin/build last wrote, which may be older than static/ (a file deleted since).
    for url in client.app.state.assets.values():  # type: ignore[attr-defined]
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.content == (assets.BUILD / Path(url).name).read_bytes()
        cache = response.headers["cache-control"]
        assert "immutable" in cache
        assert int(re.search(r"max-age=(\d+)", cache)[1]) >= 365 * 24 * 3600  # type: ignore[index]


def test_source_names_are_not_served(client: TestClient) -> None:
    assert client.get("/static/app.css").status_code == 404
