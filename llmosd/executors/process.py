"""`process.kill`: signal one PID, re-checking owner and start time first."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from datetime import datetime

from llmosd.contract import Action, Snapshot
from llmosd.errors import ExecutorError
from llmosd.executors.runner import SendSignal

Alive = Callable[[int, datetime | None], bool]
# Signals after which the process is expected to be gone; others (HUP, USR1) only ask it something.
ENDING = {"SIGTERM", "SIGKILL", "SIGINT", "SIGQUIT"}


def wait_gone(pids: list[int], since: datetime, alive: Alive, grace: float) -> list[int]:
    """Wait up to `grace` seconds for `pids` to exit; returns those still running."""
    deadline = time.monotonic() + grace
    while True:
        left = [p for p in pids if alive(p, since)]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.05)


class ProcessArea:
    kinds = frozenset({"process.kill"})

    def __init__(self, send: SendSignal, alive: Alive, grace: float = 10.0):
        self.send, self.alive, self.grace = send, alive, grace

    def do(self, a: Action, snap: Snapshot) -> str:
        pid = a.index()
        seen = [p for g in snap.gpus for p in g.processes if p.pid == pid]
        if not seen:
            raise ExecutorError(f"pid {pid} is not in the snapshot: its owner cannot be checked")
        sig = signal.Signals[getattr(a.params, "signal", None) or "SIGTERM"]
        self.send(pid, sig, user=seen[0].user or None, started_before=snap.now)
        return f"{sig.name} sent to pid {pid} ({seen[0].user})"

    def check(self, a: Action, snap: Snapshot, since: datetime) -> tuple[bool | None, str]:
        pid, sig = a.index(), getattr(a.params, "signal", None) or "SIGTERM"
        if sig not in ENDING:
            return None, f"{sig} does not end a process; delivery cannot be observed"
        left = wait_gone([pid], since, self.alive, self.grace)
        return (False, f"pid {pid} still runs after {sig}") if left else (True, f"pid {pid} is gone")
