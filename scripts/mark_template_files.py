"""Say at the top of every template-owned file of the generated project that updates
replace it (the team's files, `_skip_if_exists` in copier.yml, are left alone).

    uv run python scripts/mark_template_files.py          # add the line where it is missing
    uv run python scripts/mark_template_files.py --check  # list files without it; exit 1

The line goes first, after a shebang, a Dockerfile `# syntax=` directive or an XML-ish
prologue; files whose format has no comments (JSON, the lock, LICENSE, Procfile,
.python-version) are left as they are. tests/test_ownership.py runs the check.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ROOT / "{{cookiecutter.project_slug}}"
NOTE = "Template file: updates (bin/update) replace it; README.md says where your changes go."
# Formats without comments, and copier's own answers file.
UNMARKABLE = {".python-version", "Procfile", "LICENSE", "app.json", "uv.lock"}


def comment(rel: str) -> str | None:
    """The note as a comment in the file's own syntax; None where there is none."""
    name = rel.rsplit("/", 1)[-1]
    if name in UNMARKABLE or name.endswith(".json") or "_copier_conf" in rel:
        return None
    if name.endswith(".md"):
        return f"<!-- {NOTE} -->"
    if name.endswith(".js"):
        return f"// {NOTE}"
    if name.endswith(".css"):
        return f"/* {NOTE} */"
    if name.endswith(".mako"):
        return f"## {NOTE}"  # a Mako comment: not copied into the scripts it writes
    return f"# {NOTE}"


def team_files() -> set[str]:
    """Template paths of the files copier keeps as the project has them."""
    config = yaml.safe_load((ROOT / "copier.yml").read_text(encoding="utf-8"))
    return {
        pattern.replace("{{ project_slug }}", "{{cookiecutter.project_slug}}")
        for pattern in config["_skip_if_exists"]
    }


def template_files() -> list[str]:
    team = team_files()
    return sorted(
        rel
        for path in PROJECT.rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and (rel := path.relative_to(PROJECT).as_posix()) not in team
        and comment(rel) is not None
    )


def _insert_at(lines: list[str]) -> int:
    first = lines[0] if lines else ""
    if first.startswith("#!") or first.startswith("# syntax="):
        return 1
    return 0


def marked(text: str) -> bool:
    return NOTE in "\n".join(text.splitlines()[:3])


def mark(path: Path, rel: str) -> bool:
    """Add the note; True when the file changed."""
    text = path.read_text(encoding="utf-8")
    if marked(text):
        return False
    lines = text.splitlines(keepends=True)
    lines.insert(_insert_at(lines), f"{comment(rel)}\n")
    path.write_text("".join(lines), encoding="utf-8")
    return True


def unmarked() -> list[str]:
    return [rel for rel in template_files() if not marked((PROJECT / rel).read_text())]


def main(args: list[str]) -> int:
    if args == ["--check"]:
        missing = unmarked()
        print("\n".join(missing))
        return 1 if missing else 0
    for rel in template_files():
        if mark(PROJECT / rel, rel):
            print(f"marked {rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
