# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Test-only: gives the real web process a slow endpoint, GET /test/slow.

tests/test_web.py runs the Procfile's web command with this folder on PYTHONPATH; Python
imports `sitecustomize` at start-up, before the web module, so the app every worker builds
has the extra route. Production code has no slow endpoint and no switch for one.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import FastAPI

from {{ cookiecutter.project_slug }} import app as app_module
from {{ cookiecutter.project_slug }}.config import Settings

_create_app = app_module.create_app


async def slow(started: str, seconds: float) -> dict[str, float]:
    """Touches `started` (so the test knows the request is in flight), then sleeps."""
    Path(started).touch()
    await asyncio.sleep(seconds)
    return {"slept": seconds}


def create_app_with_slow_route(settings: Settings) -> FastAPI:
    app = _create_app(settings)
    app.add_api_route("/test/slow", slow)
    return app


app_module.create_app = create_app_with_slow_route
