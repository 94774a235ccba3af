"""cookiecutter only: an answer is text, never a template that cookiecutter would run.

cookiecutter passes every value of its context through Jinja, answers included when they
come from its command line (`key=value`), a replay file or a config's default_context,
and its Jinja environment is not sandboxed: `{{ ... }}` in an answer would run there,
before any hook can look at it. copier renders only the template's own defaults.

This Jinja extension (cookiecutter.json's `_extensions`; cookiecutter puts the template
folder on sys.path to import it) sees each source before Jinja parses it. A source that
holds template syntax must be the template's own: a value of cookiecutter.json, a file
or folder name of the template tree, a hook, or a file (loaded by name). Anything else is
an answer, and refused with the rule copier's validators and hooks/answers.py also state.

It also checks the slug where cookiecutter turns it into the project's folder, before
that folder is made: a slug such as `a/b` would otherwise leave `a/` behind when the
pre-generation hook refuses it (cookiecutter removes only the innermost folder).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jinja2 import Environment, UndefinedError
from jinja2.ext import Extension

SYNTAX = re.compile(r"\{[{%#]")
PROJECT_FOLDER = "{{cookiecutter.project_slug}}"  # the template root's name
RULE = "an answer must not hold template syntax ({{, {% or {#)"


def _template_root() -> Path:
    """The template being rendered: cookiecutter appended its folder to sys.path."""
    for entry in reversed(sys.path):
        if (Path(entry) / "cookiecutter.json").is_file() and (Path(entry) / "hooks").is_dir():
            return Path(entry)
    return Path(__file__).resolve().parent


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)


class TextAnswers(Extension):
    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        root = _template_root()
        self.sources = set(_strings(json.loads((root / "cookiecutter.json").read_text())))
        self.sources.update(p.read_text(encoding="utf-8") for p in (root / "hooks").glob("*.py"))
        # The names cookiecutter renders: the template root's and those below it (not the
        # whole repository: its .git and virtualenvs hold many thousands of files).
        tree = root / PROJECT_FOLDER
        self.names = {tree.name} | {p.name for p in tree.rglob("*")}
        sys.path.insert(0, str(root / "hooks"))
        import answers  # the same rules as the hooks

        def project_folder(slug: str) -> str:
            problem = answers.slug_problem(slug)
            if problem:
                raise UndefinedError(problem)
            return slug

        environment.filters["twelve_template_project_folder"] = project_folder

    def _owned(self, source: str) -> bool:
        if source in self.sources:
            return True
        # A path cookiecutter renders: each part with template syntax is a name in the tree.
        parts = re.split(r"[\\/]", source)
        return all(part in self.names for part in parts if SYNTAX.search(part))

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        if name is None and source == PROJECT_FOLDER:
            return "{{ cookiecutter.project_slug | twelve_template_project_folder }}"
        if name is None and SYNTAX.search(source) and not self._owned(source):
            # cookiecutter reports an UndefinedError with the question's name, then stops.
            raise UndefinedError(f"{RULE}: {source!r}")
        return source
