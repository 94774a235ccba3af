"""Bad answers are refused by both engines, with a clear message and nothing on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cookiecutter.exceptions import CookiecutterException
from helpers import render_cookiecutter, render_copier

BAD_ANSWERS = {
    "dash": ({"project_slug": "Bad-Slug"}, "lowercase letters, digits"),
    "keyword": ({"project_slug": "class"}, "shadow a Python keyword"),
    "leading digit": ({"project_slug": "1abc"}, "starting with a letter"),
    "space": ({"project_slug": "my service"}, "lowercase letters, digits"),
    "stdlib module": ({"project_slug": "json"}, "standard-library module"),
    "dependency": ({"project_slug": "redis"}, "a dependency"),
    "double underscore": ({"project_slug": "my__service"}, "single underscores"),
    "too long": ({"project_slug": "s" * 41}, "at most 40 characters"),
    "derived from a keyword name": ({"project_name": "Class"}, "shadow a Python keyword"),
    "windows device": ({"project_slug": "con"}, "Windows reserves it"),
    "template syntax": ({"description": "{{ 7 * 7 }}"}, "must not hold template syntax"),
    "email": ({"author_email": "not-an-address"}, "e-mail"),
    "newline in name": ({"project_name": "My\nService", "project_slug": "x"}, "newlines"),
    "empty description": ({"description": "  "}, "must not be empty"),
    "tab in author": ({"author_name": "A\tB"}, "control characters"),
}


def assert_refused(error: BaseException, captured: str, message: str) -> None:
    assert message in f"{error}\n{captured}"


@pytest.mark.parametrize(("data", "message"), BAD_ANSWERS.values(), ids=BAD_ANSWERS.keys())
def test_cookiecutter_refuses(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], data: dict[str, Any], message: str
) -> None:
    out = tmp_path / "out"
    with pytest.raises(CookiecutterException) as error:
        render_cookiecutter(out, data)
    captured = capfd.readouterr()
    assert_refused(error.value, captured.out + captured.err, message)
    assert [p.name for p in out.iterdir() if not p.name.startswith(".")] == ["cookiecutterrc.yml"]


@pytest.mark.parametrize(("data", "message"), BAD_ANSWERS.values(), ids=BAD_ANSWERS.keys())
def test_copier_refuses_before_writing(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], data: dict[str, Any], message: str
) -> None:
    dst = tmp_path / "my_service"
    with pytest.raises(ValueError) as error:  # copier's validation error is a ValueError
        render_copier(dst, data)
    captured = capfd.readouterr()
    assert_refused(error.value, captured.out + captured.err, message)
    assert not dst.exists()


def test_cookiecutter_refuses_a_non_boolean_flag(tmp_path: Path) -> None:
    # copier casts any string to a bool itself. cookiecutter >= 2.7 refuses what it cannot
    # convert; older releases pass the string on, and the pre-generation hook refuses it.
    with pytest.raises((CookiecutterException, ValueError), match="with_worker"):
        render_cookiecutter(tmp_path / "out", {"with_worker": "maybe"})
    assert not (tmp_path / "out" / "my_service").exists()
