"""Rules for template answers.

Shared by the pre-generation hook (both engines) and the template's tests. copier.yml
repeats the same rules as `validator:`s so that copier refuses before writing anything;
tests/test_questions.py checks that both say the same.

Stdlib only: the hooks run under whatever Python runs cookiecutter or copier.
"""

from __future__ import annotations

import re
from pathlib import Path

SLUG_PATTERN = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")
SLUG_MAX_LENGTH = 40  # leaves room in 63-character Kubernetes and Dokku names
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
TEMPLATE_SYNTAX = re.compile(r"\{[{%#]")  # would render differently, or not at all
TEXT_MAX_LENGTH = 200

FREE_TEXT = ("project_name", "description", "author_name")
BOOLEANS = ("with_worker", "with_kubernetes")
CHOICES = {
    "python_version": ("3.12", "3.13", "3.11"),
    "ci": ("github", "gitlab", "none"),
    "license": ("MIT", "Apache-2.0", "Proprietary"),
}


def reserved_names() -> frozenset[str]:
    lines = (Path(__file__).parent / "reserved_names.txt").read_text().splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


def slug_problem(slug: str) -> str | None:
    if len(slug) > SLUG_MAX_LENGTH or not SLUG_PATTERN.fullmatch(slug):
        return (
            f"project_slug {slug!r} is not allowed: use lowercase letters, digits and "
            f"single underscores, starting with a letter, at most {SLUG_MAX_LENGTH} "
            "characters (e.g. my_service)"
        )
    if slug in reserved_names():
        return (
            f"project_slug {slug!r} is not allowed: it would shadow a Python keyword, a "
            "standard-library module, a dependency or a project folder, or Windows "
            "reserves it for a device; pick another name"
        )
    return None


def problems(answers: dict[str, object]) -> list[str]:
    """Every reason the answers cannot be rendered; empty when they are fine."""
    found = []
    for key in FREE_TEXT:
        value = answers[key]
        if not isinstance(value, str) or not value.strip():
            found.append(f"{key} must not be empty")
        elif CONTROL_CHARACTERS.search(value) or len(value) > TEXT_MAX_LENGTH:
            found.append(
                f"{key} is not allowed: one line of at most {TEXT_MAX_LENGTH} characters, "
                "without newlines, tabs or other control characters"
            )
        elif TEMPLATE_SYNTAX.search(value):
            found.append(f"{key} must not hold template syntax ({{{{, {{% or {{#)")
    slug_error = slug_problem(str(answers["project_slug"]))
    if slug_error:
        found.append(slug_error)
    if not EMAIL_PATTERN.fullmatch(str(answers["author_email"])):
        found.append(
            f"author_email {answers['author_email']!r} is not an e-mail address "
            "(expected name@example.com)"
        )
    elif TEMPLATE_SYNTAX.search(str(answers["author_email"])):
        found.append("author_email must not hold template syntax ({{, {% or {#)")
    for key in BOOLEANS:
        if not isinstance(answers[key], bool):
            found.append(
                f"{key}={answers[key]!r} is not a boolean: answer true or false "
                "(cookiecutter >= 2.7 converts yes/no given on the command line)"
            )
    for key, allowed in CHOICES.items():
        if answers[key] not in allowed:
            found.append(f"{key}={answers[key]!r} is not one of {', '.join(allowed)}")
    return found
