# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""The verdict of each factor and the report: one line per factor, then a summary.

Each factor has its static check (factors.py) and, for VI and IX, a live one (live.py)
that runs only when asked: a factor holds when each of its checks returns evidence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import factors, live
from .project import Failed, Project

Check = Callable[[Project], str]
FACTORS: list[tuple[str, str, Check, Check | None]] = [
    ("I", "Codebase", factors.codebase, None),
    ("II", "Dependencies", factors.dependencies, None),
    ("III", "Config", factors.config, None),
    ("IV", "Backing services", factors.backing_services, None),
    ("V", "Build, release, run", factors.build_release_run, None),
    ("VI", "Processes", factors.processes, live.shared_session),
    ("VII", "Port binding", factors.port_binding, None),
    ("VIII", "Concurrency", factors.concurrency, None),
    ("IX", "Disposability", factors.disposability, live.boot_and_stop),
    ("X", "Dev/prod parity", factors.parity, None),
    ("XI", "Logs", factors.logs, None),
    ("XII", "Admin processes", factors.admin_processes, None),
]


@dataclass(frozen=True)
class Verdict:
    factor: str
    title: str
    ok: bool
    evidence: str

    def line(self) -> str:
        return (
            f"{self.factor:>4}  {self.title:<20} {'ok' if self.ok else 'FAIL':<4}  {self.evidence}"
        )


def judge(project: Project, checks: list[Check]) -> tuple[bool, str]:
    evidence = []
    for check in checks:
        try:
            evidence.append(check(project))
        except Failed as failure:
            return False, str(failure)
    return True, "; ".join(evidence)


def check(root: Path, *, live: bool = False, only: set[str] | None = None) -> list[Verdict]:
    """The verdict of every factor (or of those in `only`) for the project at `root`."""
    project = Project(root)
    verdicts = []
    for factor, title, static, dynamic in FACTORS:
        if only is not None and factor not in only:
            continue
        checks = [static] if dynamic is None or not live else [static, dynamic]
        ok, evidence = judge(project, checks)
        verdicts.append(Verdict(factor, title, ok, evidence))
    return verdicts


def report(verdicts: list[Verdict]) -> str:
    failed = [v.factor for v in verdicts if not v.ok]
    summary = f"failing: {', '.join(failed)}" if failed else "every factor holds"
    return "\n".join([*(v.line() for v in verdicts), summary])
