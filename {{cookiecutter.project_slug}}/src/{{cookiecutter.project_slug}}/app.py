# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""The web application: `create_app(settings)` builds it; nothing happens at import time.

FastAPI validates requests from type hints (a bad request gets a 422 JSON body naming the
field) and publishes an OpenAPI schema at /openapi.json. Every error a client can see is
JSON: {"detail": ...} for 404, 405, 422 and 500; a traceback only ever reaches the log.
"""

from __future__ import annotations

from importlib.metadata import version

from fastapi import APIRouter, FastAPI

from . import assets, routes, sessions
from .config import Settings
from .request_log import RequestLogMiddleware

PACKAGE = __name__.partition(".")[0]
# The service's name: the OpenAPI title (/docs) and the heading of pages.
TITLE = "{{ cookiecutter.project_name | replace('\\', '\\\\') | replace('"', '\\u0022') }}"

health = APIRouter()


@health.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness for load balancers and orchestrators: answers without touching any
    backing service, so a slow database never makes the platform restart healthy
    processes.
    """
    return {"status": "ok"}


def create_app(settings: Settings) -> FastAPI:
    """Build the app for validated settings; endpoints read them from `app.state`."""
    app = FastAPI(title=TITLE, version=version(PACKAGE))
    app.state.settings = settings
    app.include_router(health)

    # The service's own routers and middleware (routes.py, the team's file). Added before
    # the sessions and RequestLogMiddleware, so those stay outermost and see every request.
    routes.install(app, settings)
    sessions.install(app, settings)  # server-side sessions in SESSION_STORE_URL
    assets.install(app)  # build/static/ from bin/build, served under /static/

    app.add_middleware(RequestLogMiddleware)
    return app
