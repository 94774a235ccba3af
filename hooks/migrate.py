"""Template migrations: carry a generated project across releases that move files.

copier runs this from `_migrations` in copier.yml (which is why updates need --trust),
the way it runs the hooks as tasks: the context as JSON in argv[1], the template folder
(copier's clone at the new version) in argv[2], then an action:

    rename OLD NEW   the release renamed or moved the template file OLD to NEW

OLD and NEW are paths in the generated project; `{slug}` stands for project_slug, as in
hooks/layout.yml. Use it as an "after" migration (copier's default stage) with a
`version:`: by then copier has rendered NEW from the new release and deleted OLD, even
when the team had edited OLD. The team's last committed OLD (HEAD) is merged into NEW
three-way, against OLD as the previous release rendered it, so both their edits and the
release's changes survive. A same-line clash leaves copier's own conflict markers, which
bin/update reports. Idempotent and cwd-relative: after the update is committed there is
nothing left to carry.

Stdlib plus Jinja2 (copier's own dependency; this runs under copier's Python).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import jinja2

# The folder both engines render from; template paths are relative to the template root.
TEMPLATE_ROOT = "{{cookiecutter.project_slug}}"
# The labels copier uses for update conflicts, so one check finds both kinds.
MERGE_LABELS = ("before updating", "last update", "after updating")


def git(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)


def committed(rel: str) -> bytes | None:
    """The project's last committed content of rel (cwd is the project), if any."""
    shown = git("show", f"HEAD:./{rel}")
    return shown.stdout if shown.returncode == 0 else None


def previous_render(template: Path, version: str, pattern: str, context: dict) -> bytes | None:
    """The file as the release `version` generated it for these answers, if it had it."""
    source = f"{TEMPLATE_ROOT}/{pattern.replace('{slug}', TEMPLATE_ROOT)}"
    shown = git("show", f"{version}:{source}", cwd=template)
    if shown.returncode != 0:
        return None
    # Both engines render with these settings (cookiecutter hard-codes them).
    env = jinja2.Environment(keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    text = env.from_string(shown.stdout.decode("utf-8")).render(cookiecutter=context)
    return text.encode("utf-8")


def merge(ours: bytes, base: bytes, theirs: bytes) -> tuple[bytes, int]:
    """Three-way merge with git; returns the result and the number of conflicts."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for name, content in (("ours", ours), ("base", base), ("theirs", theirs)):
            path = Path(tmp, name)
            path.write_bytes(content)
            paths.append(str(path))
        labels = [arg for label in MERGE_LABELS for arg in ("-L", label)]
        result = git("merge-file", "-p", *labels, *paths)
    if result.returncode < 0 or result.returncode > 127:
        sys.exit(f"migrate: git merge-file failed: {result.stderr.decode(errors='replace')}")
    return result.stdout, result.returncode


def rename(context: dict, template: Path, old_pattern: str, new_pattern: str) -> None:
    old = Path(old_pattern.format(slug=context["project_slug"]))
    new = Path(new_pattern.format(slug=context["project_slug"]))
    ours = old.read_bytes() if old.is_file() else committed(old.as_posix())
    version = os.environ.get("VERSION_FROM", "")
    base = previous_render(template, version, old_pattern, context) if version else None
    if ours is None or base is None:
        return  # nothing of the team's to carry, or OLD was never the template's file
    if not new.is_file():
        print(f"migrate: {new} is not generated for these answers; {old} left as is")
        return
    if ours != base:
        merged, conflicts = merge(ours, base, new.read_bytes())
        new.write_bytes(merged)
        note = f", {conflicts} conflict(s) to resolve" if conflicts else ""
        print(f"migrate: {old} is now {new}; your changes were carried over{note}")
    old.unlink(missing_ok=True)


def main(argv: list[str]) -> None:
    if len(argv) != 6 or argv[3] != "rename":
        sys.exit("usage: migrate.py CONTEXT_JSON TEMPLATE_DIR rename OLD NEW")
    rename(json.loads(argv[1]), Path(argv[2]), argv[4], argv[5])


if __name__ == "__main__":
    main(sys.argv)
