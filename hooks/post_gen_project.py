"""Prune what the answers exclude, then verify the generated layout; fail loudly.

Runs as cookiecutter's post-generation hook (rendered first, so it holds no template
syntax but the one context line) and as a copier task (unrendered; context as JSON in
argv[1], template folder in argv[2]). The working directory is the generated project.
copier also runs its tasks in two temporary copies and in the project on every update,
so everything here is idempotent. The layout check runs on copy and recopy, and judges
only the files the template rendered: the team's own files (an existing repository the
template is copied into, a project being recopied) are not the template's to judge.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

UNDER_COPIER = len(sys.argv) > 2
UPDATING = os.environ.get("COPIER_OPERATION") == "update"
# `git describe --tags --always` past a tag (v0.1.0-3-gabc1234), or with no tag at all.
UNRELEASED = re.compile(r"(.+-[0-9]+-g)?[0-9a-f]{7,40}")


def load_context() -> tuple[dict, Path]:
    if UNDER_COPIER:
        return json.loads(sys.argv[1]), Path(sys.argv[2])
    context = json.loads(r"""{{ cookiecutter | tojson }}""")  # rendered by cookiecutter
    # _repo_dir is the path as typed; a relative one is relative to the caller's folder.
    return context, Path(os.environ.get("PWD", "."), context["_repo_dir"]).resolve()


def template_version(template: Path) -> str | None:
    try:
        return subprocess.run(
            ["git", "-C", str(template), "describe", "--tags", "--always"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None  # not a git checkout: there is nothing to update from


def warn_if_unreleased(version: str | None) -> None:
    """cookiecutter renders the default branch, copier updates to release tags: say so."""
    if version is None:
        problem = "the template is not a git checkout, so copier update cannot find it"
    elif UNRELEASED.fullmatch(version):
        problem = (
            f"made from {version}, not a release tag: a plain copier update refuses "
            "to go back to an older release; use --vcs-ref HEAD until a newer one is out"
        )
    else:
        return
    print(
        f"twelve-template: {problem}. Generate from a release instead: "
        "cookiecutter --checkout vX.Y.Z <template repository> (docs/updating.md).",
        file=sys.stderr,
    )


def write_copier_answers(context: dict, template: Path) -> None:
    """cookiecutter only: record the answers so `copier update` works here too."""
    source = context.get("_template") or ""
    if ":" not in source and not os.path.isabs(source):
        source = str(template)  # a relative path would not resolve from the project
    record = {"_src_path": source}
    version = template_version(template)
    if version:
        record["_commit"] = version
    warn_if_unreleased(version)
    record.update({k: v for k, v in context.items() if not k.startswith("_")})
    import yaml  # both engines depend on PyYAML

    Path(".copier-answers.yml").write_text(
        "# Changes here will be overwritten by Copier; NEVER EDIT MANUALLY\n"
        + yaml.safe_dump(record, allow_unicode=True, default_flow_style=False, sort_keys=True),
        encoding="utf-8",
    )


def sort_lock(slug: str) -> None:
    """Put the project's own entry of uv.lock where uv sorts it by name.

    The template's lock is made for the default slug (scripts/lock.py), so the entry sits
    where that name sorts; left there, the team's first `uv add` would move it and rewrite
    a hundred unrelated lines. Idempotent, and a lock without that entry is left alone.
    """
    lock = Path("uv.lock")
    if not lock.is_file():
        return
    head, *packages = lock.read_text(encoding="utf-8").split("\n[[package]]\n")
    ours = f'name = "{slug.replace("_", "-")}"\nversion = '
    mine = [p for p in packages if p.startswith(ours) and 'source = { editable = "." }' in p]
    if len(mine) != 1:
        return
    others = [p for p in packages if p is not mine[0]]
    index = next(
        (i for i, p in enumerate(others) if p.split("\n", 1)[0] > ours.split("\n", 1)[0]),
        len(others),
    )
    others.insert(index, mine[0])
    lock.write_text("\n[[package]]\n".join([head, *others]), encoding="utf-8")


def main() -> int:
    context, template = load_context()
    sys.path.insert(0, str(template / "hooks"))
    import layout  # found through the template folder

    selection = layout.select(context)
    layout.prune(Path.cwd(), selection)
    if not UNDER_COPIER:
        write_copier_answers(context, template)
    sort_lock(context["project_slug"])
    if not UPDATING:  # on update, copier's own merge result is the team's to review
        # Only what the template rendered is judged: copy into an existing repository and
        # recopy leave the team's own files next to it.
        rendered = layout.rendered_paths(template, context)
        problems = layout.verify(Path.cwd(), selection, rendered)
        if problems:
            print("twelve-template: the generated project is broken:", file=sys.stderr)
            for problem in problems:
                print(f"  - {problem}", file=sys.stderr)
            return 1
        name = context["project_name"]
        print(f"\nGenerated {name}. Next: cd into it, then bin/setup and bin/dev.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
