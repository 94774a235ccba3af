# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""The request log: an ID for every request, one log line each, and a JSON 500 on a crash.

Pure ASGI (no BaseHTTPMiddleware): it does not buffer bodies, works with streaming
responses, and lets context variables set here reach the endpoint.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .logs import request_id

log = logging.getLogger(__name__)

HEADER = b"x-request-id"
# An incoming ID (from a router such as Heroku's, or a calling service) is kept when it is
# short and plain; anything else could forge log fields or headers, so a new one is made.
_SANE_ID = re.compile(rb"[A-Za-z0-9][A-Za-z0-9._:=+/-]{0,127}")

_ERROR_BODY = json.dumps({"detail": "Internal Server Error"}).encode()


def _incoming_id(scope: Scope) -> str | None:
    name: bytes
    value: bytes
    for name, value in scope["headers"]:
        if name == HEADER and _SANE_ID.fullmatch(value):
            return value.decode("ascii")
    return None


class RequestLogMiddleware:
    """Tags each HTTP request with an ID (X-Request-ID), logs it once, and turns an
    unhandled exception into a JSON 500 (the traceback goes to the log, never the client).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _incoming_id(scope) or uuid.uuid4().hex
        token = request_id.set(rid)
        status = 500
        started = False
        start = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (HEADER, rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error in %s %s", scope["method"], scope["path"])
            if started:
                raise  # the response is half sent: the server must drop the connection
            await self._send_error(send, rid)
        finally:
            log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - start) * 1000, 2),
                },
            )
            request_id.reset(token)

    @staticmethod
    async def _send_error(send: Send, rid: str) -> None:
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(_ERROR_BODY)).encode()),
            (HEADER, rid.encode()),
        ]
        await send({"type": "http.response.start", "status": 500, "headers": headers})
        await send({"type": "http.response.body", "body": _ERROR_BODY})
