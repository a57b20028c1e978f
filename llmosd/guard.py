"""The guard: every proposed action gets a verdict (`allow`, `deny`,
`approval`) and the reasons for it, from the policy and the snapshot alone.

No model is consulted here, and nothing reaches an executor without passing
through `judge`. Whoever proposed the action (rules, the LLM, an admin's
command) is judged by the same checks; the actions of one plan are judged in
order, so an earlier allowed action counts against rate limits and claims
GPUs for the later ones.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from llmosd.contract import (
    PASSIVE_KINDS,
    Action,
    Gpu,
    HistoryEntry,
    Judged,
    Mode,
    Snapshot,
    Verdict,
)
from llmosd.policy import Policy

Resolve = Callable[[str], str]


@dataclass
class _Check:
    deny: list[str] = field(default_factory=list)
    ask: list[str] = field(default_factory=list)
    ok: list[str] = field(default_factory=list)

    def result(self) -> tuple[Verdict, list[str]]:
        if self.deny:
            return "deny", self.deny
        if self.ask:
            return "approval", self.ask + self.ok
        return "allow", self.ok


@dataclass
class _Plan:
    """What earlier actions of the same plan already did."""

    allowed: list[HistoryEntry] = field(default_factory=list)
    claimed_gpus: set[int] = field(default_factory=set)


def gpu_fault(gpu: Gpu, policy: Policy, now: datetime) -> str | None:
    """Why this GPU must not take work (hardware Xid, ECC, pending retirement, lost), or None."""
    recent = [e.xid for e in gpu.xid_events if e.at is None or now - e.at <= policy.gpu.xid_window]
    hard = sorted({x for x in recent if x in policy.gpu.xid_hardware})
    if hard:
        return f"hardware Xid {', '.join(map(str, hard))} in the last {_span(policy.gpu.xid_window)}"
    if gpu.ecc_uncorrected > 0:
        return f"{gpu.ecc_uncorrected} uncorrected ECC errors"
    if gpu.retired_pages_pending or gpu.remap_pending:
        return "page retirement or row remapping pending"
    if gpu.error:
        return f"unreadable: {gpu.error}"
    return None


def running_jobs(snap: Snapshot) -> list[str]:
    return [j.id for j in snap.jobs if j.state == "running"]


def _span(d: timedelta) -> str:
    s = int(d.total_seconds())
    for unit, n in (("d", 86400), ("h", 3600), ("m", 60)):
        if s % n == 0 and s >= n:
            return f"{s // n}{unit}"
    return f"{s}s"


def disposable_root(path: str, roots: list[str], resolve: Resolve) -> str | None:
    """The disposable root that `path` is or lies inside, after resolving symlinks and `..`."""
    real = resolve(posixpath.normpath(path))
    for root in roots:
        r = resolve(posixpath.normpath(root))
        if real == r or real.startswith(r.rstrip("/") + "/"):
            return root
    return None


def _target_checks(a: Action, snap: Snapshot, policy: Policy, plan: _Plan, resolve: Resolve) -> _Check:
    c = _Check()
    kind, t = a.kind, a.target
    if kind.startswith("service."):
        if snap.service(t) is None:
            c.deny.append(f"{t} is not a unit this host watches")
    elif kind.startswith("job."):
        _job_checks(a, snap, policy, plan, c)
    elif kind.startswith("gpu."):
        _gpu_checks(a, snap, policy, c)
    elif kind == "process.kill":
        _kill_checks(a, snap, c)
    elif kind == "disk.cleanup":
        root = disposable_root(t, policy.disks.disposable, resolve)
        if root is None:
            c.deny.append(f"{t} is not under a disposable path of the policy")
        else:
            c.ok.append(f"{t} lies under disposable {root}")
    elif kind.startswith("update."):
        pending = {u.package for u in snap.updates}
        if not pending or (t != "all" and t not in pending):
            c.deny.append(f"no pending update for {t}")
        elif kind == "update.apply":
            _window_checks(snap, c, "updates")
    elif kind == "host.reboot":
        if t not in ("", snap.host.hostname):
            c.deny.append(f"{t} is not this host ({snap.host.hostname})")
        _window_checks(snap, c, "a reboot")
        busy = [g.index for g in snap.gpus if g.processes]
        if busy:
            c.deny.append(f"processes still run on GPUs {busy}")
    return c


def _window_checks(snap: Snapshot, c: _Check, what: str) -> None:
    if not snap.host.in_maintenance_window:
        c.deny.append(f"outside the maintenance window: {what} must wait")
    jobs = running_jobs(snap)
    if jobs:
        c.deny.append(f"jobs are running ({', '.join(jobs)}): {what} must wait")
    if not c.deny:
        c.ok.append("inside the maintenance window with no running jobs")


def _job_checks(a: Action, snap: Snapshot, policy: Policy, plan: _Plan, c: _Check) -> None:
    job = snap.job(a.target)
    if job is None:
        c.deny.append(f"no job {a.target}")
        return
    if a.kind == "job.stop" and job.state != "running":
        c.deny.append(f"job {job.id} is {job.state}, not running")
    if a.kind == "job.requeue" and job.state not in ("running", "failed"):
        c.deny.append(f"job {job.id} is {job.state}: only running or failed jobs are requeued")
    if a.kind != "job.start":
        return
    if job.state != "queued":
        c.deny.append(f"job {job.id} is {job.state}, not queued")
    gpus: list[int] = list(getattr(a.params, "gpus", []))
    if len(set(gpus)) != len(gpus) or len(gpus) != job.gpus_wanted:
        c.deny.append(f"job {job.id} wants {job.gpus_wanted} distinct GPUs, plan gives {gpus}")
    busy = {i for j in snap.jobs if j.state == "running" for i in j.gpus}
    for i in gpus:
        g = snap.gpu(i)
        why = (
            "does not exist" if g is None
            else "is drained" if g.drained
            else "has processes on it" if g.processes
            else "belongs to a running job" if i in busy
            else "is already given to another job in this plan" if i in plan.claimed_gpus
            else gpu_fault(g, policy, snap.now)
            or (f"has {g.mem_total_mib:.0f} MiB, job wants {job.mem_mib_wanted:.0f}"
                if g.mem_total_mib is not None and g.mem_total_mib < job.mem_mib_wanted else None)
        )  # fmt: skip
        if why:
            c.deny.append(f"gpu:{i} {why}")
    if not c.deny:
        c.ok.append(f"gpus {gpus} are free, healthy and large enough")


def _gpu_checks(a: Action, snap: Snapshot, policy: Policy, c: _Check) -> None:
    g = snap.gpu(a.index())
    if g is None:
        c.deny.append(f"{a.target} does not exist on this host")
        return
    if a.kind == "gpu.drain" and g.drained:
        c.deny.append(f"{a.target} is already drained")
    elif a.kind == "gpu.undrain":
        if not g.drained:
            c.deny.append(f"{a.target} is not drained")
        fault = gpu_fault(g, policy, snap.now)
        if fault:
            c.deny.append(f"{a.target} still has a fault: {fault}")
    elif a.kind == "gpu.reset":
        if g.processes:
            pids = ", ".join(str(p.pid) for p in g.processes)
            c.deny.append(f"{a.target} has processes on it (pid {pids}): never reset a busy GPU")
        jobs = [j.id for j in snap.jobs if j.state == "running" and g.index in j.gpus]
        if jobs:
            c.deny.append(f"{a.target} is assigned to running jobs {jobs}")
    elif a.kind == "gpu.set_power_limit":
        watts = float(getattr(a.params, "watts", 0))
        ceiling = g.power_limit_max_w or g.power_limit_w
        floor = g.power_limit_min_w or (
            (g.power_limit_max_w or g.power_limit_w or 0) * policy.gpu.power_floor_percent / 100
        )
        if ceiling is not None and watts > ceiling:
            c.deny.append(f"{watts:.0f} W is above the GPU's limit of {ceiling:.0f} W")
        if watts < floor:
            c.deny.append(f"{watts:.0f} W is below the floor of {floor:.0f} W")


def _kill_checks(a: Action, snap: Snapshot, c: _Check) -> None:
    pid = a.index()
    found = [(g, p) for g in snap.gpus for p in g.processes if p.pid == pid]
    if not found:
        c.deny.append(f"pid {pid} is not a process this host reports")
        return
    _, proc = found[0]
    if proc.user == "root":
        c.deny.append(f"pid {pid} belongs to root")
    job = snap.job(proc.job) if proc.job else None
    if job is not None and job.state in ("running", "queued"):
        c.deny.append(f"pid {pid} belongs to {job.state} job {job.id}")
    elif job is None:
        c.ask.append(f"pid {pid} ({proc.user}) is outside any job: a person decides")
    else:
        c.ok.append(f"pid {pid} outlived its job {job.id} ({job.state})")


def _rate_checks(a: Action, snap: Snapshot, policy: Policy, history: list[HistoryEntry], c: _Check) -> None:
    if a.kind == "noop":
        return
    for rule in policy.rate_limits:
        if rule.kind not in (a.kind, "*") or (rule.kind == "*" and a.kind in PASSIVE_KINDS):
            continue
        since = snap.now - rule.window
        n = sum(
            1
            for h in history
            if h.at >= since
            and h.outcome not in ("denied", "refused", "failed_precheck")
            and (h.action.kind == a.kind or (rule.kind == "*" and h.action.kind not in PASSIVE_KINDS))
            and (rule.per == "host" or h.action.target == a.target)
        )
        label = a.kind if rule.kind != "*" else "changes"
        scope = f" on {a.target}" if rule.per == "target" else " host-wide"
        if n >= rule.max:
            c.deny.append(f"rate limit: {n} {label}{scope} in {_span(rule.window)} (max {rule.max})")
        else:
            c.ok.append(f"within rate limit {n}/{rule.max} {label}{scope} per {_span(rule.window)}")


def judge(
    actions: list[Action],
    snap: Snapshot,
    policy: Policy,
    *,
    history: list[HistoryEntry] | None = None,
    mode: Mode | None = None,
    confidence: float | None = None,
    resolve: Resolve = os.path.realpath,
) -> list[Judged]:
    """Judge a plan in order. `history` defaults to the snapshot's; `mode` to the policy's autonomy."""
    past = list(snap.history if history is None else history)
    mode = mode or policy.autonomy
    plan = _Plan()
    out: list[Judged] = []
    for a in actions:
        if a.kind == "host.reboot" and not a.target:
            a = a.model_copy(update={"target": snap.host.hostname})
        c = _Check()
        if a.kind not in policy.allowed_kinds:
            c.deny.append(f"{a.kind} is not allowed by policy {policy.name}")
        else:
            c = _target_checks(a, snap, policy, plan, resolve)
        _rate_checks(a, snap, policy, past + plan.allowed, c)
        if a.kind not in PASSIVE_KINDS:
            if mode == "observe":
                c.deny.append("observe mode: decided and logged, not acted on")
            elif mode == "supervised":
                c.ask.append("supervised mode: every change waits for a person")
            if a.kind in policy.approval.kinds:
                c.ask.append(f"{a.kind} always needs a person's approval")
            if confidence is not None and confidence < policy.approval.min_confidence:
                c.ask.append(
                    f"engine confidence {confidence:.2f} is below {policy.approval.min_confidence:.2f}"
                )
        verdict, reasons = c.result()
        out.append(Judged(action=a, verdict=verdict, reasons=reasons or [f"{a.kind} allowed"]))
        if verdict != "deny":
            plan.allowed.append(HistoryEntry(at=snap.now, action={"kind": a.kind, "target": a.target}))
            plan.claimed_gpus.update(getattr(a.params, "gpus", []))
    return out
