"""Shared fixtures of the template's test suite."""

from __future__ import annotations

from pathlib import Path

import pytest
from ecosystem import RENDERS
from helpers import render_cookiecutter


@pytest.fixture(scope="session")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The ecosystem tests' renders (ecosystem.RENDERS), made once per test worker."""
    return {
        name: render_cookiecutter(tmp_path_factory.mktemp(name), data)
        for name, data in RENDERS.items()
    }


# pytest-xdist hands out its work units (an xdist_group, or one ungrouped test) in this
# suite's collection order (--no-loadscope-reorder in pyproject.toml), and a worker takes
# the next one when it runs dry. The longest groups go first, so that no long one starts
# last while the other worker sits idle; the many short, ungrouped tests fill in at the
# end. Longest first, as measured; a group not listed goes after these, before the rest.
LONGEST_FIRST = [
    "update",
    "first_week",
    "generated-everything-on",
    "generated-awkward-text",
    "new_machine",
    "ecosystem",
    "service",
    "dev",
    "bin_scripts",
    "team_files",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Order the collection longest group first (a stable sort: the order within a group
    and a module stays as written)."""

    def rank(item: pytest.Item) -> int:
        group = next((mark.args[0] for mark in item.iter_markers("xdist_group")), None)
        if group is None:
            return len(LONGEST_FIRST) + 1
        return LONGEST_FIRST.index(group) if group in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)
