"""The code stays ruff- and mypy-clean: CI fails on the first lint or type error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_clean() -> None:
    p = run("ruff", "check", "llmosd", "tests", "bench")
    assert p.returncode == 0, p.stdout[-4000:]


def test_mypy_clean() -> None:
    p = run("mypy", "llmosd")
    assert p.returncode == 0, p.stdout[-4000:]
