# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Session isolation on every store: many users and hostile clients at once, one web process.

The real web process (the Procfile's command, one worker, so every request shares one
event loop and the store's batches and pipelines), with a team's notes endpoint added the
README's way (a router of its own, included in `routes.install`, with its own login, so
the test does not depend on the demo a project deletes). Logged-in users post
notes and read them back while hostile clients send lone surrogates and NULs, malformed
JSON, forged, truncated and tampered cookies, and hang up mid-request. Every user only ever
sees their own username and notes, every innocent request succeeds, and no hostile one
gets a 5xx.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest

from helpers import ROOT, process_command, process_env
from servers import free_port, wait_until

pytestmark = pytest.mark.slow  # the slow tier: CI runs it, `-m ""` locally

USERS = 8
ROUNDS = 4  # notes per user; each also reads /api/isolation-me and -notes back
HOSTILES = 4  # each tampers with the cookies of two users

# A team's module and its line in routes.py, as a project would write them (under a path
# of the test's own, so a project's real /api/notes does not shadow it).
NOTES_MODULE = """
from typing import Annotated

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, StringConstraints

from {{ cookiecutter.project_slug }}.sessions import SessionDep

router = APIRouter()


class Note(BaseModel):
    text: str


class Login(BaseModel):
    username: Annotated[str, StringConstraints(min_length=1, pattern=r"^[^\\x00-\\x20]+$")]


@router.post("/api/isolation-login")
async def login(body: Login, session: SessionDep) -> dict[str, str]:
    session.regenerate()  # a login rotates the session ID
    session["username"] = body.username
    return {"username": body.username}


@router.get("/api/isolation-me")
async def me(session: SessionDep) -> dict[str, str]:
    if not isinstance(username := session.get("username"), str):
        raise HTTPException(401, "not logged in")
    return {"username": username}


@router.post("/api/isolation-notes")
async def add_note(note: Note, session: SessionDep) -> dict[str, int]:
    session["notes"] = [*session.get("notes", []), note.text]
    return {"count": len(session["notes"])}


@router.get("/api/isolation-notes")
async def read_notes(session: SessionDep) -> dict[str, list[str]]:
    return {"notes": session.get("notes", [])}
"""
ROUTES_INSTALL = """
from {{ cookiecutter.project_slug }} import routes

import isolation_notes

_install = routes.install


def install(app, settings):
    _install(app, settings)
    app.include_router(isolation_notes.router)


routes.install = install
"""


@contextmanager
def web_with_notes(store_url: str, tmp_path: Path) -> Iterator[str]:
    """The Procfile's web command, one worker, with the notes routes; yields its base URL."""
    (tmp_path / "isolation_notes.py").write_text(NOTES_MODULE, encoding="utf-8")
    (tmp_path / "sitecustomize.py").write_text(ROUTES_INSTALL, encoding="utf-8")
    port = free_port()
    env = process_env(
        f"sqlite:///{tmp_path / 'db.sqlite3'}",
        PORT=str(port),
        WEB_CONCURRENCY="1",
        SESSION_STORE_URL=store_url,
        SESSION_COOKIE_SECURE="false",  # plain HTTP on loopback: the cookie is "session"
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(tmp_path),
    )
    process: subprocess.Popen[bytes] = subprocess.Popen(
        process_command("web"), cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx2.get(f"{base}/api/isolation-notes").status_code == 200
        except httpx2.TransportError:
            return False

    try:
        wait_until(up, process, "web process")
        yield base
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


class Client:
    """One client on a connection of its own, sending exactly the cookie it holds."""

    def __init__(self, base: str) -> None:
        self.http = httpx2.AsyncClient(base_url=base, timeout=20)
        self.cookie: str | None = None
        self.statuses: list[tuple[str, int]] = []

    async def send(
        self, method: str, path: str, *, json: object = None, content: bytes | None = None
    ) -> httpx2.Response:
        self.http.cookies.clear()
        headers = {"content-type": "application/json"}
        if self.cookie is not None:
            headers["cookie"] = f"session={self.cookie}"
        response = await self.http.request(
            method, path, json=json, content=content, headers=headers
        )
        if "session" in response.cookies:
            self.cookie = response.cookies["session"]
        self.statuses.append((f"{method} {path}", response.status_code))
        return response


async def user(base: str, name: str, cookies: dict[str, str]) -> list[str]:
    """Log in as `name`, then post and read back notes; returns what went wrong."""
    client, wrong, notes = Client(base), [], []
    try:
        await client.send("POST", "/api/isolation-login", json={"username": name})
        assert client.cookie is not None
        cookies[name] = client.cookie
        for n in range(ROUNDS):
            notes.append(f"{name}: note {n}, Zoë ✓")
            await client.send("POST", "/api/isolation-notes", json={"text": notes[-1]})
            me = (await client.send("GET", "/api/isolation-me")).json()
            seen = (await client.send("GET", "/api/isolation-notes")).json()
            if me != {"username": name} or seen != {"notes": notes}:
                wrong.append(f"{name} saw {me} and {seen}")
    finally:
        await client.http.aclose()
    wrong += [f"{name}: {call} -> {status}" for call, status in client.statuses if status >= 300]
    return wrong


# What a hostile client sends, and the statuses the app answers it with.
BAD_BODIES = [
    (b'{"text": "lone \\ud800 surrogate"}', {200}),  # valid JSON: a str Python can hold
    (b'{"text": "\\udfff\\ud800"}', {200}),
    (b'{"text": "nul \\u0000 escaped"}', {200}),
    (b'{"text": "raw nul \x00"}', {422}),  # JSON allows no raw control character
    (b'{"text": "raw \xed\xa0\x80 bytes"}', {200}),  # Python's JSON reads a lone surrogate
    (b'{"text": ', {422}),
    (b"[1, 2", {422}),
    (b'{"text": 5}', {422}),
]


def tampered(cookie: str) -> list[str]:
    """Cookies a client could make from someone else's: each one must open nothing."""
    flipped = [cookie[:i] + ("A" if cookie[i] != "A" else "B") + cookie[i + 1 :] for i in (10, 60)]
    return [*flipped, cookie[:-1], cookie[:43], cookie + "x", f"{cookie[:44]}{'x' * 43}"]


async def hostile(base: str, n: int, cookies: dict[str, str]) -> list[str]:
    """Bad bodies on a session of its own, then other users' cookies, tampered; then it
    hangs up mid-request. Returns what went wrong."""
    client, wrong = Client(base), []
    try:
        await client.send("POST", "/api/isolation-login", json={"username": f"mallory{n}\u0000"})
        for body, statuses in BAD_BODIES:
            status = (await client.send("POST", "/api/isolation-notes", content=body)).status_code
            if status not in statuses:
                wrong.append(f"{body!r} -> {status}")
        while len(cookies) < USERS:  # every user logged in: their cookies to tamper with
            await asyncio.sleep(0.01)
        for victim in (f"user{n}", f"user{n + HOSTILES}"):
            wrong += await forge(client, victim, cookies[victim])
        await hang_up(base, client.cookie)
    finally:
        await client.http.aclose()
    errors = [f"mallory{n}: {call} -> {code}" for call, code in client.statuses if code >= 500]
    return wrong + errors


async def forge(client: Client, victim: str, cookie: str) -> list[str]:
    """Send each tampering of the victim's cookie: never their session, never a 5xx."""
    wrong = []
    for forged in tampered(cookie):
        client.cookie = forged
        me = await client.send("GET", "/api/isolation-me")
        notes = await client.send("GET", "/api/isolation-notes")
        if me.status_code != 401 or notes.json() != {"notes": []}:
            wrong.append(f"forged {victim} cookie gave {me.status_code} {me.text} {notes.text}")
    return wrong


async def hang_up(base: str, cookie: str | None) -> None:
    """Requests abandoned half sent and unread: the server must carry on regardless."""
    host, port = base.removeprefix("http://").split(":")
    body = b'{"text": "never read"}'
    head = f"POST /api/isolation-notes HTTP/1.1\r\nhost: {host}\r\n"
    head += "content-type: application/json\r\n"
    if cookie:
        head += f"cookie: session={cookie}\r\n"
    for request in (
        head.encode() + b"content-length: 100\r\n\r\n" + body,  # the body never ends
        head.encode() + f"content-length: {len(body)}\r\n\r\n".encode() + body,  # no read
        b"GET /api/isolation-me HTTP/1.1\r\nhost: ",  # headers cut off
    ):
        _, writer = await asyncio.open_connection(host, int(port))
        writer.write(request)
        await writer.drain()
        writer.close()
        await writer.wait_closed()


async def crowd(base: str) -> list[str]:
    """Every user and hostile client at once; returns everything that went wrong."""
    cookies: dict[str, str] = {}
    users = [user(base, f"user{n}", cookies) for n in range(USERS)]
    hostiles = [hostile(base, n, cookies) for n in range(HOSTILES)]
    results = await asyncio.gather(*users, *hostiles)
    return [problem for problems in results for problem in problems]


def test_every_user_sees_only_their_own_session(session_store_url: str, tmp_path: Path) -> None:
    with web_with_notes(session_store_url, tmp_path) as base:
        assert asyncio.run(crowd(base)) == []
        # The process is still whole: a fresh user works as the first one did.
        assert asyncio.run(user(base, "late", {})) == []
