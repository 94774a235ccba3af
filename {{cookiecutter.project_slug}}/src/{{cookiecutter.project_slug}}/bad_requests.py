# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""What a bad request gets: a clear 4xx, never a 500, and nothing of anyone else's lost.

- `BodyLimit` (pure ASGI, see request_log.py for why): a body past MAX_REQUEST_BODY_BYTES
  gets a JSON 413. A Content-Length over the limit is refused before a byte is read; a
  body without one (chunked) is counted as the app reads it and refused as it passes.
- `validation_failed`: FastAPI's 422, naming each bad field, but repeating at most a short
  excerpt of what was sent (FastAPI's own echoes every input whole, and fails with a 500
  when one holds a lone surrogate, which UTF-8 cannot encode).
- `not_found`: a 404, or the redirect to the same path with or without its trailing
  slash. Starlette's own redirect is an absolute URL built from the Host header, which
  the client chooses; this one is relative, so it stays on the host the request reached.
"""

from __future__ import annotations

import json
import math
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

EXCERPT = 100  # characters of an input (or a name taken from it) a 422 repeats
MAX_ERRORS = 20  # errors listed in one 422; a list of a million bad items has as many
# On a refused body: the server drops the connection instead of reading the rest of it.
CLOSE = (b"connection", b"close")


class BodyTooLarge(HTTPException):
    """Raised by the receive channel when the body passes the limit. An HTTPException, so
    FastAPI's body parsing lets it through (it turns any other error into a 400)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body too large: the limit is {limit} bytes")


class BodyLimit:
    """Refuses request bodies over `limit` bytes with a JSON 413 (MAX_REQUEST_BODY_BYTES)."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _declared_length(scope) > self.limit:
            # Not one receive() call: the server never reads the body (nor sends a
            # 100 Continue), and drops the connection after this answer.
            await _send_too_large(send, BodyTooLarge(self.limit))
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        async def send_tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if received > self.limit:  # FastAPI's handler answered BodyTooLarge
                    message["headers"] = [*message.get("headers", []), CLOSE]
            await send(message)

        try:
            await self.app(scope, counted, send_tracking)
        except BodyTooLarge as error:  # raised where no exception handler answers it
            if started:
                raise
            await _send_too_large(send, error)


def _declared_length(scope: Scope) -> int:
    """The Content-Length, or 0 without one (the server refuses one that is not a number)."""
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit():
            return int(value)
    return 0


async def _send_too_large(send: Send, error: BodyTooLarge) -> None:
    body = json.dumps({"detail": error.detail}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        CLOSE,
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def validation_failed(request: Request, error: Exception) -> Response:
    """A 422 listing the bad fields: where (`loc`), why (`type`, `msg`) and an excerpt of
    the input. ASCII JSON, so any text the client sent encodes."""
    if not isinstance(error, RequestValidationError):  # registered for it: always one
        raise error
    detail = [_brief(item) for item in error.errors()[:MAX_ERRORS]]
    body = json.dumps({"detail": detail})  # ensure_ascii: a lone surrogate is escaped
    return Response(body, status_code=422, media_type="application/json")


def _brief(error: Any) -> dict[str, Any]:
    brief: dict[str, Any] = {
        "type": str(error.get("type", "")),
        "loc": [part if isinstance(part, int) else _cut(str(part)) for part in error["loc"]],
        "msg": _cut(str(error.get("msg", "")), 300),
    }
    if "input" in error:
        brief["input"] = _excerpt(error["input"])
    if isinstance(error.get("ctx"), dict):
        brief["ctx"] = {_cut(str(key)): _excerpt(value) for key, value in error["ctx"].items()}
    return brief


def _excerpt(value: object) -> object:
    """A JSON value no longer than EXCERPT characters; bigger values become cut text."""
    if value is None or isinstance(value, bool | str):
        return _cut(value) if isinstance(value, str) else value
    if isinstance(value, int) and abs(value) < 10**15:
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    # A container, a huge number, NaN (Python's JSON reads it), an exception raised by a
    # validator: shown as text.
    try:
        text = json.dumps(value, default=str) if isinstance(value, list | dict) else str(value)
    except (ValueError, RecursionError):  # nesting too deep, an integer too long to print
        text = type(value).__name__
    return _cut(text)


def _cut(text: str, length: int = EXCERPT) -> str:
    return text if len(text) <= length else text[:length] + "…"


async def not_found(request: Request, error: Exception) -> Response:
    """A 404, or a relative redirect when only the path with (without) a trailing slash
    is served."""
    if not isinstance(error, HTTPException):  # registered for status 404: always one
        raise error
    location = slash_redirect(request)
    if location is None:
        return await http_exception_handler(request, error)
    return Response(status_code=307, headers={"location": location})


def slash_redirect(request: Request) -> str | None:
    """Where Starlette would redirect (the same rule: no route serves the path, one
    serves it with the trailing slash added or removed), as a relative URL; None when no
    such redirect applies or its target would read as another host (`//host`)."""
    scope, path = request.scope, request.scope["path"]
    routes = request.app.router.routes
    if path == "/" or any(route.matches(scope)[0] != Match.NONE for route in routes):
        return None  # a route answered 404 itself
    other = path.rstrip("/") if path.endswith("/") else path + "/"
    if not other or other.startswith("//"):
        return None
    if not any(route.matches({**scope, "path": other})[0] != Match.NONE for route in routes):
        return None
    # Percent-encoded (a backslash too: browsers read `/\host` as `//host`).
    location = quote(other, safe="/:@!$&'()*+,;=-._~", errors="replace")
    if query := scope.get("query_string", b""):
        location += "?" + quote(query, safe="/:@!$&'()*+,;=-._~?%")
    return location
