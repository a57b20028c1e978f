"""The admin socket's view of the running daemon (`server.Backend`).

Reads come from the last snapshot; everything that touches the audit log or
the executors runs on the daemon's worker thread, between two ticks.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from llmosd import guard
from llmosd.audit import Context, Filters, stamp
from llmosd.contract import Action, Gpu, Job, Judged, Mode, Service, Snapshot, Update, make_action
from llmosd.executors import Grant, Outcome
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

if TYPE_CHECKING:
    from llmosd.daemon import Daemon


def result(j: Judged, ids: list[int], out: Outcome | None = None, approval: str | None = None) -> ActResult:
    more = [x for x in (out.intent, out.record) if x is not None] if out else []
    return ActResult(
        action=j.action.wire(), verdict=j.verdict, reasons=j.reasons, approval_id=approval,
        outcome=out.status if out else None, detail=out.detail if out else "", audit_ids=[*ids, *more],
    )  # fmt: skip


class DaemonBackend:
    def __init__(self, daemon: Daemon):
        self.d = daemon

    def _snap(self) -> Snapshot:
        if self.d.last is None:
            raise RequestError("unavailable", "the daemon has not read the machine yet")
        return self.d.last

    def status(self) -> StatusView:
        s, ex = self._snap(), self.d.executors
        return StatusView(
            hostname=s.host.hostname, now=s.now, mode=ex.mode, mode_until=self.d.mode_until,
            engine="rules" if self.d.judge is None else "llm", gpus=len(s.gpus),
            model=None if self.d.judge is None else self.d.judge.model_name, model_error=self.d.model_error,
            gpus_drained=sum(g.index in ex.drained for g in s.gpus),
            jobs_running=sum(j.state == "running" for j in s.jobs),
            jobs_queued=sum(j.state == "queued" for j in s.jobs),
            services_failed=sum(v.state == "failed" for v in s.services), updates_pending=len(s.updates),
            last_tick=s.now,
            pending=[Pending(id=k, action=j.action.wire(), reasons=j.reasons, requested_by=c.actor)
                     for k, (j, c) in list(self.d.held.items())],
        )  # fmt: skip

    def gpus(self, target: str) -> list[Gpu]:
        # Drained is the daemon's own state: shown as it is now, not as of the last sample, so a
        # GPU drained a moment ago by `ask` does not read as in service until the next tick.
        drained = self.d.executors.drained
        return [g.model_copy(update={"drained": g.index in drained}) for g in self._snap().gpus
                if not target or target == f"gpu:{g.index}"]  # fmt: skip

    def jobs(self, target: str) -> list[Job]:
        return [j for j in self._snap().jobs if target in ("", j.id, j.user)]

    def services(self, target: str) -> list[Service]:
        return [v for v in self._snap().services if target in ("", v.unit)]

    def updates(self, target: str) -> list[Update]:
        return [u for u in self._snap().updates if target in ("", "all", u.package)]

    def audit(self, query: AuditQuery) -> Sequence[dict[str, Any]]:
        f = Filters(**query.model_dump(exclude={"limit"}))

        def read() -> list[dict[str, Any]]:
            return [r.wire() for r in self.d.audit.query(f)][-query.limit :]

        return self.d.on_worker(read)

    # ------------------------------------------------------------ changes

    def act(self, action: Action, who: Peer, text: str) -> ActResult:
        def run() -> ActResult:
            snap, d = self._snap(), self.d
            [j] = guard.judge([action], snap, d.policies.policy, history=snap.history, mode=d.executors.mode)
            ctx = Context(actor=who.actor(), rationale=f"admin command: {text}" if text else "admin command")
            seq = d.audit.decision(j, ctx)
            if j.verdict == "deny":
                return result(j, [seq])
            if j.verdict == "approval":
                d.held[str(seq)] = (j, ctx)
                return result(j, [seq], approval=str(seq))
            return result(j, [seq], d.executors.execute(j, snap, ctx))

        return self.d.on_worker(run)

    def _held(self, approval_id: str) -> tuple[Judged, Context]:
        if approval_id not in self.d.held:
            raise RequestError("not_found", f"no action is waiting for approval under id {approval_id}")
        return self.d.held.pop(approval_id)

    def approve(self, approval_id: str, who: Peer) -> ActResult:
        def run() -> ActResult:
            j, ctx = self._held(approval_id)
            d, a = self.d, j.action
            grant = Grant.give(a, who.actor(), d.audit.clock(), d.policies.policy)
            ev = d.audit.event(a.kind, a.target, who.actor(), f"approved request {approval_id}")
            return result(j, [ev], d.executors.execute(j, self._snap(), ctx, grant))

        return self.d.on_worker(run)

    def deny(self, approval_id: str, who: Peer, reason: str) -> ActResult:
        def run() -> ActResult:
            j, _ = self._held(approval_id)
            ev = self.d.audit.event(j.action.kind, j.action.target, who.actor(), f"denied: {reason}")
            return result(j.model_copy(update={"verdict": "deny"}), [ev])

        return self.d.on_worker(run)

    def set_autonomy(self, mode: Mode, until: datetime | None, who: Peer) -> AutonomyState:
        def run() -> AutonomyState:
            d = self.d
            if until is not None and until <= d.audit.clock():
                # It would end at the next tick, leaving the old mode back as if nothing was asked.
                raise RequestError("bad_request", f"until {stamp(until)} is already past")
            d.executors.mode, d.mode_until = mode, until
            d.audit.event("autonomy", mode, who.actor(), f"until {stamp(until)}" if until else "")
            return AutonomyState(mode=mode, until=until, set_by=who.actor(), set_at=d.audit.clock())

        return self.d.on_worker(run)

    def submit(self, job: JobSpec, who: Peer) -> Job:
        raise RequestError("refused", "job submission through llmosd is not supported yet")

    def cancel(self, job_id: str, who: Peer) -> ActResult:
        """Stop a job the daemon sees, as the catalog's job.stop: judged, run and audited like any change."""
        if not any(j.id == job_id for j in self._snap().jobs):
            raise RequestError("not_found", f"no job {job_id}")
        return self.act(make_action("job.stop", job_id), who, f"cancel {job_id}")
