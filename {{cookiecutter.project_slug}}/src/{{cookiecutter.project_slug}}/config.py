# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Configuration: environment variables only, validated once at start-up (twelve-factor III).

Every setting is its own variable; there is no named-environment switch. A process calls
`load_settings()` before it does anything else (before binding a port, before touching a
backing service): it returns the validated `Settings`, or exits non-zero with one message
that names every bad or missing variable and never shows a value.

`.env` is a local convenience: when a `.env` file sits at the project root (bin/setup
writes one from `.env.example`), its values fill in variables that the environment does
not set. Real environment variables always win. Production sets real variables and has no
`.env` (it is git-ignored and never shipped in a build).
"""

from __future__ import annotations

import ipaddress
import re
import sys
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic_settings import NoDecode, SettingsConfigDict

from .db import SCHEMES as DATABASE_SCHEMES
from .sessions.urls import SCHEMES as SESSION_STORE_SCHEMES
from .sessions.urls import check_url as check_session_store_url
from .settings import ServiceSettings

# src/<package>/config.py -> the project root, where bin/setup writes .env. An installed
# (non-editable) package finds no .env there, which is right: production has none.
ENV_FILE = Path(__file__).resolve().parents[2] / ".env"
# The largest session record a Memcached server takes with its default item size (1 MiB,
# which also holds the key and the item's header).
MEMCACHED_ITEM = 1_000_000


def _check_url(url: str, schemes: tuple[str, ...]) -> str:
    """Accept a URL with one of `schemes`; the error message never contains the URL."""
    allowed = ", ".join(f"{s}:///path" if s == "sqlite" else f"{s}://" for s in schemes)
    expected = f"must be a URL starting with one of {allowed}"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parses the port, raising ValueError when it is not a number
    except ValueError:
        raise ValueError(f"is not a valid URL; {expected}") from None
    if parts.scheme not in schemes:
        raise ValueError(expected)
    if parts.scheme == "sqlite":
        if parts.netloc or not parts.path.strip("/"):
            raise ValueError("a SQLite URL is sqlite:///relative/path or sqlite:////absolute/path")
    elif not (parts.hostname or parts.path.strip("/")):
        raise ValueError(f"names no host; {expected}")
    return url


def _database_url(url: str) -> str:
    return _check_url(url, DATABASE_SCHEMES)


def _session_store_url(url: str) -> str:
    check_session_store_url(_check_url(url, SESSION_STORE_SCHEMES))
    return url


def _secret_key(key: SecretStr) -> SecretStr:
    if len(key.get_secret_value()) < 32:
        raise ValueError("must be at least 32 characters (bin/setup generates one)")
    return key


def _comma_separated(value: object) -> object:
    """`a, b,c` -> ["a", "b", "c"]; empty items are dropped. Lists pass through."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def _secret_keys(keys: list[SecretStr]) -> list[SecretStr]:
    for position, key in enumerate(keys, start=1):
        if len(key.get_secret_value()) < 32:
            raise ValueError(f"key {position} is shorter than 32 characters")
    return keys


def _addresses(entries: list[str]) -> list[str]:
    if "*" in entries and len(entries) > 1:
        raise ValueError("'*' trusts every address and cannot be combined with others")
    for entry in entries:
        if entry != "*":
            try:
                ipaddress.ip_network(entry)
            except ValueError:
                raise ValueError(
                    "each item must be an IP address or a network such as 10.0.0.0/8 "
                    "(host bits zero), or '*' alone"
                ) from None
    return entries


_HOSTNAME = re.compile(r"(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*")


def _hosts(entries: list[str]) -> list[str]:
    hosts = [entry.lower() for entry in entries]
    for host in hosts:
        if not (_HOSTNAME.fullmatch(host) or _is_ip(host.strip("[]"))):
            raise ValueError(
                "each item must be a host name (example.com), a wildcard for its "
                "subdomains (*.example.com) or an IP address, without scheme or port"
            )
    return hosts


_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*")
DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(entry: str) -> str:
    """`entry` as a browser writes it in an Origin header: lowercase, no default port."""
    try:
        parts = urlsplit(entry.lower())
        port = parts.port
    except ValueError:
        raise ValueError("is not a URL") from None
    if not _SCHEME.fullmatch(parts.scheme) or not parts.netloc:
        raise ValueError("needs a scheme and a host (https://app.example.com)")
    if parts.path or parts.query or parts.fragment or "?" in entry or "#" in entry:
        raise ValueError("has a path, query or fragment; an origin has none, not even '/'")
    host = parts.hostname or ""
    valid_host = "*" not in host and (_HOSTNAME.fullmatch(host) or _is_ip(host))
    if "@" in parts.netloc or not valid_host:
        raise ValueError("names no valid host")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != DEFAULT_PORTS.get(parts.scheme):
        netloc = f"{netloc}:{port}"
    return f"{parts.scheme}://{netloc}"


def _origins(entries: list[str]) -> list[str]:
    origins = []
    for position, entry in enumerate(entries, start=1):
        try:
            origins.append(_origin(entry))
        except ValueError as error:
            raise ValueError(
                f"item {position} {error}; each item is scheme://host[:port], "
                "such as https://app.example.com or http://localhost:3000"
            ) from None
    return origins


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


# Comma-separated environment variables read as lists (NoDecode: not parsed as JSON).
Addresses = Annotated[
    list[str], NoDecode, BeforeValidator(_comma_separated), AfterValidator(_addresses)
]
Hosts = Annotated[list[str], NoDecode, BeforeValidator(_comma_separated), AfterValidator(_hosts)]
Origins = Annotated[
    list[str], NoDecode, BeforeValidator(_comma_separated), AfterValidator(_origins)
]


class Settings(ServiceSettings):
    """The service's whole configuration; field `foo_bar` is read from `FOO_BAR`.

    The template's settings are declared here; the service's own are inherited from
    `ServiceSettings` (settings.py), so both are validated and reported together.
    """

    model_config = SettingsConfigDict(
        env_file=ENV_FILE,
        env_file_encoding="utf-8",
        env_ignore_empty=True,  # `SECRET_KEY=` counts as unset, not as an empty key
        extra="ignore",  # .env may hold variables for other tools (honcho, Docker)
        frozen=True,
        hide_input_in_errors=True,  # pydantic would echo values (secrets) in its errors
    )

    port: int = Field(default=8000, ge=1, le=65535)
    web_concurrency: int = Field(default=2, ge=1, le=64)
    # repr=False: a logged or printed Settings never shows secrets or passwords in URLs.
    secret_key: Annotated[SecretStr, AfterValidator(_secret_key)]
    # Old keys, newest first, that still open sessions while SECRET_KEY is rotated.
    secret_key_fallbacks: Annotated[
        list[SecretStr], NoDecode, BeforeValidator(_comma_separated), AfterValidator(_secret_keys)
    ] = Field(default=[], repr=False)
    database_url: Annotated[str, AfterValidator(_database_url)] = Field(repr=False)
    session_store_url: Annotated[str, AfterValidator(_session_store_url)] = Field(repr=False)
    session_ttl_seconds: int = Field(default=1_209_600, ge=60)  # idle expiry: 14 days
    session_max_age_seconds: int = Field(default=2_592_000, ge=60)  # absolute cap: 30 days
    session_cookie_secure: bool = True
    # rediss:// (+cluster) only: false accepts a self-signed certificate (Heroku Redis).
    session_store_tls_verify: bool = True
    # Proxies whose X-Forwarded-Proto/-For are believed (the client's scheme and address).
    forwarded_allow_ips: Addresses = Field(default_factory=lambda: ["127.0.0.1", "::1"])
    # How many proxies append to X-Forwarded-For: the client is that many entries from its
    # end; entries further left were written by the client itself.
    forwarded_trusted_hops: int = Field(default=1, ge=1, le=16)
    # Host headers served; empty serves any (a platform router checks them already).
    allowed_hosts: Hosts = Field(default_factory=list)
    # A larger request body gets a 413 before it is read.
    max_request_body_bytes: int = Field(default=1_048_576, ge=1024, le=1 << 30)
    # A request that would store a larger session gets a 413 and writes nothing (the
    # default fits Memcached's 1 MiB items with room to spare).
    session_max_bytes: int = Field(default=524_288, ge=1024, le=64 << 20)
    # Other origins whose browsers may send POST, PUT, PATCH or DELETE (origins.py).
    trusted_origins: Origins = Field(default_factory=list)
    api_docs: bool = True  # /docs, /redoc and /openapi.json
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"

    @model_validator(mode="before")
    @classmethod
    def _upper_log_level(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("log_level"), str):
            data["log_level"] = data["log_level"].upper()
        return data

    @model_validator(mode="after")
    def _max_age_covers_ttl(self) -> Settings:
        if self.session_max_age_seconds < self.session_ttl_seconds:
            raise ValueError(
                "SESSION_MAX_AGE_SECONDS must be at least SESSION_TTL_SECONDS "
                "(the absolute cap cannot be shorter than the idle expiry)"
            )
        return self

    @model_validator(mode="after")
    def _sessions_fit_memcached(self) -> Settings:
        memcached = self.session_store_url.startswith("memcached:")
        if memcached and self.session_max_bytes > MEMCACHED_ITEM:
            raise ValueError(
                f"SESSION_MAX_BYTES must be at most {MEMCACHED_ITEM} with a Memcached session "
                "store (its items hold at most 1 MiB, key and header included)"
            )
        return self


def env_var(field: str) -> str:
    """The environment variable a settings field is read from."""
    return field.upper()


def describe_errors(error: ValidationError) -> str:
    """One message naming every bad variable by its environment name, without values."""
    lines = []
    for item in error.errors(include_input=False, include_url=False):
        if item["loc"]:
            name = env_var(str(item["loc"][0]))
            reason = "is required but not set" if item["type"] == "missing" else item["msg"]
        else:  # a rule across several variables; its message names them
            name, reason = "configuration", item["msg"]
        lines.append(f"  {name}: {reason.removeprefix('Value error, ')}")
    return "Invalid configuration; fix these environment variables:\n" + "\n".join(lines)


def load_settings(env_file: Path | None = ENV_FILE) -> Settings:
    """Validated settings, or exit(2) with every problem listed (values never shown)."""
    try:
        return Settings(_env_file=env_file)  # type: ignore[call-arg]
    except ValidationError as error:
        print(describe_errors(error), file=sys.stderr, flush=True)
        raise SystemExit(2) from None
