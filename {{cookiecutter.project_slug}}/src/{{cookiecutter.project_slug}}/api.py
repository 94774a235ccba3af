"""Demo endpoints of the server-side session: a visit counter and a login.

They show the session API a real feature would use: read (`GET /api/visits` never writes),
change (`POST /api/visits`), rotate the ID on login, end the session on logout. The
login takes any well-formed username: it stands in for a real credential check.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Response, status
from pydantic import BaseModel, ConfigDict, StringConstraints

from .sessions import SessionDep

router = APIRouter(prefix="/api", tags=["session demo"])

Username = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=150, pattern=r"^\S+$")
]


class Visits(BaseModel):
    visits: int


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a typo in a field name is an error, not ignored

    username: Username


class Me(BaseModel):
    username: str


@router.get("/visits")
async def read_visits(session: SessionDep) -> Visits:
    """The counter of this session; reading it changes nothing."""
    return Visits(visits=_visits(session))


@router.post("/visits")
async def count_visit(session: SessionDep) -> Visits:
    session["visits"] = _visits(session) + 1
    return Visits(visits=session["visits"])


@router.post("/login")
async def login(body: Login, session: SessionDep) -> Me:
    """Log in as `username`: the session moves to a new ID (the old one is deleted)."""
    session.regenerate()
    session["username"] = body.username
    return Me(username=body.username)


@router.get("/me", responses={401: {"description": "Not logged in"}})
async def me(session: SessionDep) -> Me:
    username = session.get("username")
    if not isinstance(username, str):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "not logged in")
    return Me(username=username)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(session: SessionDep) -> Response:
    """Delete the session server-side and clear the cookie."""
    session.end()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _visits(session: SessionDep) -> int:
    value = session.get("visits", 0)
    return value if isinstance(value, int) else 0
