"""cookiecutter.json and copier.yml ask the same questions, the same way."""

from __future__ import annotations

import json
import keyword
import re
import sys
from typing import Any

import yaml
from helpers import TEMPLATE, answers

COOKIECUTTER = json.loads((TEMPLATE / "cookiecutter.json").read_text())
COPIER = yaml.safe_load((TEMPLATE / "copier.yml").read_text())
COPIER_QUESTIONS = {
    name: spec
    for name, spec in COPIER.items()
    if not name.startswith("_") and name != "cookiecutter"
}
COOKIECUTTER_QUESTIONS = {
    name: value for name, value in COOKIECUTTER.items() if not name.startswith("_")
}


def cookiecutter_default(value: Any) -> Any:
    return value[0] if isinstance(value, list) else value


def test_same_questions_in_the_same_order() -> None:
    assert list(COPIER_QUESTIONS) == list(COOKIECUTTER_QUESTIONS)


def test_same_defaults() -> None:
    for name, spec in COPIER_QUESTIONS.items():
        expected = cookiecutter_default(COOKIECUTTER_QUESTIONS[name])
        if isinstance(expected, str):  # derived defaults differ by the `cookiecutter.` prefix
            expected = expected.replace("cookiecutter.", "")
        assert spec["default"] == expected, name


def test_same_choices_and_types() -> None:
    for name, value in COOKIECUTTER_QUESTIONS.items():
        spec = COPIER_QUESTIONS[name]
        if isinstance(value, list):
            assert spec["choices"] == value, name
            assert tuple(value) == answers.CHOICES[name], name
        elif isinstance(value, bool):
            assert spec["type"] == "bool", name
            assert name in answers.BOOLEANS
        else:
            assert spec["type"] == "str", name


def test_every_question_has_help_in_both_engines() -> None:
    prompts = COOKIECUTTER["__prompts__"]
    for name, spec in COPIER_QUESTIONS.items():
        assert spec["help"] == prompts[name], name


def test_copier_alias_covers_every_answer() -> None:
    alias = COPIER["cookiecutter"]
    assert alias["when"] is False  # never asked, never saved
    keys = [line.split(":")[0] for line in alias["default"].splitlines()]
    assert keys == [*COOKIECUTTER_QUESTIONS, "__year"]
    assert "__year" in COOKIECUTTER


def test_defaults_render_with_no_input() -> None:
    defaults = {k: cookiecutter_default(v) for k, v in COOKIECUTTER_QUESTIONS.items()}
    defaults["project_slug"] = "my_service"
    assert defaults["project_name"] == "My Service"
    assert answers.problems(defaults) == []


def test_reserved_slugs_are_the_same_in_copier_and_the_hooks() -> None:
    validator = COPIER_QUESTIONS["project_slug"]["validator"]
    listed = set(re.findall(r"'([a-z0-9_]+)'", validator.split("elif project_slug in")[1]))
    assert listed == answers.reserved_names()


def test_reserved_slugs_cover_keywords_and_this_interpreters_stdlib() -> None:
    candidates = set(sys.stdlib_module_names) | set(keyword.kwlist) | set(keyword.softkwlist)
    valid_shape = {name for name in candidates if answers.SLUG_PATTERN.fullmatch(name)}
    assert valid_shape <= answers.reserved_names()
