"""systemd units through `systemctl` (argv only). `systemctl` may be a longer
argv, e.g. `nsenter -t PID -m -p systemctl` for a unit inside a container."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from llmosd.errors import ExecutorError
from llmosd.executors.runner import Run


def available(marker: Path = Path("/run/systemd/system")) -> bool:
    """Whether this machine was booted with systemd (the test sd_booted() makes)."""
    return marker.is_dir()


@dataclass(frozen=True)
class UnitState:
    active: str  # ActiveState: active, inactive, failed, activating, ...
    sub: str
    since: datetime | None  # when it last became active
    main_pid: int


class Systemd:
    def __init__(self, run: Run, systemctl: Sequence[str] = ("systemctl",), timeout: float = 120.0):
        self.run, self.systemctl, self.timeout = run, tuple(systemctl), timeout

    def control(self, verb: Literal["start", "stop", "restart"], unit: str) -> str:
        r = self.run([*self.systemctl, verb, "--", unit], timeout=self.timeout)
        if not r.ok:
            raise ExecutorError(r.why())
        return f"systemctl {verb} {unit}"

    def reboot(self) -> str:
        r = self.run([*self.systemctl, "reboot"], timeout=self.timeout)
        if not r.ok:
            raise ExecutorError(r.why())
        return "systemctl reboot"

    def state(self, unit: str) -> UnitState:
        props = ("ActiveState", "SubState", "ActiveEnterTimestamp", "MainPID", "LoadState")
        argv = [*self.systemctl, "show", "--timestamp=unix", *(f"--property={p}" for p in props), "--", unit]
        r = self.run(argv, timeout=30)
        if not r.ok:
            raise ExecutorError(r.why())
        kv = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
        if kv.get("LoadState") == "not-found":
            raise ExecutorError(f"{unit}: no such unit")
        stamp = kv.get("ActiveEnterTimestamp", "").lstrip("@")
        since = datetime.fromtimestamp(int(stamp), UTC) if stamp.isdigit() and int(stamp) > 0 else None
        pid = int(kv.get("MainPID") or 0)
        return UnitState(kv.get("ActiveState", "unknown"), kv.get("SubState", ""), since, pid)
