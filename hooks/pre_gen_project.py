"""Refuse answers the generated project cannot hold, before anything is written.

Runs as cookiecutter's pre-generation hook (after cookiecutter renders this file, so it
holds no template syntax but the one context line) and as a copier task, unrendered,
with the context as JSON in argv[1] and the template folder in argv[2]. copier's
validators refuse the same answers earlier; this keeps cookiecutter equally strict.
"""

import json
import os
import sys
from pathlib import Path


def load_context() -> tuple[dict, Path]:
    if len(sys.argv) > 2:  # copier task
        return json.loads(sys.argv[1]), Path(sys.argv[2])
    context = json.loads(r"""{{ cookiecutter | tojson }}""")  # rendered by cookiecutter
    # _repo_dir is the path as typed; a relative one is relative to the caller's folder.
    return context, Path(os.environ.get("PWD", "."), context["_repo_dir"]).resolve()


def main() -> int:
    context, template = load_context()
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
