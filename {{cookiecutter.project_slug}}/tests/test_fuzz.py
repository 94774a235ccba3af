# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Every endpoint of the OpenAPI schema, fuzzed: schemathesis generates valid and invalid
requests from /openapi.json and runs every one of its checks on each answer (no 5xx,
status codes and bodies as documented, a truthful Allow header, ...), plus one of ours:
no traceback in any body. An endpoint you add is fuzzed too, with nothing to write.

In process (ASGI), against a real Redis session store and a database migrated to the
newest revision of every migration branch (`migrated_database`): an endpoint that uses a
table of tables.py finds it there. The example counts keep the run short; raise them
locally (`FUZZ_EXAMPLES=500 pytest tests/test_fuzz.py`) to dig deeper.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import settings
from schemathesis import Case, CheckContext, Response

from {{ cookiecutter.project_slug }}.app import create_app

from helpers import build_assets_once, make_settings

pytestmark = pytest.mark.slow  # the slow tier: CI runs it, `-m ""` locally

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))  # per operation and phase


@schemathesis.check
def no_traceback(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """A traceback belongs in the log, never in a response."""
    if "Traceback (most recent call last)" in response.text:
        raise AssertionError("the response body holds a Python traceback")
    return None


# The schema comes from an app that is never called (it names an unused store); the
# requests go to `app` below, which has a real one. Made at import (schemathesis
# parametrizes at collection), so the assets it serves are built first.
build_assets_once()
schema = schemathesis.openapi.from_asgi(
    "/openapi.json", create_app(make_settings("redis://127.0.0.1:9/0"))
)


@pytest.fixture(scope="module")
def app(redis_url: str, migrated_database: str) -> FastAPI:
    return create_app(make_settings(redis_url, database_url=migrated_database))


@schema.parametrize()
@settings(max_examples=EXAMPLES)
def test_every_endpoint_holds_under_fuzzing(app: FastAPI, case: Case[Any]) -> None:
    case.call_and_validate(app=app)
