"""This service's endpoints and middleware: yours to edit; template updates never change
this file.

`create_app` calls `install(app, settings)` once per web worker. Include your routers
here, and add your middleware (`app.add_middleware(...)`): it runs inside the session
middleware, so the session is loaded (`scope["session"]`), and inside the request log,
which logs every request with its ID. Put each feature in its own module, e.g.
src/<package>/notes.py with an `APIRouter`, and include it below:

    from . import notes
    app.include_router(notes.router)
"""

from __future__ import annotations

from fastapi import FastAPI

from . import demo
from .config import Settings


def install(app: FastAPI, settings: Settings) -> None:
    """Add this service's routers and middleware to the app `create_app` builds."""
    app.include_router(demo.router)  # the demo page at / and /api/*: delete when unneeded
