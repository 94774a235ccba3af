# Template file: updates (bin/update) replace it; README.md says where your changes go.
""".env.example documents exactly the variables Settings reads, and its embedded defaults
run the service on one machine with nothing installed (SQLite under var/).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from {{ cookiecutter.project_slug }}.config import Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / ".env.example"


def example_values() -> dict[str, str]:
    values = {}
    for line in EXAMPLE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, sep, value = line.partition("=")
            assert sep, f".env.example: not NAME=value: {line!r}"
            assert name not in values, f".env.example: {name} appears twice"
            values[name] = value
    return values


def test_documents_every_setting_and_nothing_else() -> None:
    documented = set(example_values())
    read = {field.upper() for field in Settings.model_fields}
    assert documented - read == set(), "documented in .env.example but never read"
    assert read - documented == set(), "read by Settings but missing from .env.example"


def test_every_variable_has_a_comment_above_it() -> None:
    lines = EXAMPLE.read_text().splitlines()
    for number, line in enumerate(lines):
        if line and not line.startswith("#"):
            assert lines[number - 1].startswith("#"), f"{line.split('=')[0]} is not explained"


def test_holds_no_secret_key() -> None:
    assert example_values()["SECRET_KEY"] == ""  # bin/setup generates one per checkout


def test_embedded_defaults_are_valid_and_local(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for field in Settings.model_fields:
        monkeypatch.delenv(field.upper(), raising=False)
    dotenv = tmp_path / ".env"
    dotenv.write_text(EXAMPLE.read_text().replace("SECRET_KEY=\n", f"SECRET_KEY={'x' * 48}\n"))
    settings = load_settings(env_file=dotenv)
    assert settings.database_url == "sqlite:///var/db.sqlite3"
    assert settings.session_store_url == "sqlite:///var/sessions.sqlite3"


def test_var_is_git_ignored() -> None:
    assert "var/" in (ROOT / ".gitignore").read_text().splitlines()
