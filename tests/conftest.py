"""Shared fixtures of the template's test suite."""

from __future__ import annotations

import sys
from pathlib import Path

# Tests import `helpers` (and through it the hooks' modules) as plain modules.
sys.path.insert(0, str(Path(__file__).parent))
