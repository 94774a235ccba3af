# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Session IDs and the signed cookie value that carries them.

An ID is 256 random bits from `secrets` (the OS CSPRNG). The cookie holds `<id>.<mac>`,
where mac is an HMAC-SHA256 of the ID under a key derived from SECRET_KEY (or, while
SECRET_KEY is rotated, one of SECRET_KEY_FALLBACKS). The signature
lets the middleware throw away forged or malformed cookies without asking the store, and
it means a client cannot even propose an ID of its own choosing: the server only ever
looks up IDs it signed. Stores never see the ID either, only its SHA-256 (`store_key`),
so a leaked store dump holds no usable session IDs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence

ID_BYTES = 32  # 256 bits; the floor for session IDs is 128
# `<id>.<mac>`, each the unpadded urlsafe base64 of 32 bytes (43 characters).
_COOKIE_VALUE = re.compile(r"[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def new_id() -> str:
    """A fresh, unguessable session ID."""
    return _b64(secrets.token_bytes(ID_BYTES))


def store_key(session_id: str) -> str:
    """What the store files a session under: the hex SHA-256 of its ID."""
    return hashlib.sha256(session_id.encode("ascii")).hexdigest()


class CookieSigner:
    """Signs session IDs for the cookie and verifies what clients send back.

    Cookies are signed with the current key only; while a key is being rotated, the old
    ones (`fallbacks`) still verify, so nobody is logged out by the rotation.
    """

    def __init__(self, secret_key: str, fallbacks: Sequence[str] = ()) -> None:
        self._keys = [_derive(key) for key in (secret_key, *fallbacks)]

    def sign(self, session_id: str) -> str:
        return f"{session_id}.{_mac(self._keys[0], session_id)}"

    def verify(self, value: str) -> tuple[str, bool] | None:
        """(the ID in a cookie value, whether it was signed with an old key), or None when
        it is malformed or signed with no key we hold."""
        if not _COOKIE_VALUE.fullmatch(value):
            return None
        session_id, mac = value.split(".")
        for position, key in enumerate(self._keys):
            if hmac.compare_digest(mac, _mac(key, session_id)):
                return session_id, position > 0
        return None

    def unsign(self, value: str) -> str | None:
        """The ID in a cookie value, or None when it is malformed or not signed by us."""
        verified = self.verify(value)
        return verified[0] if verified else None


def _derive(secret_key: str) -> bytes:
    # A key of its own (domain separation): a MAC made for anything else that uses
    # SECRET_KEY can never pass as a session cookie.
    return hashlib.sha256(b"session-cookie\x00" + secret_key.encode()).digest()


def _mac(key: bytes, session_id: str) -> str:
    return _b64(hmac.digest(key, session_id.encode("ascii"), "sha256"))
