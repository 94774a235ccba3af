# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Put the team's sections of the shared files back after `copier recopy --overwrite`.

Two generated files are shared by sections (docs/guide.md, "Whose file is it"):

- `.env.example`: the team's variables go below the line "Your service's own variables
  ... go below this line" (and its paragraph), to the end of the file;
- `pyproject.toml`: the team's dependencies go below each `# yours` line, to the end of
  its list (`]`).

A recopy renders every template file afresh, so it drops those sections. `bin/update
--recopy` runs this afterwards: for each file it reads the team's sections from the
last commit (the recopy starts from a clean tree, so HEAD is the project as it was) and
inserts them below the same markers of the fresh file. Standard library only, like
bin/update's other helpers: the system python3 runs it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GIT = shutil.which("git") or "git"
ENV_MARKER = "# Your service's own variables"  # its section runs to the end of the file
LIST_MARKER = "# yours"  # its section runs to the end of the list: a line `]`


def committed(rel: str) -> list[str] | None:
    """The file as the last commit has it (lines with their endings), None if absent."""
    result = subprocess.run(  # noqa: S603 # git, with a path of this script's own list
        [GIT, "show", f"HEAD:{rel}"], cwd=ROOT, capture_output=True, check=False
    )
    if result.returncode != 0:
        return None
    return result.stdout.decode("utf-8").splitlines(keepends=True)


def env_section(old: list[str], new: list[str]) -> list[str]:
    """The team's lines of .env.example: below the marker's paragraph, to the end."""
    starts = [i for i, line in enumerate(old) if line.startswith(ENV_MARKER)]
    fresh = [i for i, line in enumerate(new) if line.startswith(ENV_MARKER)]
    if not starts or not fresh:
        return []
    paragraph = new[fresh[0] :]  # the template's marker paragraph ends the fresh file
    after = old[starts[0] :]
    if after[: len(paragraph)] == paragraph:
        return after[len(paragraph) :]
    tail = after[1:]  # the paragraph changed: keep what is not one of its lines
    while tail and tail[0] in paragraph:
        tail = tail[1:]
    return tail


def list_sections(old: list[str]) -> list[list[str]]:
    """The team's lines below each `# yours` line of pyproject.toml, in order."""
    sections: list[list[str]] = []
    current: list[str] | None = None
    for line in old:
        if line.strip().startswith(LIST_MARKER):
            current = []
            sections.append(current)
        elif current is not None and line.strip() == "]":
            current = None
        elif current is not None:
            current.append(line)
    return sections


def with_list_sections(new: list[str], sections: list[list[str]]) -> tuple[list[str], list[str]]:
    """The fresh file with each section below its `# yours` line, and what found no place
    (when a release had fewer such lines: printed, for the team to put back by hand)."""
    merged = []
    for line in new:
        merged.append(line)
        if line.strip().startswith(LIST_MARKER) and sections:
            merged += sections.pop(0)
    return merged, [line for section in sections for line in section]


def keep(rel: str) -> bool:
    """Put the team's section(s) of `rel` back; True when the file changed."""
    old, path = committed(rel), ROOT / rel
    if old is None or not path.is_file():
        return False
    new = path.read_text(encoding="utf-8").splitlines(keepends=True)
    if new and not new[-1].endswith("\n"):
        new[-1] += "\n"
    lost: list[str] = []
    if rel == ".env.example":
        merged = new + env_section(old, new)
    else:
        merged, lost = with_list_sections(new, list_sections(old))
    if lost:
        print(f"bin/update: {rel} has no place for these lines of yours:")
        print("".join(f"  {line}" for line in lost), end="")
    if merged == new:
        return False
    path.write_text("".join(merged), encoding="utf-8")
    return True


def main(argv: list[str]) -> int:
    for rel in argv or [".env.example", "pyproject.toml"]:
        if keep(rel):
            print(f"bin/update: kept your section of {rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
