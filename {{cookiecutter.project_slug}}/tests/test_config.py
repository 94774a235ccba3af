# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Settings come from environment variables only, are validated once, and a bad or missing
variable stops the process with one message naming every bad variable, values never shown.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from {{ cookiecutter.project_slug }}.config import Settings, load_settings

from helpers import team_values

SECRET = "s3cret-" + "k" * 40
VALID = {
    "SECRET_KEY": SECRET,
    "DATABASE_URL": "postgresql://app:db-password-123@db.internal:5432/app",
    "SESSION_STORE_URL": "redis://:store-password-456@cache.internal:6379/0",
}


@pytest.fixture(autouse=True)
def environ(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """A clean environment: only what each test sets (the shell's settings do not leak in),
    beside the service's own settings (`team_values()`)."""
    for field in Settings.model_fields:
        monkeypatch.delenv(field.upper(), raising=False)
    for name, value in team_values().items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def setenv(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def failure(capsys: pytest.CaptureFixture[str]) -> str:
    """load_settings()'s exit message (it must exit non-zero)."""
    with pytest.raises(SystemExit) as exited:
        load_settings(env_file=None)
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    return captured.err


def test_defaults_with_only_the_required_variables(environ: pytest.MonkeyPatch) -> None:
    setenv(environ, VALID)
    settings = load_settings(env_file=None)
    assert settings.port == 8000
    assert settings.web_concurrency == 2
    assert settings.secret_key.get_secret_value() == SECRET
    assert settings.database_url == VALID["DATABASE_URL"]
    assert settings.session_store_url == VALID["SESSION_STORE_URL"]
    assert settings.session_ttl_seconds <= settings.session_max_age_seconds
    assert settings.session_cookie_secure is True  # secure unless explicitly turned off
    assert settings.log_level == "INFO"


def test_every_variable_is_read(environ: pytest.MonkeyPatch) -> None:
    setenv(
        environ,
        {
            **VALID,
            "PORT": "5123",
            "WEB_CONCURRENCY": "4",
            "SESSION_TTL_SECONDS": "600",
            "SESSION_MAX_AGE_SECONDS": "3600",
            "SESSION_COOKIE_SECURE": "false",
            "LOG_LEVEL": "debug",
            "MAX_REQUEST_BODY_BYTES": "65536",
            "SESSION_MAX_BYTES": "4096",
        },
    )
    settings = load_settings(env_file=None)
    assert (settings.port, settings.web_concurrency) == (5123, 4)
    assert (settings.session_ttl_seconds, settings.session_max_age_seconds) == (600, 3600)
    assert settings.session_cookie_secure is False
    assert settings.log_level == "DEBUG"
    assert (settings.max_request_body_bytes, settings.session_max_bytes) == (65536, 4096)


def test_one_message_names_every_bad_variable_and_no_value(
    environ: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    setenv(
        environ,
        {
            "DATABASE_URL": "mysql://root:hunter2-password@db/app",
            "SESSION_STORE_URL": "http://user:other-password@cache",
            "PORT": "eighty",
            "LOG_LEVEL": "LOUD",
        },
    )
    message = failure(capsys)
    for name in ("SECRET_KEY", "DATABASE_URL", "SESSION_STORE_URL", "PORT", "LOG_LEVEL"):
        assert f"  {name}: " in message
    assert "SECRET_KEY: is required but not set" in message
    for value in ("hunter2-password", "other-password", "mysql://", "http://", "eighty", "LOUD"):
        assert value not in message
    assert "Traceback" not in message
    assert "WEB_CONCURRENCY" not in message  # valid variables are not blamed


def test_limits_default_below_memcached_item_size(environ: pytest.MonkeyPatch) -> None:
    setenv(environ, VALID)
    settings = load_settings(env_file=None)
    assert settings.max_request_body_bytes == 1024 * 1024
    assert settings.session_max_bytes == 512 * 1024


def test_a_session_limit_memcached_cannot_hold_is_refused(
    environ: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    memcached = {**VALID, "SESSION_STORE_URL": "memcached://cache.internal:11211"}
    setenv(environ, {**memcached, "SESSION_MAX_BYTES": "1000000"})
    assert load_settings(env_file=None).session_max_bytes == 1_000_000
    setenv(environ, {**memcached, "SESSION_MAX_BYTES": "2000000"})
    message = failure(capsys)
    assert "SESSION_MAX_BYTES must be at most 1000000 with a Memcached session store" in message
    setenv(environ, {**VALID, "SESSION_MAX_BYTES": "2000000"})  # Redis takes it
    assert load_settings(env_file=None).session_max_bytes == 2_000_000


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "0"),
        ("PORT", "70000"),
        ("WEB_CONCURRENCY", "0"),
        ("WEB_CONCURRENCY", "two"),
        ("SECRET_KEY", "short-secret-value"),
        ("DATABASE_URL", "redis://cache:6379/0"),
        ("DATABASE_URL", "sqlite://relative-without-third-slash.db"),
        ("DATABASE_URL", "sqlite:///?cache=no-path-here"),
        ("DATABASE_URL", "postgresql://db.internal:port-is-not-a-number/app"),
        ("DATABASE_URL", "postgresql://:only-a-password@"),
        ("DATABASE_URL", "just some words"),
        ("SESSION_STORE_URL", "memcache://cache:11211"),
        ("SESSION_STORE_URL", "redis://:only-a-password@"),
        ("SESSION_STORE_URL", "redis://cache:6379/zero"),
        ("SESSION_TTL_SECONDS", "-5"),
        ("SESSION_MAX_AGE_SECONDS", "soon"),
        ("SESSION_COOKIE_SECURE", "maybe"),
        ("LOG_LEVEL", "verbose"),
        ("MAX_REQUEST_BODY_BYTES", "1MB"),
        ("MAX_REQUEST_BODY_BYTES", "512"),
        ("SESSION_MAX_BYTES", "-1"),
        ("SESSION_MAX_BYTES", "1073741824"),
    ],
)
def test_bad_value_is_named_without_its_value(
    environ: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, value: str
) -> None:
    setenv(environ, {**VALID, name: value})
    message = failure(capsys)
    assert f"  {name}: " in message
    assert value not in message
    assert message.count("\n  ") == 1  # only the bad variable is reported


def test_max_age_shorter_than_idle_ttl_is_refused(
    environ: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    setenv(environ, {**VALID, "SESSION_TTL_SECONDS": "7200", "SESSION_MAX_AGE_SECONDS": "3600"})
    message = failure(capsys)
    assert "SESSION_MAX_AGE_SECONDS must be at least SESSION_TTL_SECONDS" in message
    assert "7200" not in message


@pytest.mark.parametrize(
    ("database_url", "session_store_url"),
    [
        ("sqlite:///var/db.sqlite3", "sqlite:///var/sessions.sqlite3"),
        ("sqlite:////srv/data/db.sqlite3", "memcached://cache:11211"),
        ("postgres://u:p@db:5432/app", "rediss://:p@cache:6380/1"),
        ("postgresql:///app", "postgresql://u:p@db/app"),
        ("postgresql://u:p@[2001:db8::1]:5432/app", "redis://cache"),
        ("sqlite:///var/db.sqlite3", "redis+cluster://cache:7000"),
        ("sqlite:///var/db.sqlite3", "rediss+cluster://:p@cache:7000/0"),
    ],
)
def test_backing_service_urls_accepted(
    environ: pytest.MonkeyPatch, database_url: str, session_store_url: str
) -> None:
    setenv(
        environ,
        {**VALID, "DATABASE_URL": database_url, "SESSION_STORE_URL": session_store_url},
    )
    settings = load_settings(env_file=None)
    assert (settings.database_url, settings.session_store_url) == (
        database_url,
        session_store_url,
    )


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("rediss://:p@cache:6380/0?ssl_cert_reqs=none", "takes no query string"),
        ("redis://cache:6379/0?socket_timeout=5", "takes no query string"),
        ("redis+cluster://cache:7000/1", "database 0 only"),
    ],
)
def test_redis_url_parts_no_store_would_read_are_refused(
    environ: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], url: str, reason: str
) -> None:
    """A Redis URL's options would be ignored in silence (TLS unverified, a timeout unset),
    so the service refuses to start and says what to write instead."""
    setenv(environ, {**VALID, "SESSION_STORE_URL": url})
    message = failure(capsys)
    assert "  SESSION_STORE_URL: " in message
    assert reason in message
    assert url not in message


def test_empty_value_counts_as_unset(
    environ: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    setenv(environ, {**VALID, "SECRET_KEY": "", "PORT": ""})
    message = failure(capsys)
    assert "SECRET_KEY: is required but not set" in message
    assert "PORT" not in message  # empty PORT falls back to its default


def test_dotenv_fills_in_and_real_environment_wins(
    environ: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        f"SECRET_KEY={SECRET}\nDATABASE_URL=sqlite:///var/from-dotenv.sqlite3\n"
        "SESSION_STORE_URL=sqlite:///var/sessions.sqlite3\nPORT=7000\nUNRELATED_TOOL_SETTING=1\n"
    )
    environ.setenv("PORT", "9000")
    settings = load_settings(env_file=dotenv)
    assert settings.port == 9000  # the environment beats .env
    assert settings.database_url == "sqlite:///var/from-dotenv.sqlite3"
    assert settings.secret_key.get_secret_value() == SECRET


def test_missing_dotenv_is_fine(environ: pytest.MonkeyPatch, tmp_path: Path) -> None:
    setenv(environ, VALID)
    assert load_settings(env_file=tmp_path / "absent.env").port == 8000


def test_repr_hides_secrets_and_passwords(environ: pytest.MonkeyPatch) -> None:
    setenv(environ, VALID)
    shown = repr(load_settings(env_file=None))
    assert SECRET not in shown
    assert "db-password-123" not in shown
    assert "store-password-456" not in shown


def test_settings_are_immutable(environ: pytest.MonkeyPatch) -> None:
    setenv(environ, VALID)
    settings = load_settings(env_file=None)
    with pytest.raises(ValueError, match="frozen"):
        settings.port = 1
