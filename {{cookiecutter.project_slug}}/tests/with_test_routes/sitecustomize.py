# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Test-only: gives the real web process the routes of tests/extra_routes.py.

Tests that run the Procfile's web command put this folder and tests/ on PYTHONPATH;
Python imports `sitecustomize` at start-up, before the web module, so the app every
worker builds has the extra routes. Production code has none of them.
"""

from __future__ import annotations

from fastapi import FastAPI

from {{ cookiecutter.project_slug }} import app as app_module
from {{ cookiecutter.project_slug }}.config import Settings

from extra_routes import add_test_routes

_create_app = app_module.create_app


def create_app_with_test_routes(settings: Settings) -> FastAPI:
    app = _create_app(settings)
    add_test_routes(app)
    return app


app_module.create_app = create_app_with_test_routes
