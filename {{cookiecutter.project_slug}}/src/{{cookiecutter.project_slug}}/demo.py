# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""The demo: a page at / and the session endpoints it calls (a visit counter, a login).

The endpoints show the session API a real feature would use: read (`GET /api/visits`
never writes), change (`POST /api/visits`), rotate the ID on login, end the session on
logout. The login takes any well-formed username: it stands in for a real credential
check. The page shows how a page links the fingerprinted static assets.
"""

from __future__ import annotations

import html
from typing import Annotated

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, StringConstraints

from .sessions import SessionDep

router = APIRouter(tags=["session demo"])

# No whitespace or control characters, spelled out: `\s` means different characters in
# the schema's (JavaScript) regexes, Python's and pydantic's (U+0085, U+FEFF, U+001C...),
# so the published pattern would not say what the server accepts. Nothing is stripped
# either: the schema could not say that.
Username = Annotated[
    str,
    StringConstraints(
        min_length=1,
        max_length=150,
        pattern=(
            r"^[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a"
            r"\u2028\u2029\u202f\u205f\u3000\ufeff]+$"
        ),
    ),
]


class Visits(BaseModel):
    visits: int


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a typo in a field name is an error, not ignored

    username: Username


class Me(BaseModel):
    username: str


@router.get("/api/visits")
async def read_visits(session: SessionDep) -> Visits:
    """The counter of this session; reading it changes nothing."""
    return Visits(visits=_visits(session))


@router.post("/api/visits")
async def count_visit(session: SessionDep) -> Visits:
    session["visits"] = _visits(session) + 1
    return Visits(visits=session["visits"])


@router.post("/api/login")
async def login(body: Login, session: SessionDep) -> Me:
    """Log in as `username`: the session moves to a new ID (the old one is deleted)."""
    session.regenerate()
    session["username"] = body.username
    return Me(username=body.username)


@router.get("/api/me", responses={401: {"description": "Not logged in"}})
async def me(session: SessionDep) -> Me:
    username = session.get("username")
    if not isinstance(username, str):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "not logged in")
    return Me(username=username)


@router.post("/api/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(session: SessionDep) -> Response:
    """Delete the session server-side and clear the cookie."""
    session.end()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="{css}">
</head>
<body>
<h1>{title}</h1>
<p>Visits in this session: <output id="visits">?</output></p>
<button id="count" type="button">Count a visit</button>
<script src="{js}" defer></script>
</body>
</html>
"""


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def index(request: Request) -> str:
    """A small page that uses the fingerprinted assets and the session API."""
    assets: dict[str, str] = request.app.state.assets
    return PAGE.format(
        title=html.escape(request.app.title),
        css=html.escape(assets["app.css"]),
        js=html.escape(assets["app.js"]),
    )


def _visits(session: SessionDep) -> int:
    value = session.get("visits", 0)
    return value if isinstance(value, int) else 0
