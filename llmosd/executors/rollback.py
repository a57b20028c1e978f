"""Numbered releases of a service and the `current` link that picks one.

    <root>/<unit>/releases/1/   <root>/<unit>/releases/2/   <root>/<unit>/current -> releases/2

A release is whatever the service runs from (a build, a model folder, a
config). Rolling back points `current` at an older release with one atomic
rename, restarts the service and checks its health; if the older release
fails too, `current` goes back to where it was and the service is restarted
on it, so a failed rollback leaves things as they were.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from llmosd.errors import ExecutorError

Restart = Callable[[str], object]
Healthy = Callable[[str], tuple[bool, str]]


class Releases:
    def __init__(self, root: Path):
        self.root = root

    def _dir(self, unit: str) -> Path:
        if "/" in unit or unit.startswith("."):
            raise ExecutorError(f"{unit!r} is not a unit name")
        return self.root / unit

    def numbers(self, unit: str) -> list[int]:
        try:
            return sorted(int(p.name) for p in (self._dir(unit) / "releases").iterdir() if p.name.isdigit())
        except FileNotFoundError:
            return []

    def current(self, unit: str) -> int | None:
        try:
            name = Path(os.readlink(self._dir(unit) / "current")).name
        except OSError:
            return None
        return int(name) if name.isdigit() else None

    def switch(self, unit: str, n: int) -> None:
        """Point `current` at release n: a new link renamed over the old one, never a moment without."""
        d = self._dir(unit)
        if not (d / "releases" / str(n)).is_dir():
            raise ExecutorError(f"{unit} has no release {n}")
        tmp = d / f".current.{os.getpid()}.tmp"
        tmp.unlink(missing_ok=True)
        os.symlink(f"releases/{n}", tmp)
        os.replace(tmp, d / "current")
        fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)  # the rename itself must survive a crash
        finally:
            os.close(fd)

    def target(self, unit: str, to: str | None) -> tuple[int, int]:
        """(current, release to go to): `to` if given, else the newest release older than current."""
        cur, have = self.current(unit), self.numbers(unit)
        if cur is None:
            raise ExecutorError(f"{unit} has no current release under {self.root}")
        if to is not None:
            if not to.isdigit() or int(to) not in have:
                raise ExecutorError(f"{unit} has no release {to!r} (have {have})")
            if int(to) == cur:
                raise ExecutorError(f"{unit} already runs release {to}")
            return cur, int(to)
        older = [n for n in have if n < cur]
        if not older:
            raise ExecutorError(f"{unit} has no release older than {cur}")
        return cur, older[-1]


def rollback(releases: Releases, unit: str, to: str | None, *, restart: Restart, healthy: Healthy) -> str:
    cur, goal = releases.target(unit, to)
    releases.switch(unit, goal)
    restart(unit)
    ok, why = healthy(unit)
    if ok:
        return f"{unit}: release {cur} -> {goal}, healthy ({why})"
    releases.switch(unit, cur)
    restart(unit)
    back, why_back = healthy(unit)
    state = "healthy again" if back else f"still unhealthy: {why_back}"
    raise ExecutorError(f"{unit}: release {goal} failed its health check ({why}); back on {cur}, {state}")
