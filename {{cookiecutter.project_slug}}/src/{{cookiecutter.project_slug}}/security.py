# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Browser-facing protections, as pure ASGI middleware (see request_log.py for why).

- `SecurityHeaders`: every response gets X-Content-Type-Options, Referrer-Policy,
  X-Frame-Options with CSP frame-ancestors (no framing: against clickjacking), and HSTS
  when the session cookie is HTTPS-only (SESSION_COOKIE_SECURE). A header a route set
  itself is kept.
- `AllowedHosts`: when ALLOWED_HOSTS is set, a request for any other Host gets a JSON 400
  (against Host-header injection into generated URLs). /healthz is exempt: orchestrators
  probe a pod by its IP address.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
)
# One year, this host only: includeSubDomains or preload would bind every subdomain of
# the organisation to HTTPS, a decision for whoever owns the domain, not for one service.
HSTS = (b"strict-transport-security", b"max-age=31536000")

UNCHECKED_PATHS = frozenset({"/healthz"})
_BAD_HOST_BODY = json.dumps({"detail": "Invalid host header"}).encode()


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.headers = (*HEADERS, HSTS) if hsts else HEADERS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [header for header in self.headers if header[0] not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def host_name(host: str) -> str:
    """The name in a Host header value: lowercase, port and IPv6 brackets removed."""
    host = host.lower()
    if host.startswith("["):  # [::1] or [::1]:8000
        return host[1:].partition("]")[0]
    return host.partition(":")[0] if host.count(":") == 1 else host


def host_allowed(host: str, allowed: list[str]) -> bool:
    """Whether a Host header value is one of `allowed`: lowercase names, `*.example.com`
    for any subdomain of example.com, IP addresses."""
    name = host_name(host)
    for entry in allowed:
        if entry.startswith("*."):
            if name.endswith(entry[1:]) and len(name) > len(entry) - 1:
                return True
        elif name and name == entry.strip("[]"):
            return True
    return False


class AllowedHosts:
    def __init__(self, app: ASGIApp, *, hosts: list[str]) -> None:
        self.app, self.hosts = app, hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNCHECKED_PATHS:
            await self.app(scope, receive, send)
            return
        host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
        if host_allowed(host, self.hosts):
            await self.app(scope, receive, send)
            return
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(_BAD_HOST_BODY)).encode()),
        ]
        await send({"type": "http.response.start", "status": 400, "headers": headers})
        await send({"type": "http.response.body", "body": _BAD_HOST_BODY})
