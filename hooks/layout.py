"""The generated project's layout: what the answers select, and checks that it is right.

hooks/layout.yml declares every path of the generated project and the answers that
select it. The post-generation hook prunes what the answers exclude, then verifies the
tree; the template's tests read the same manifest, so the layout is declared once.

Stdlib plus PyYAML only (both cookiecutter and copier depend on PyYAML).
"""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path

import jinja2
import yaml

MANIFEST = Path(__file__).with_name("layout.yml")
PROJECT_TEMPLATE = "{{cookiecutter.project_slug}}"  # the template root of both engines
SKIPPED_SOURCES = re.compile(r"(^|/)(__pycache__|\.DS_Store)(/|$)|\.py[co]$")  # copier's _exclude

# Jinja left unrendered. `${{ }}` (CI expression syntax) and `${#var}` (shell) are fine.
LEFTOVER_JINJA = re.compile(r"(?<!\$)\{[{%#]")
PROCFILE_LINE = re.compile(r"(?P<name>[A-Za-z0-9_-]{1,63}):\s*(?P<command>\S.*)")


@dataclass(frozen=True, order=True)
class Problem:
    path: str
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.path}: [{self.rule}] {self.detail}"


@dataclass(frozen=True)
class Selection:
    expected: tuple[str, ...]  # paths the answers select; a trailing / marks a directory
    excluded: tuple[str, ...]  # paths the answers leave out
    optional: tuple[str, ...]  # paths that may or may not be there


def load_manifest(path: Path = MANIFEST) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _matches(condition: dict, answers: dict) -> bool:
    for key, wanted in condition.items():
        allowed = wanted if isinstance(wanted, list) else [wanted]
        if answers[key] not in allowed:
            return False
    return True


def select(answers: dict, manifest: dict | None = None) -> Selection:
    manifest = manifest or load_manifest()

    def expand(paths: list[str]) -> list[str]:
        return [p.format(slug=answers["project_slug"]) for p in paths]

    expected, excluded = expand(manifest["always"]), list[str]()
    for group in manifest["when"]:
        target = expected if _matches(group["if"], answers) else excluded
        target.extend(expand(group["paths"]))
    return Selection(tuple(expected), tuple(excluded), tuple(expand(manifest["optional"])))


def prune(root: Path, selection: Selection) -> None:
    """Remove what the answers exclude. Idempotent: copier runs it on every update."""
    for rel in selection.excluded:
        path = root / rel
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    for rel in selection.excluded:  # a folder emptied by the removals goes too
        parent = (root / rel).parent
        while parent != root and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent


def rendered_paths(template: Path, answers: dict) -> frozenset[str]:
    """The files the template renders for these answers (before pruning), as project paths.

    Only these are the template's to judge: a project may also hold the team's own files
    (copier copy into an existing repository, copier recopy, copier update).
    """
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    source = template / PROJECT_TEMPLATE
    paths = set()
    for path in source.rglob("*"):
        rel = path.relative_to(source).as_posix()
        if path.is_dir() or SKIPPED_SOURCES.search(rel):
            continue
        parts = [env.from_string(part).render(cookiecutter=answers) for part in rel.split("/")]
        if all(parts):  # an empty name is skipped by both engines (the copier answers file)
            paths.add("/".join(parts))
    return frozenset(paths)


def project_files(root: Path) -> list[str]:
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(root).parts
    )


def _covered(rel: str, paths: tuple[str, ...]) -> bool:
    return any(rel == p or (p.endswith("/") and rel.startswith(p)) for p in paths)


def check_paths(root: Path, selection: Selection, judged: list[str]) -> list[Problem]:
    problems = [
        Problem(rel, "missing", "expected for these answers, but not generated")
        for rel in selection.expected
        if not (root / rel).exists()
    ]
    for rel in judged:
        if _covered(rel, selection.excluded):
            problems.append(Problem(rel, "excluded", "left behind although the answers exclude it"))
        elif not _covered(rel, selection.expected + selection.optional):
            problems.append(Problem(rel, "unexpected", "not declared in hooks/layout.yml"))
    return problems


def _read_text(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return None  # binary file: nothing to render or parse


def _syntax_error(path: Path, text: str) -> str | None:
    try:
        if path.suffix == ".py":
            compile(text, str(path), "exec", dont_inherit=True)
        elif path.suffix == ".toml":
            tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            list(yaml.safe_load_all(text))
        elif path.suffix == ".json":
            json.loads(text)
    except (SyntaxError, ValueError, yaml.YAMLError) as error:
        return f"does not parse: {str(error).splitlines()[0]}"
    return None


def check_file(root: Path, rel: str) -> list[Problem]:
    path = root / rel
    problems = []
    if rel.startswith("bin/") and not path.stat().st_mode & 0o111:
        problems.append(Problem(rel, "not-executable", "scripts in bin/ must be executable"))
    text = _read_text(path)
    if text is None:
        return problems
    leftover = LEFTOVER_JINJA.search(text)
    if leftover:
        line = text.count("\n", 0, leftover.start()) + 1
        problems.append(Problem(rel, "unrendered", f"template syntax left on line {line}"))
    if "\r" in text:
        problems.append(Problem(rel, "line-endings", "carriage return found; files use LF"))
    error = _syntax_error(path, text)
    if error:
        problems.append(Problem(rel, "syntax", error))
    return problems


def check_procfile(root: Path) -> list[Problem]:
    procfile = root / "Procfile"
    if not procfile.is_file():
        return []  # reported as missing by check_paths
    problems = []
    for number, line in enumerate(procfile.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = PROCFILE_LINE.fullmatch(line)
        if not match:
            problems.append(
                Problem("Procfile", "procfile", f"line {number} is not 'name: command'")
            )
            continue
        entrypoint = match["command"].split()[0]
        script = root / entrypoint
        if not entrypoint.startswith("bin/") or not script.is_file():
            problems.append(
                Problem(
                    "Procfile",
                    "procfile",
                    f"line {number} ({match['name']}) must start with a script in bin/, "
                    f"not {entrypoint!r}",
                )
            )
    return problems


def verify(
    root: Path, selection: Selection, rendered: frozenset[str] | None = None
) -> list[Problem]:
    """Every way the generated tree breaks the layout rules; empty when it is right.

    With `rendered` (see rendered_paths), only those files are judged, and the team's
    own files are left alone; without it, every file is (a fresh render in an empty folder).
    """
    judged = [rel for rel in project_files(root) if rendered is None or rel in rendered]
    problems = check_paths(root, selection, judged)
    for rel in judged:
        problems.extend(check_file(root, rel))
    problems.extend(check_procfile(root))
    return sorted(problems)
