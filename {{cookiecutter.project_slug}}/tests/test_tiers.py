# Template file: updates (bin/update) replace it; README.md says where your changes go.
"""The suite's two tiers (docs/guide.md, "Tests"): a plain `pytest` runs the fast tier and
leaves out the tests marked `slow`; every run on CI (CI=true) runs both, whatever command
it uses. (`-m ""` runs both anywhere: pytest's own rule, an empty expression selects all.)

Each check starts pytest again (seconds of imports), so these are in the slow tier too.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from helpers import ROOT

pytestmark = pytest.mark.slow  # the slow tier: CI runs it, `-m ""` locally

MODULE = "tests/test_web.py"  # one module with a test of each tier
FAST = f"{MODULE}::test_serves_healthz_on_ipv4_and_ipv6"
SLOW = f"{MODULE}::test_sigterm_drains_the_in_flight_request_and_exits_0"


def collected(ci: str | None) -> set[str]:
    """The test IDs a run of MODULE would run, with CI set to `ci` (None: unset)."""
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    if ci is not None:
        env["CI"] = ci
    command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-n", "0"]
    result = subprocess.run(
        [*command, "-p", "no:cacheprovider", MODULE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return {line for line in result.stdout.splitlines() if line.startswith(MODULE)}


def test_a_plain_run_leaves_the_slow_tier_out() -> None:
    tests = collected(None)
    assert FAST in tests
    assert SLOW not in tests


def test_a_run_on_ci_runs_every_tier() -> None:
    assert {FAST, SLOW} <= collected("true")  # as GitHub Actions and GitLab CI set it
