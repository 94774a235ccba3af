# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""The project checked against the twelve factors: `bin/admin twelve_factor [--live]`.

A tool of the repository, not part of the service: only that admin task imports it, and
it imports nothing of the service's package (it reads the project's files, and `--live`
runs the project's own processes). One module per concern:

    project.py   reading the project: its files, Procfile, settings, modules
    code.py      what Python code executes, read from its syntax tree (never imported)
    shell.py     what a shell script executes
    factors.py   the twelve checks, each returning its evidence or raising Failed
    live.py      the checks that run the real web processes (--live)
    report.py    the verdicts and the one-line-per-factor report
"""

from __future__ import annotations

from .report import Verdict, check, report

__all__ = ["Verdict", "check", "report"]
