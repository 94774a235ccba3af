# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Protections behind proxies and in browsers, as pure ASGI middleware (see request_log.py
for why).

- `ForwardedHeaders`: the client's scheme and address as the trusted proxies report them
  (FORWARDED_ALLOW_IPS, FORWARDED_TRUSTED_HOPS); it replaces uvicorn's own handling, whose
  `*` takes the leftmost X-Forwarded-For entry, the one the client writes.
- `SecurityHeaders`: every response gets X-Content-Type-Options, Referrer-Policy,
  X-Frame-Options with CSP frame-ancestors (no framing: against clickjacking), and HSTS
  when the session cookie is HTTPS-only (SESSION_COOKIE_SECURE). A header a route set
  itself is kept.
- `AllowedHosts`: when ALLOWED_HOSTS is set, a request for any other Host gets a JSON 400
  (against Host-header injection into generated URLs). /healthz is exempt: orchestrators
  probe a pod by its IP address.
"""

from __future__ import annotations

import ipaddress
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


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# X-Forwarded-Proto values understood, and whether each means an encrypted connection.
SECURE_SCHEMES = {"http": False, "https": True, "ws": False, "wss": True}


def peer_address(host: str) -> IPAddress | None:
    """The connecting peer's IP address; an IPv4 peer on the dual-stack `[::]` socket shows
    up as ::ffff:a.b.c.d and is read as a.b.c.d, so IPv4 entries match it."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None  # a Unix socket or a test client's name: no proxy
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def forwarded_client(entry: str) -> tuple[str, int] | None:
    """An X-Forwarded-For entry (`1.2.3.4`, `1.2.3.4:5678`, `::1`, `[::1]:5678`) as a
    (host, port) client; None when it is not an IP address. Port 0 when none is given."""
    host, port = entry, "0"
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port = rest.removeprefix(":") or "0"
    elif entry.count(":") == 1:
        host, port = entry.split(":")
    try:
        return str(ipaddress.ip_address(host)), int(port) if port.isdigit() else 0
    except ValueError:
        return None


class ForwardedHeaders:
    """The client's scheme and address from X-Forwarded-Proto and X-Forwarded-For, believed
    only when the connecting peer is a trusted proxy (`trusted`: networks, or `*` for any).

    Each proxy appends the address it received the request from to X-Forwarded-For, so the
    last `hops` entries were written by the proxies and everything before them by the
    client, who can write anything there. The client is therefore the entry `hops` places
    from the end; a header with fewer entries did not pass that many proxies and is ignored.
    X-Forwarded-Proto is the nearest proxy's word: its last value.
    """

    def __init__(self, app: ASGIApp, *, trusted: list[str], hops: int) -> None:
        self.app, self.hops = app, hops
        self.any_peer = "*" in trusted
        self.networks = [ipaddress.ip_network(entry) for entry in trusted if entry != "*"]

    def trusts(self, client: tuple[str, int] | None) -> bool:
        if client is None:
            return False
        address = peer_address(client[0])
        if address is None:
            return False
        return self.any_peer or any(address in network for network in self.networks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self.trusts(scope.get("client")):
            scope = self.forwarded(scope)
        await self.app(scope, receive, send)

    def forwarded(self, scope: Scope) -> Scope:
        """`scope` with the scheme and client the proxies report, where they are usable."""
        scope = dict(scope)
        protos = header_list(scope, b"x-forwarded-proto")
        if protos and protos[-1].lower() in SECURE_SCHEMES:
            secure = SECURE_SCHEMES[protos[-1].lower()]
            if scope["type"] == "websocket":
                scope["scheme"] = "wss" if secure else "ws"
            else:
                scope["scheme"] = "https" if secure else "http"
        entries = header_list(scope, b"x-forwarded-for")
        client = forwarded_client(entries[-self.hops]) if len(entries) >= self.hops else None
        if client is not None:
            scope["client"] = client
        return scope


def header_list(scope: Scope, name: bytes) -> list[str]:
    """The non-empty comma-separated items of every `name` header, in order: repeated
    headers form one list (RFC 9110, 5.3)."""
    items = []
    for key, value in scope["headers"]:
        if key == name:
            items += [item.strip() for item in value.decode("latin-1").split(",")]
    return [item for item in items if item]
