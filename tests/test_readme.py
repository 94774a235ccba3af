"""The README says what is true: its commands are what CI runs, its tree what is generated."""

from __future__ import annotations

import re

from helpers import TEMPLATE, layout

README = (TEMPLATE / "README.md").read_text(encoding="utf-8")


def setup_commands() -> list[str]:
    block = README.split("## Set up", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line and not line.startswith("#")]


def test_readme_gives_exactly_two_setup_commands() -> None:
    generate, test = setup_commands()
    assert "copier copy" in generate and "bin/setup" in generate and "bin/dev" in generate
    assert "pytest" in test


def test_ci_runs_the_readme_test_command() -> None:
    test_command = setup_commands()[1]
    ci_lines = (TEMPLATE / ".ci" / "run").read_text().splitlines()
    assert test_command in ci_lines


def tree_entries() -> list[str]:
    """Paths named in the README's tree, children prefixed with their folder."""
    block = README.split("## What you get", 1)[1].split("```", 2)[1]
    entries: list[str] = []
    folder = ""
    for line in block.splitlines():
        match = re.match(r"(│   )?[├└]── (.+?)(?:\s{2,}|$)", line)
        if not match:
            continue
        names = re.split(r",\s*|\s+or\s+", match[2])
        if match[1]:
            entries.extend(folder + name for name in names)
        else:
            entries.extend(names)
            folder = names[-1] if names[-1].endswith("/") else ""
    return [entry.replace("my_service", "{slug}") for entry in entries]


def test_readme_tree_names_only_declared_paths() -> None:
    manifest = layout.load_manifest()
    declared = [*manifest["always"], *(p for g in manifest["when"] for p in g["paths"])]
    entries = tree_entries()
    assert len(entries) > 20
    for entry in entries:
        assert any(p == entry or p.startswith(entry.rstrip("/") + "/") for p in declared), entry
