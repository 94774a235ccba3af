"""The peer for benchmarks/sessions.py: the same service with starsessions instead of ours.

Run by sessions.py in a SCRATCH venv (the rendered project's locked dependencies plus
starsessions; never the project's own venv), from the rendered project's folder, with the
same environment. It builds the same app as `create_app` (the /healthz route, the static
files middleware, RequestLogMiddleware outermost) and serves it with the project's own
gunicorn + uvicorn worker setup, so the only difference is the session layer:

    GET /api/visits     load_session + read the counter (starsessions then saves the
                        session on every response where it is loaded and not empty)
    POST /api/visits    load_session + increment the counter

starsessions is configured as close to ours as it allows: Redis store, JSON serializer,
rolling expiry of SESSION_TTL_SECONDS, HttpOnly, SameSite=Lax.
"""

from __future__ import annotations

import os
from importlib import import_module
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from starsessions import SessionMiddleware, load_session
from starsessions.stores.redis import RedisStore

PACKAGE = os.environ.get("BENCH_PACKAGE", "my_service")
web = import_module(f"{PACKAGE}.web")
app_module = import_module(f"{PACKAGE}.app")
assets = import_module(f"{PACKAGE}.assets")
logs = import_module(f"{PACKAGE}.logs")
config = import_module(f"{PACKAGE}.config")
request_log = import_module(f"{PACKAGE}.request_log")

router = APIRouter(prefix="/api")


def _visits(request: Request) -> int:
    value = request.session.get("visits", 0)
    return value if isinstance(value, int) else 0


@router.get("/visits")
async def read_visits(request: Request) -> dict[str, int]:
    await load_session(request)
    return {"visits": _visits(request)}


@router.post("/visits")
async def count_visit(request: Request) -> dict[str, int]:
    await load_session(request)
    request.session["visits"] = _visits(request) + 1
    return {"visits": request.session["visits"]}


def create_peer_app(settings: Any) -> FastAPI:
    app = FastAPI()
    app.include_router(app_module.health)
    app.include_router(router)
    app.add_middleware(
        SessionMiddleware,
        store=RedisStore(url=settings.session_store_url),
        lifetime=settings.session_ttl_seconds,
        rolling=True,
        cookie_https_only=settings.session_cookie_secure,
    )
    assets.install(app)
    app.add_middleware(request_log.RequestLogMiddleware)
    return app


class PeerServer(web.WebServer):  # type: ignore[misc, name-defined]
    def load(self) -> FastAPI:
        return create_peer_app(self.settings)


def main() -> None:
    settings = config.load_settings()
    assets.load_manifest()
    logs.configure(settings.log_level)
    PeerServer(settings).run()


if __name__ == "__main__":
    main()
