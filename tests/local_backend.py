"""A real-but-local `server.Backend` for socket tests: a fixed snapshot, the real guard and
default policy, and a real audit log on disk. It records changes in the audit log but runs no
executor (the executors have their own tests)."""

from __future__ import annotations

import itertools
import threading
from datetime import datetime
from pathlib import Path

from llmosd import guard
from llmosd.audit import AuditLog, Context, Filters
from llmosd.contract import Action, Job, Judged, Mode, Snapshot, make_action, parse_snapshot
from llmosd.policy import load_policy
from llmosd.protocol import (
    ActResult,
    AuditQuery,
    AutonomyState,
    JobSpec,
    Peer,
    Pending,
    RequestError,
    StatusView,
)

SNAPSHOT = {
    "id": "socket-test",
    "now": "2026-11-20T14:03:00Z",
    "host": {"hostname": "gpu-07", "disks": [{"mount": "/", "used_percent": 40}]},
    "gpus": [
        {"index": 0, "name": "H100", "util_percent": 97, "mem_used_mib": 70000, "mem_total_mib": 81559,
         "processes": [{"pid": 4411, "user": "alice", "cmd": "python train.py", "job": "j-17"}]},
        {"index": 1, "name": "H100", "util_percent": 0, "mem_used_mib": 0, "mem_total_mib": 81559},
    ],
    "services": [{"unit": "nginx.service", "state": "failed", "exit_status": 1},
                 {"unit": "vllm.service", "state": "active"}],
    "jobs": [{"id": "j-17", "user": "alice", "state": "running", "gpus": [0]},
             {"id": "j-40", "user": "bob", "state": "queued", "gpus_wanted": 1}],
    "updates": [{"package": "openssl", "from": "3.0.11", "to": "3.0.13", "security": True}],
}  # fmt: skip


class LocalBackend:
    def __init__(self, state: Path, snapshot: dict | None = None):
        self.snap: Snapshot = parse_snapshot(snapshot or SNAPSHOT)
        self.policy = load_policy("default")
        self.db_path = state / "audit.db"
        self.local = threading.local()  # an AuditLog (SQLite connection) per server thread
        self.mode: Mode = "autonomous"
        self.until: datetime | None = None
        self.held: dict[str, tuple[Judged, Context]] = {}
        self.lock = threading.Lock()
        self.ids = itertools.count(100)

    @property
    def log(self) -> AuditLog:
        if not hasattr(self.local, "log"):
            self.local.log = AuditLog(self.db_path, sync="normal")
        return self.local.log

    def status(self) -> StatusView:
        s = self.snap
        return StatusView(
            hostname=s.host.hostname, now=s.now, mode=self.mode, mode_until=self.until, engine="rules",
            gpus=len(s.gpus), gpus_drained=sum(g.drained for g in s.gpus),
            jobs_running=sum(j.state == "running" for j in s.jobs),
            jobs_queued=sum(j.state == "queued" for j in s.jobs),
            services_failed=sum(v.state == "failed" for v in s.services), updates_pending=len(s.updates),
            pending=[Pending(id=k, action=j.action.wire(), reasons=j.reasons, requested_by=c.actor)
                     for k, (j, c) in self.held.items()],
        )  # fmt: skip

    def gpus(self, target: str) -> list:
        return [g for g in self.snap.gpus if not target or target == f"gpu:{g.index}"]

    def jobs(self, target: str) -> list:
        return [j for j in self.snap.jobs if target in ("", j.id, j.user)]

    def services(self, target: str) -> list:
        return [v for v in self.snap.services if target in ("", v.unit)]

    def updates(self, target: str) -> list:
        return [u for u in self.snap.updates if target in ("", "all", u.package)]

    def audit(self, query: AuditQuery) -> list:
        f = Filters(**query.model_dump(exclude={"limit"}))
        return [r.wire() for r in self.log.query(f)][-query.limit :]

    def act(self, action: Action, who: Peer, text: str) -> ActResult:
        [judged] = guard.judge([action], self.snap, self.policy, mode=self.mode, history=[])
        ctx = Context(actor=who.actor(), rationale=f"admin command: {text}" if text else "admin command")
        with self.lock:
            seq = self.log.decision(judged, ctx)
            if judged.verdict == "approval":
                self.held[str(seq)] = (judged, ctx)
                return self._result(judged, [seq], approval_id=str(seq))
            if judged.verdict == "deny":
                return self._result(judged, [seq])
            return self._run(judged, ctx, [seq])

    def _run(self, judged: Judged, ctx: Context, ids: list[int]) -> ActResult:
        intent = self.log.intent(judged, ctx)
        done = self.log.outcome(intent, "ok", "recorded by the test backend")
        return self._result(judged, [*ids, intent, done], outcome="ok")

    @staticmethod
    def _result(judged: Judged, ids: list[int], **more: object) -> ActResult:
        return ActResult(action=judged.action.wire(), verdict=judged.verdict, reasons=judged.reasons,
                         audit_ids=ids, **more)  # fmt: skip

    def _held(self, approval_id: str) -> tuple[Judged, Context]:
        if approval_id not in self.held:
            raise RequestError("not_found", f"no action is waiting for approval under id {approval_id}")
        return self.held.pop(approval_id)

    def approve(self, approval_id: str, who: Peer) -> ActResult:
        with self.lock:
            judged, ctx = self._held(approval_id)
            ev = self.log.event(judged.action.kind, judged.action.target, who.actor(), "approved")
            return self._run(judged, ctx, [ev])

    def deny(self, approval_id: str, who: Peer, reason: str) -> ActResult:
        with self.lock:
            judged, _ = self._held(approval_id)
            ev = self.log.event(judged.action.kind, judged.action.target, who.actor(), f"denied: {reason}")
            return self._result(judged.model_copy(update={"verdict": "deny"}), [ev])

    def set_autonomy(self, mode: Mode, until: datetime | None, who: Peer) -> AutonomyState:
        with self.lock:
            self.mode, self.until = mode, until
            self.log.event("autonomy", mode, who.actor(), f"until {until}" if until else "")
        return AutonomyState(mode=mode, until=until, set_by=who.actor())

    def submit(self, job: JobSpec, who: Peer) -> Job:
        new = Job(id=f"j-{next(self.ids)}", user=who.user, state="queued", gpus_wanted=job.gpus,
                  mem_mib_wanted=job.mem_mib, priority=job.priority, submitted_at=self.snap.now)  # fmt: skip
        with self.lock:
            self.snap.jobs.append(new)
            self.log.event("job.submit", new.id, who.actor(), " ".join(job.argv))
        return new

    def cancel(self, job_id: str, who: Peer) -> ActResult:
        if not any(j.id == job_id for j in self.snap.jobs):
            raise RequestError("not_found", f"no job {job_id}")
        return self.act(make_action("job.stop", job_id), who, f"cancel {job_id}")
