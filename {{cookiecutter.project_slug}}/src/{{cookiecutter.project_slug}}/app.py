# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""The web application: `create_app(settings)` builds it; nothing happens at import time.

FastAPI validates requests from type hints (a bad request gets a 422 JSON body naming the
field) and publishes an OpenAPI schema at /openapi.json. Every error a client can see is
JSON: {"detail": ...} for 404, 405, 413, 422 and 500; a traceback only ever reaches the
log. bad_requests.py says what a bad request gets.

Endpoints reach DATABASE_URL through `database.Database`: one engine per app (so per web
process), made here and disposed at shutdown, and a connection in a transaction per
request.
"""

from __future__ import annotations

import json
from importlib.metadata import version
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match

from . import assets, bad_requests, database, routes, sessions
from . import jobs as service_jobs  # noqa: F401 - registers the jobs that `enqueue` checks
from .config import Settings
from .origins import CrossOriginProtection
from .request_log import RequestLogMiddleware
from .security import AllowedHosts, ForwardedHeaders, SecurityHeaders

PACKAGE = __name__.partition(".")[0]
# The service's name: the OpenAPI title (/docs) and the heading of pages.
TITLE = "{{ cookiecutter.project_name | replace('\\', '\\\\') | replace('"', '\\u0022') }}"

health = APIRouter()


class JSON(JSONResponse):
    """Every route's JSON answer: UTF-8 as usual, and \\u escapes where UTF-8 cannot carry
    the text (a lone surrogate, which a client can send as "\\ud800" in valid JSON), so a
    route that echoes what it was given answers instead of failing with a 500."""

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except UnicodeEncodeError:
            return json.dumps(content, allow_nan=False, separators=(",", ":")).encode()


@health.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness for load balancers and orchestrators: answers without touching any
    backing service, so a slow database never makes the platform restart healthy
    processes.
    """
    return {"status": "ok"}


def create_app(settings: Settings) -> FastAPI:
    """Build the app for validated settings; endpoints read them from `app.state`."""
    # openapi_url=None also turns off /docs and /redoc, which read it.
    app = FastAPI(
        title=TITLE,
        version=version(PACKAGE),
        openapi_url="/openapi.json" if settings.api_docs else None,
        redirect_slashes=False,  # bad_requests.not_found redirects, without naming a host
        default_response_class=JSON,
        lifespan=database.lifespan,  # checks the endpoints at start-up, disposes at shutdown
    )
    app.state.settings = settings
    database.install(app, settings)  # the engine endpoints' `Database` connections use
    app.add_exception_handler(405, method_not_allowed)
    app.add_exception_handler(404, bad_requests.not_found)
    app.add_exception_handler(RequestValidationError, bad_requests.validation_failed)
    document_body_errors(app)
    app.include_router(health)

    # The service's own routers and middleware (routes.py, the team's file). Added before
    # the sessions and RequestLogMiddleware, so those tag, log and guard every request;
    # only SecurityHeaders and ForwardedHeaders wrap them.
    routes.install(app, settings)
    sessions.install(app, session_config(settings), session_store(settings))
    assets.install(app)  # build/static/ from bin/build, served under /static/

    # Outside the sessions: a refused cross-origin request reaches no session.
    app.add_middleware(CrossOriginProtection, trusted_origins=settings.trusted_origins)
    if settings.allowed_hosts:
        app.add_middleware(AllowedHosts, hosts=settings.allowed_hosts)
    app.add_middleware(bad_requests.BodyLimit, limit=settings.max_request_body_bytes)
    app.add_middleware(RequestLogMiddleware)
    # Outside RequestLogMiddleware, so that its own 500 answers carry the headers too.
    app.add_middleware(SecurityHeaders, hsts=settings.session_cookie_secure)
    # Outermost: every layer sees the scheme and client address the trusted proxies report.
    hops = settings.forwarded_trusted_hops
    app.add_middleware(ForwardedHeaders, trusted=settings.forwarded_allow_ips, hops=hops)
    return app


def session_config(settings: Settings) -> sessions.SessionConfig:
    """The session rules the settings choose (SECRET_KEY, SESSION_TTL_SECONDS, ...)."""
    return sessions.SessionConfig(
        secret_key=settings.secret_key.get_secret_value(),
        idle_ttl=settings.session_ttl_seconds,
        max_age=settings.session_max_age_seconds,
        secure=settings.session_cookie_secure,
        fallback_keys=tuple(key.get_secret_value() for key in settings.secret_key_fallbacks),
        max_bytes=settings.session_max_bytes,
    )


def session_store(settings: Settings) -> sessions.SessionStore:
    """The server-side session store SESSION_STORE_URL names; it connects on first use."""
    url, verify = settings.session_store_url, settings.session_store_tls_verify
    return sessions.create_store(url, tls_verify=verify)


HTTP_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


async def method_not_allowed(request: Request, error: Exception) -> Response:
    """A 405 whose Allow header lists every method of the path. Starlette names only those
    of the first route that matched the path (GET for /api/visits, which has POST too).
    """
    if not isinstance(error, HTTPException):  # registered for status 405: always one
        raise error
    routes = request.app.router.routes
    allowed = [
        method
        for method in HTTP_METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes
        )
    ]
    error.headers = {**(error.headers or {}), "Allow": ", ".join(allowed)}
    return await http_exception_handler(request, error)


HTTP_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPError"}}}
BODY_ERROR = {"description": "The body is not JSON in UTF-8", "content": HTTP_ERROR}
BODY_TOO_LARGE = {"description": "The body is over MAX_REQUEST_BODY_BYTES", "content": HTTP_ERROR}


def document_body_errors(app: FastAPI) -> None:
    """Every operation that takes a body also answers 400 when the body is not UTF-8
    (FastAPI's "There was an error parsing the body") and 413 when it is too large: say
    so in the schema."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()
        schema.setdefault("components", {}).setdefault("schemas", {})["HTTPError"] = {
            "type": "object",
            "properties": {"detail": {"type": "string"}},
            "required": ["detail"],
        }
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                if "requestBody" in operation:
                    operation["responses"].setdefault("400", BODY_ERROR)
                    operation["responses"].setdefault("413", BODY_TOO_LARGE)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
