# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Test-only endpoints; production code has none of them and no switch for them.

`session` drives the session API itself (read, change, rotate the ID, end), so the
session tests do not depend on the demo, which a project deletes; `notes` is a path with
GET and POST and a JSON body, for the tests of 405s and bad bodies. `slow` holds a request
in flight, for the shutdown tests; `body` reads a whole request body, for the body-limit
tests; `url` shows the URL the app sees (scheme and host as believed from the proxy
headers), and `client` the client address and scheme, for the proxy tests.
`add_test_routes` puts them all on an app; the web process gets them through
tests/with_test_routes/sitecustomize.py.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response, status
from pydantic import BaseModel, ConfigDict

from {{ cookiecutter.project_slug }}.sessions import SessionDep

session = APIRouter(prefix="/test/session")


@session.get("")
async def read_session(data: SessionDep) -> dict[str, Any]:
    return dict(data)


@session.post("/count")
async def count(data: SessionDep) -> dict[str, Any]:
    data["count"] = data.get("count", 0) + 1
    return dict(data)


@session.post("/login")
async def log_in(user: str, data: SessionDep) -> dict[str, Any]:
    """Rotate the session ID, as a login must, and remember `user`."""
    data.regenerate()
    data["user"] = user
    return dict(data)


@session.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def log_out(data: SessionDep) -> Response:
    data.end()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


notes = APIRouter(prefix="/test/notes")


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is an error, not ignored

    text: str


@notes.get("")
async def read_notes(data: SessionDep) -> list[str]:
    """The notes of this session; reading them changes nothing."""
    found = data.get("notes", [])
    return [str(note) for note in found] if isinstance(found, list) else []


@notes.post("")
async def add_note(note: Note, data: SessionDep) -> list[str]:
    data["notes"] = [*await read_notes(data), note.text]
    return list(data["notes"])


async def slow(started: str, seconds: float) -> dict[str, float]:
    """Touches `started` (so the test knows the request is in flight), then sleeps."""
    Path(started).touch()
    await asyncio.sleep(seconds)
    return {"slept": seconds}


async def body(request: Request) -> dict[str, int]:
    """How many bytes of body arrived (read whole, as a JSON or form endpoint would)."""
    return {"bytes": len(await request.body())}


async def url(request: Request) -> dict[str, str]:
    return {"url": str(request.url)}


async def client(request: Request) -> dict[str, object]:
    address = request.client
    return {
        "host": address.host if address else None,
        "port": address.port if address else None,
        "scheme": request.url.scheme,
    }


def add_test_routes(app: FastAPI) -> None:
    app.include_router(session)
    app.include_router(notes)
    app.add_api_route("/test/slow", slow)
    app.add_api_route("/test/body", body, methods=["POST"])
    app.add_api_route("/test/url", url)
    app.add_api_route("/test/client", client)
