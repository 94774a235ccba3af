"""A small Dockerfile interpreter: no Docker engine runs here, so the tests read the
Dockerfile (instructions, stages, ENV, exec-form commands) and .dockerignore themselves.
"""

from __future__ import annotations

import functools
import json
import re
import shlex
from pathlib import Path


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    result, pending = [], ""
    for line in dockerfile.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        keyword, _, arguments = pending.strip().partition(" ")
        result.append((keyword.upper(), " ".join(arguments.split())))
        pending = ""
    return result


def env_assignments(arguments: str) -> dict[str, str]:
    """The variables of a Dockerfile ENV line (`KEY=value ...` form)."""
    pairs = (part.partition("=") for part in shlex.split(arguments))
    return {key: value for key, _, value in pairs}


def stages(dockerfile: Path) -> dict[str, list[tuple[str, str]]]:
    """Stage name -> its instructions (after FROM)."""
    named: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for keyword, arguments in instructions(dockerfile):
        if keyword == "FROM":
            current = named.setdefault(arguments.split()[-1], [("FROM", arguments)])
        else:
            current.append((keyword, arguments))
    return named


def only(stage: list[tuple[str, str]], keyword: str) -> str:
    [arguments] = [arguments for key, arguments in stage if key == keyword]
    return arguments


def exec_form(arguments: str) -> list[str]:
    command = json.loads(arguments)
    assert isinstance(command, list)
    return command


DOCKERIGNORE_GLOBS = {"**/": "(.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}


@functools.cache
def dockerignore(project: Path) -> list[tuple[bool, re.Pattern[str]]]:
    """(excludes, pattern) rules of .dockerignore, in order (Docker's syntax, simplified)."""
    rules = []
    for line in (project / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        excludes = not line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        parts = re.split(r"(\*\*/|\*\*|\*|\?)", pattern)
        regex = "".join(DOCKERIGNORE_GLOBS.get(part, re.escape(part)) for part in parts)
        rules.append((excludes, re.compile(rf"{regex}(/.*)?")))
    return rules


def in_build_context(project: Path, rel: str) -> bool:
    """True when `docker build` would send the file (last matching rule wins)."""
    included = True
    for excludes, pattern in dockerignore(project):
        if pattern.fullmatch(rel):
            included = not excludes
    return included
