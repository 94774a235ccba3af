# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""What a command line or a small POSIX shell script runs (comments never count).

The project's launchers are short scripts that end by `exec`-ing one program; this reads
the words of each command as the shell splits them, so a program named in a comment or
inside another word does not pass for the one that runs.
"""

from __future__ import annotations

import re
import shlex

ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
LAUNCHER = re.compile(r"^(\$\{?\w+\}?/|\./)?bin/(python|admin)$")  # bin/admin runs bin/python


def commands(script: str) -> list[list[str]]:
    """Each simple command of the script as words (comments, blank lines dropped); a line
    that cannot be split (an unfinished quote) is one word, so it still counts."""
    found = []
    for line in script.splitlines():
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            words = [line.strip()]
        if words:
            found.append(words)
    return found


def program(words: list[str]) -> str | None:
    """The program a command runs: past `exec`, `env` and VAR=value assignments."""
    rest = list(words)
    while rest and (rest[0] in ("exec", "env", "command") or ASSIGNMENT.match(rest[0])):
        rest.pop(0)
    return rest[0] if rest else None


def execs(script: str) -> list[str]:
    """The programs the script replaces itself with (`exec program ...`)."""
    return [p for words in commands(script) if words[0] == "exec" and (p := program(words))]


def through_launcher(words: list[str]) -> bool:
    """Whether a command runs bin/python or bin/admin (not python3, not /usr/bin/env)."""
    name = program(words)
    return name is not None and LAUNCHER.match(name) is not None


def execs_python_launcher(script: str) -> bool:
    """Whether the script ends by exec-ing the project's bin/python, and execs nothing
    else: a launcher that execs another Python first never reaches it."""
    programs = execs(script)
    return bool(programs) and all(LAUNCHER.match(p) and p.endswith("/python") for p in programs)
