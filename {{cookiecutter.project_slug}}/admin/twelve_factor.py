# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""Check the project against the twelve factors: one line per factor, exit 1 if any fails.

The checks read the project's files as they stand (src/twelve_factor_check/ says what
each factor checks: a tool of the repository that the service never imports). --live also runs
the checks that need processes, with this environment's settings and a built project
(bin/build): the web process boots to /healthz and exits 0 on SIGTERM (IX), and two web
processes share a session through SESSION_STORE_URL (VI).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

import twelve_factor_check

ROOT = Path(__file__).resolve().parents[1]

Live = Annotated[
    bool, typer.Option("--live", help="Also boot web processes (IX, VI); takes seconds.")
]


def main(live: Live = False) -> None:
    verdicts = twelve_factor_check.check(ROOT, live=live)
    print(twelve_factor_check.report(verdicts))
    if not all(verdict.ok for verdict in verdicts):
        raise typer.Exit(1)
