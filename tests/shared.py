"""Where the team's shared contract cases are: `../shared` beside the checkout, or $LLMOSD_SHARED.

A checkout without them still runs every test of its own; a test that reads a
shared case is skipped there, saying which path it looked for.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from llmosd.checkout import shared_root

ROOT = shared_root()
SCENARIOS = ROOT / "scenarios" / "dev"
COMMANDS = ROOT / "commands" / "dev.jsonl"
TOOLS = ROOT / "tools"


def need(path: Path) -> Path:
    """`path`, or a skip naming it when the shared cases are not beside this checkout."""
    if not path.exists():
        pytest.skip(f"{path} is not here (the shared cases sit beside the checkout, or set LLMOSD_SHARED)")
    return path


@functools.cache
def _scorer_matches() -> Callable[[dict[str, Any], dict[str, Any]], Any]:
    sys.path.insert(0, str(need(TOOLS / "score.py").parent))  # once, not per case
    from score import matches as scorer_matches

    return scorer_matches


def matches(got: dict[str, Any], want: dict[str, Any]) -> bool:
    """The shared scorer's own rule for whether a parsed command meets a case's expectation."""
    return bool(_scorer_matches()(got, want))
