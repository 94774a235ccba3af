"""Refuse answers the generated project cannot hold, before anything is written.

Runs as cookiecutter's pre-generation hook (after cookiecutter renders this file, so it
holds no template syntax but the one context line) and as a copier task, unrendered,
with the context as JSON in argv[1] and the template folder in argv[2]. copier's
validators refuse the same answers earlier; this keeps cookiecutter equally strict.
"""

import json
import os
import subprocess
import sys
from pathlib import Path


def load_context() -> tuple[dict, Path]:
    if len(sys.argv) > 2:  # copier task
        return json.loads(sys.argv[1]), Path(sys.argv[2])
    context = json.loads(r"""{{ cookiecutter | tojson }}""")  # rendered by cookiecutter
    # _repo_dir is the path as typed; a relative one is relative to the caller's folder.
    return context, Path(os.environ.get("PWD", "."), context["_repo_dir"]).resolve()


def git_commit(template: Path, ref: str) -> str | None:
    """The commit `ref` names in the template's git repository; None outside one."""
    try:
        return subprocess.run(
            ["git", "-C", str(template), "rev-parse", "--verify", "--quiet", ref + "^{commit}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def checkout_problem(context: dict, template: Path) -> str | None:
    """cookiecutter clones a repository URL at --checkout, but renders a local folder as it
    is: asked for a release, it would make the folder's HEAD and record the wrong release."""
    ref = context.get("_checkout")
    if not ref:
        return None
    head = git_commit(template, "HEAD")
    if head is None or git_commit(template, ref) == head:
        return None  # not git (a zip): nothing to compare; or already at that release
    url = "git+file://" + str(template)
    return (
        f"--checkout {ref} was asked for, but cookiecutter renders a local folder as it "
        f"is ({template} is not at {ref}); it clones only a repository URL at a release:\n"
        f"    cookiecutter --checkout {ref} {url}"
    )


def main() -> int:
    context, template = load_context()
    problem = checkout_problem(context, template)
    if problem:
        print(f"twelve-template: {problem}", file=sys.stderr)
        return 1
    sys.path.insert(0, str(template / "hooks"))
    import answers  # found through the template folder

    problems = answers.problems(context)
    if problems:
        print("twelve-template: these answers cannot be used:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
