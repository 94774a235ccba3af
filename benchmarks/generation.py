"""How long generating the default project takes with each engine (wall clock).

    uv run python benchmarks/generation.py [rounds]

Prints the median and the slowest of N rounds per engine. A benchmark, not a test: the
numbers depend on the machine; compare them with each other, not with a fixed bound.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

# The test helpers and the hooks' modules they import (pytest's pythonpath, by hand).
sys.path[:0] = [str(Path(__file__).resolve().parents[1] / name) for name in ("tests", "hooks")]
from helpers import render_cookiecutter, render_copier  # noqa: E402


def measure(render: Callable[[Path], Path], rounds: int) -> list[float]:
    seconds = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            render(Path(tmp) / "my_service")
            seconds.append(time.perf_counter() - start)
    return seconds


def main() -> None:
    warnings.simplefilter("ignore")  # copier warns that the template has uncommitted edits
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    print(f"{'engine':<14}{'median s':>10}{'max s':>8}  ({rounds} rounds)")
    for name, render in (("cookiecutter", render_cookiecutter), ("copier", render_copier)):
        seconds = measure(render, rounds)
        print(f"{name:<14}{statistics.median(seconds):>10.2f}{max(seconds):>8.2f}")


if __name__ == "__main__":
    main()
