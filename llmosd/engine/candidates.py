"""Incidents in a snapshot, and the options the policy leaves for each.

Structured facts (Xid classes, restart counts, ECC state, heat, disks, jobs,
windows, queues) are mapped to actions here by the policy's tables: no model
reads a number. Free text (journal and job log tails) is handed to a
`TextJudge`, whose fault class picks among the policy's outcomes. Where the
policy leaves more than one legal option, the incident carries them all with
their trigger descriptions, and the engine lets its judge rank them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from llmosd.contract import Action, Gpu, Service, Snapshot, make_action, subject_tag
from llmosd.engine.textclass import Classified, TextJudge, clip
from llmosd.errors import ContractError
from llmosd.guard import gpu_fault
from llmosd.policy import Policy

T = TypeVar("T")


@dataclass
class Option:
    actions: list[Action]
    trigger: str  # when this option is the right one; ranked against the evidence
    says: str  # what it does, for the rationale


@dataclass
class Incident:
    severity: int
    subject: str
    summary: str
    options: list[Option]
    text: list[str] = field(default_factory=list)
    classified: Classified | None = None

    @property
    def tie(self) -> bool:
        return len(self.options) > 1


def _quote(line: str, limit: int = 120) -> str:
    line = line.strip()
    return '"' + (line if len(line) <= limit else line[: limit - 1] + "…") + '"'


def read_text(lines: list[str], judge: TextJudge, policy: Policy, context: str) -> tuple[Classified, str]:
    """Classify untrusted text; the sentence for the rationale comes from the policy, never from the text."""
    c = judge.classify(clip(lines), policy, context)
    evidence = f" ({_quote(c.evidence)})" if c.evidence else ""
    return c, f"{policy.fault_classes[c.fault_class].description}{evidence}"


def done_before(snap: Snapshot, kind: str, target: str, since: datetime | None = None) -> bool:
    return any(
        h.action.kind == kind and h.action.target == target and (since is None or h.at >= since)
        for h in snap.history
    )


def notify(who: str, about: str, message: str) -> Action:
    return make_action("notify", who, message=f"{subject_tag(about)} {message}")


def each(items: Iterable[T], build: Callable[[T], Iterable[Incident]]) -> list[Incident]:
    """Incidents item by item. An item whose names are not legal targets (a hostile unit
    name or job id in the snapshot) is reported to an admin; the other items are still decided."""
    out: list[Incident] = []
    for item in items:
        try:
            out.extend(build(item))
        except ContractError as e:
            msg = f"cannot act on a malformed snapshot entry: {e}"[:400]
            tell = Option([notify("admin", "snapshot", msg)], "malformed telemetry", "notify an admin")
            out.append(Incident(90, "snapshot", msg, [tell]))
    return out


# ------------------------------------------------------------------ GPUs


def gpu_incidents(snap: Snapshot, policy: Policy) -> list[Incident]:
    return each(snap.gpus, lambda g: _gpu(g, snap, policy))


def _gpu(g: Gpu, snap: Snapshot, policy: Policy) -> list[Incident]:
    fault = gpu_fault(g, policy, snap.now)
    if fault:
        return [_hardware(g, fault, snap, policy)]
    if any(r in policy.gpu.thermal_reasons for r in g.throttle_reasons) and g.power_limit_w:
        step = g.power_limit_w * (1 - policy.gpu.power_step_percent / 100)
        floor = g.power_limit_min_w or g.power_limit_w * policy.gpu.power_floor_percent / 100
        watts = float(round(max(step, floor)))
        act = make_action("gpu.set_power_limit", f"gpu:{g.index}", watts=watts)
        says = f"lower its power cap to {watts:.0f} W"
        summary = f"gpu:{g.index} is in hardware thermal slowdown at {g.temp_c} °C"
        return [Incident(60, f"gpu:{g.index}", summary, [Option([act], "the GPU overheats", says)])]
    return []


def _hardware(g: Gpu, fault: str, snap: Snapshot, policy: Policy) -> Incident:
    target = f"gpu:{g.index}"
    recent = {e.xid for e in g.xid_events if e.at is None or snap.now - e.at <= policy.gpu.xid_window}
    acts, says = [], []
    if not g.drained:
        acts.append(make_action("gpu.drain", target))
        says.append("drain it")
    # A reset needs an idle GPU that still answers; one reset per window is enough.
    if (
        not g.processes
        and not g.error
        and not done_before(snap, "gpu.reset", target, snap.now - policy.gpu.xid_window)
    ):
        acts.append(make_action("gpu.reset", target))
        says.append("reset it (no process on it)")
    if recent & set(policy.gpu.xid_notify_admin) or g.error:
        acts.append(notify("admin", target, f"{target} needs a person: {fault}"))
        says.append("ask an admin to inspect it")
    elif g.processes and g.drained:
        says.append("wait for its processes to end before a reset")
    severity = 110 if acts and acts[-1].kind == "notify" else 100
    return Incident(
        severity,
        target,
        f"{target} has {fault}",
        [Option(acts, "the GPU hardware is faulty", ", ".join(says) or "nothing more to do yet")],
    )


# ------------------------------------------------------------------ services


def _recently_updated(s: Service, snap: Snapshot, policy: Policy) -> bool:
    since = snap.now - policy.services.rollback_within
    if s.updated_at is not None and s.updated_at >= since:
        return True
    stem = s.unit.rsplit(".", 1)[0]
    return any(
        h.action.kind == "update.apply" and h.action.target in (stem, "all") and h.at >= since
        for h in snap.history
    )


def service_incidents(snap: Snapshot, policy: Policy, judge: TextJudge) -> list[Incident]:
    return each((s for s in snap.services if s.state == "failed"), lambda s: _service(s, snap, policy, judge))


def _service(s: Service, snap: Snapshot, policy: Policy, judge: TextJudge) -> list[Incident]:
    loop = policy.services.crash_loop
    restarts = max(
        s.restarts_10m,
        sum(
            1
            for h in snap.history
            if h.action.kind == "service.restart"
            and h.action.target == s.unit
            and h.at >= snap.now - loop.window
        ),
    )
    summary = f"{s.unit} failed (exit {s.exit_status}, {restarts} restarts in the crash-loop window)"
    if restarts >= loop.count:
        msg = f"{s.unit} is crash-looping: {restarts} restarts; automatic restarts stopped"
        stop = Option(
            [notify("admin", s.unit, msg)],
            "the unit keeps crashing",
            "stop restarting it and notify an admin",
        )
        return [Incident(80, s.unit, summary, [stop])]
    c, read = read_text(s.journal_tail, judge, policy, "service")
    restart = Option(
        [make_action("service.restart", s.unit)], "a passing fault that a fresh start fixes", "restart it"
    )
    rollback = Option(
        [make_action("service.rollback", s.unit)],
        "the new release is broken and the previous one worked",
        "roll it back to its previous release",
    )
    tell_admin = Option(
        [
            notify(
                "admin",
                s.unit,
                f"{s.unit} failed: {c.fault_class.replace('_', ' ')}; a restart cannot fix it",
            )
        ],
        "a fault in configuration or environment that a restart cannot fix",
        "leave it stopped and notify an admin",
    )
    outcome = policy.fault_classes[c.fault_class].service
    updated = _recently_updated(s, snap, policy)
    if outcome == "notify_admin":
        options = [tell_admin]
    elif outcome == "rollback_if_updated":
        options = [rollback] if updated else [tell_admin]
    elif updated and c.fault_class in ("unknown", "job_bug"):
        options = [rollback, restart]  # a new release and an unexplained failure: let the judge weigh
    else:
        options = [restart]
    summary += f"; {read}" + ("; it was updated within the hour" if updated else "")
    return [Incident(80, s.unit, summary, options, s.journal_tail, c)]
