# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Runs the one-off admin tasks of the project's admin/ folder (twelve-factor XII).

`bin/admin [task] [args]` execs `bin/python -m <package>.admin <admin folder> [task] [args]`,
so a task runs with the same interpreter, code and configuration as the web process.

A task is a module `admin/<name>.py` with a docstring (its first line is the task's
description in the listing) and a typed function `main(...)`: Typer turns its parameters
into the task's arguments, its `--help` and its usage errors. Adding a task is dropping
such a file into admin/; files whose name starts with `_` are not tasks.

Before `main` runs, its arguments are parsed (a usage error changes nothing), then the
settings are loaded and validated exactly as the web process does it, and logging is set
up (JSON lines on stdout). Tasks get the settings from `load_settings()` and the
database from `database.transaction()` (`with transaction() as db: ...`), on the process's
one engine; the service's jobs (jobs.py) are registered, so a task can `enqueue` them.

The listing (`bin/admin`, `bin/admin --help`) imports no task and neither Typer nor the
settings: it reads each task's docstring. Running a task imports what that task needs.
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.util
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from . import logs

USAGE = "usage: bin/admin [task] [args...]   (bin/admin <task> --help for its arguments)"

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Task:
    name: str
    path: Path
    summary: str


def summary(path: Path) -> str:
    """First line of the module docstring, read without importing (listing stays cheap
    and works even when a task or the configuration is broken)."""
    try:
        docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    except (OSError, SyntaxError, ValueError) as error:
        return f"(cannot be read: {type(error).__name__})"
    return docstring.strip().splitlines()[0] if docstring else "(no description)"


def discover(folder: Path) -> dict[str, Task]:
    return {
        path.stem: Task(path.stem, path, summary(path))
        for path in sorted(folder.glob("*.py"))
        if not path.name.startswith("_")
    }


def listing(tasks: dict[str, Task]) -> str:
    width = max((len(name) for name in tasks), default=0)
    lines = [USAGE, "", "tasks:"]
    lines += [f"  {task.name.ljust(width)}  {task.summary}" for task in tasks.values()]
    return "\n".join(lines)


def help_text(docstring: str | None) -> str:
    """The module docstring as Typer help: paragraphs kept, lines within them rewrapped."""
    paragraphs = (docstring or "").strip().split("\n\n")
    return "\n\n".join(" ".join(p.split()) for p in paragraphs)


def load(task: Task) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"admin_tasks.{task.name}", task.path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {task.path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def prepared(main: F) -> F:
    """`main`, run after the settings are validated and logging is set up; a failure is
    logged (one JSON line with the traceback) and exits 1."""

    import typer

    from .config import load_settings

    @functools.wraps(main)
    def run(*args: Any, **kwargs: Any) -> Any:
        settings = load_settings()  # exits 2 naming every bad variable, as the web does
        logs.configure(settings.log_level)
        importlib.import_module(f"{__package__}.jobs")  # registers them, for `enqueue`
        try:
            return main(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except Exception:
            log.exception("admin task failed")
            raise typer.Exit(1) from None

    return run  # type: ignore[return-value]


def run_task(task: Task, args: list[str]) -> None:
    import typer  # here, not at the top: the listing needs none of it

    module = load(task)
    main = getattr(module, "main", None)
    if not callable(main):
        sys.exit(f"bin/admin: {task.path} has no main() function")
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command(name=task.name, help=help_text(module.__doc__))(prepared(main))
    app(args=args, prog_name=f"bin/admin {task.name}")


def main(argv: list[str]) -> int:
    if not argv:
        print(USAGE, file=sys.stderr)
        return 2
    tasks = discover(Path(argv[0]))
    if len(argv) == 1 or argv[1] in ("-h", "--help", "help"):
        print(listing(tasks))
        return 0
    name = argv[1].replace("-", "_")
    if name not in tasks:
        print(f"bin/admin: no task named {argv[1]!r}\n\n{listing(tasks)}", file=sys.stderr)
        return 2
    run_task(tasks[name], argv[2:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
