# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""The live session check's probe, loaded by the web processes that check starts (only).

`bin/admin twelve_factor --live` starts the Procfile's web command with this folder on
PYTHONPATH and TWELVE_FACTOR_PROBE naming the service's package. Python imports
`sitecustomize` at start-up, before the web module, so every worker's app gets one more
route, /twelve-factor/session, that uses the session exactly as a feature does
(`SessionDep`): POST counts in the session, DELETE ends it. The check needs no route of
the service itself, so it holds whatever routes the team keeps or deletes.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

PATH = "/twelve-factor/session"
KEY = "twelve_factor_probe"


def add_probe(app: Any, session_dependency: Any) -> None:
    async def count(session: Any) -> dict[str, int]:
        session[KEY] = int(session.get(KEY, 0)) + 1
        return {"count": session[KEY]}

    async def end(session: Any) -> dict[str, int]:
        session.end()  # the record is deleted server-side: the probe leaves nothing behind
        return {"count": 0}

    for handler, method in ((count, "POST"), (end, "DELETE")):
        handler.__annotations__["session"] = session_dependency
        app.add_api_route(PATH, handler, methods=[method], include_in_schema=False)


def install(package: str) -> None:
    """Wrap the package's app factory so each app it builds carries the probe."""
    app_module = importlib.import_module(f"{package}.app")
    dependency = importlib.import_module(f"{package}.sessions").SessionDep
    create_app = app_module.create_app

    def create_app_with_probe(*args: Any, **kwargs: Any) -> Any:
        app = create_app(*args, **kwargs)
        add_probe(app, dependency)
        return app

    setattr(app_module, "create_app", create_app_with_probe)  # noqa: B010  (a module's)


if os.environ.get("TWELVE_FACTOR_PROBE"):
    install(os.environ["TWELVE_FACTOR_PROBE"])
