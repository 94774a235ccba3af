"""Shared fixtures of the template's test suite."""

from __future__ import annotations

from pathlib import Path

import pytest
from ecosystem import RENDERS
from helpers import render_cookiecutter


@pytest.fixture(scope="session")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The ecosystem tests' renders (ecosystem.RENDERS), made once per test worker."""
    return {
        name: render_cookiecutter(tmp_path_factory.mktemp(name), data)
        for name, data in RENDERS.items()
    }
