# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Cross-origin protection: a browser on another origin cannot make a state-changing
request with the user's session cookie (cross-site request forgery).

The session cookie is SameSite=Lax, which keeps it off POSTs from other *sites*, but a
page on a sibling origin of the same site (another subdomain, another port of the same
host) still sends it. So every request whose method is not GET, HEAD or OPTIONS is checked
as Go's net/http CrossOriginProtection does:

1. `Sec-Fetch-Site: same-origin` or `none` (the user typed the URL): allowed. Any other
   value (`same-site`, `cross-site`) is refused unless `Origin` is in TRUSTED_ORIGINS.
2. No Sec-Fetch-Site (browsers older than 2023, or plain HTTP to a host other than
   localhost): allowed when `Origin` names the requested Host or is trusted, or when
   there is no Origin either (not a browser: curl, another service, the tests).

A refusal is a JSON 403 naming the reason; the request reaches no route and no session.
Safe methods are never checked: they must not change state anyway.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SAME_ORIGIN = frozenset({"same-origin", "none"})
FROM_ANOTHER_ORIGIN = "Cross-origin request refused: Sec-Fetch-Site is {}"
ORIGIN_NOT_HOST = "Cross-origin request refused: Origin does not match Host"


def _header(scope: Scope, name: bytes) -> str:
    """The first `name` header's value, or "" (an empty header counts as absent)."""
    return next((v.decode("latin-1").strip() for k, v in scope["headers"] if k == name), "")


def refusal(scope: Scope, trusted_origins: frozenset[str]) -> str | None:
    """Why this request must be refused, or None when it may go on."""
    if scope["method"] in SAFE_METHODS:
        return None
    site = _header(scope, b"sec-fetch-site").lower()
    origin = _header(scope, b"origin").lower()
    if site in SAME_ORIGIN or origin in trusted_origins:
        return None
    if site:
        # Only known values are echoed: the header is the client's text.
        known = site in ("same-site", "cross-site")
        return FROM_ANOTHER_ORIGIN.format(site if known else "not same-origin")
    if not origin:
        return None
    try:
        origin_host = urlsplit(origin).netloc
    except ValueError:
        origin_host = ""
    host = _header(scope, b"host").lower()
    # No scheme in Host: an http:// page posting to https:// passes, as in Go. Browsers that
    # send no Sec-Fetch-Site are old, and this fallback is for them only.
    return None if origin_host and origin_host == host else ORIGIN_NOT_HOST


class CrossOriginProtection:
    def __init__(self, app: ASGIApp, *, trusted_origins: list[str]) -> None:
        self.app = app
        self.trusted_origins = frozenset(trusted_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        reason = refusal(scope, self.trusted_origins) if scope["type"] == "http" else None
        if reason is None:
            await self.app(scope, receive, send)
            return
        body = json.dumps({"detail": reason}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 403, "headers": headers})
        await send({"type": "http.response.body", "body": body})
