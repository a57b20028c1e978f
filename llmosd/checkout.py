"""Paths that exist only in a source checkout, for the tools that run from one (the trainers,
the tests, the benches): the repository itself, and the team's shared contract cases, which
sit beside it (`../shared`) unless $LLMOSD_SHARED names another place.

An installed llmosd has neither, and nothing the daemon runs looks for them.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def shared_root() -> Path:
    return Path(os.environ.get("LLMOSD_SHARED") or REPO.parent / "shared")
