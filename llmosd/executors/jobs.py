"""llmosd's own placement state: drained GPUs and which job holds which GPUs.

Launching a job's program is the scheduler's business; what is kept here is
the state the decision engine and the collectors read back (`drained`,
`placed`, `requeued`). Stopping a job signals the processes the snapshot
showed for it, with the owner and start-time re-check of `runner.send_signal`.
"""

from __future__ import annotations

import signal
from datetime import datetime
from pathlib import Path
from typing import Any

from llmosd.contract import Action, Snapshot
from llmosd.errors import ExecutorError
from llmosd.executors.process import Alive, wait_gone
from llmosd.executors.runner import SendSignal
from llmosd.executors.state import StateFile


class Placement:
    def __init__(self, path: Path):
        self.file = StateFile(path)

    def _get(self) -> dict[str, Any]:
        d = self.file.load()
        return {"drained": [], "placed": {}, "requeued": [], **d}

    @property
    def drained(self) -> set[int]:
        return set(self._get()["drained"])

    def placed(self) -> dict[str, list[int]]:
        return dict(self._get()["placed"])

    def requeued(self) -> list[str]:
        return list(self._get()["requeued"])

    def set_drained(self, index: int, on: bool) -> None:
        d = self._get()
        d["drained"] = sorted(set(d["drained"]) | {index} if on else set(d["drained"]) - {index})
        self.file.save(d)

    def place(self, job: str, gpus: list[int]) -> None:
        d = self._get()
        d["placed"][job] = list(gpus)
        d["requeued"] = [j for j in d["requeued"] if j != job]
        self.file.save(d)

    def unplace(self, job: str, requeue: bool) -> None:
        d = self._get()
        d["placed"].pop(job, None)
        if requeue and job not in d["requeued"]:
            d["requeued"].append(job)
        self.file.save(d)


class JobArea:
    kinds = frozenset({"job.start", "job.stop", "job.requeue"})

    def __init__(self, placement: Placement, send: SendSignal, alive: Alive, grace: float = 10.0):
        self.placement, self.send, self.alive, self.grace = placement, send, alive, grace

    @staticmethod
    def _pids(job: str, snap: Snapshot) -> list[tuple[int, str]]:
        return sorted({(p.pid, p.user) for g in snap.gpus for p in g.processes if p.job == job})

    def do(self, a: Action, snap: Snapshot) -> str:
        if a.kind == "job.start":
            gpus = list(getattr(a.params, "gpus", []))
            self.placement.place(a.target, gpus)
            return f"{a.target} placed on GPUs {gpus}"
        sig = signal.Signals[getattr(a.params, "signal", None) or "SIGTERM"]
        done, failed = [], []
        for pid, user in self._pids(a.target, snap):
            try:
                self.send(pid, sig, user=user or None, started_before=snap.now)
                done.append(pid)
            except ExecutorError as e:
                failed.append(str(e))
        if failed:
            raise ExecutorError(f"{a.target}: " + "; ".join(failed))
        self.placement.unplace(a.target, requeue=a.kind == "job.requeue")
        what = "requeued" if a.kind == "job.requeue" else "stopped"
        return f"{a.target} {what}" + (f"; {sig.name} sent to pids {done}" if done else "; no processes")

    def check(self, a: Action, snap: Snapshot, since: datetime) -> tuple[bool | None, str]:
        if a.kind == "job.start":
            ok = a.target in self.placement.placed()
            return ok, f"{a.target} {'is' if ok else 'is not'} placed"
        left = wait_gone([p for p, _ in self._pids(a.target, snap)], since, self.alive, self.grace)
        if left:
            return False, f"{a.target}: pids {left} still run"
        if a.kind == "job.requeue" and a.target not in self.placement.requeued():
            return False, f"{a.target} is not in the requeue list"
        return True, f"{a.target} has no processes left"
