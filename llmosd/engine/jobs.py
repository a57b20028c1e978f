"""Job incidents: failed jobs, jobs hit by GPU errors, idle jobs holding GPUs,
orphan processes, and placing queued jobs on free GPUs (CONTRACT §5, Jobs and
Scheduling)."""

from __future__ import annotations

from llmosd.contract import Job, Snapshot, make_action
from llmosd.engine.candidates import Incident, Option, done_before, notify, read_text
from llmosd.engine.textclass import TextJudge
from llmosd.guard import gpu_fault
from llmosd.policy import Policy


def _xids_on(job: Job, snap: Snapshot, policy: Policy) -> set[int]:
    since = snap.now - policy.gpu.xid_window
    return {
        e.xid
        for i in job.gpus
        if (g := snap.gpu(i))
        for e in g.xid_events
        if (e.at is None or e.at >= since)
        and (job.started_at is None or e.at is None or e.at >= job.started_at)
    }


def job_incidents(snap: Snapshot, policy: Policy, judge: TextJudge) -> list[Incident]:
    out = []
    for job in snap.jobs:
        xids = _xids_on(job, snap, policy)
        handled = done_before(snap, "job.requeue", job.id, job.finished_at) or any(
            h.action.kind == "notify" and f"[{job.id}]" in str(h.action.params.get("message", ""))
            for h in snap.history
        )
        if job.state == "failed" and not handled:
            out.append(_failed(job, xids, snap, policy, judge))
        elif job.state == "running" and xids & set(policy.gpu.xid_contained):
            out.append(
                Incident(
                    55,
                    job.id,
                    f"job {job.id} was hit by a contained ECC error (Xid 94)",
                    [Option([make_action("job.requeue", job.id)], "a contained memory error", "requeue it")],
                )
            )
        elif (
            job.state == "running"
            and _idle(job, snap, policy)
            and not done_before(snap, "notify", job.user, snap.now - policy.jobs.idle_for)
        ):
            msg = f"job {job.id} has used no GPU for {policy.jobs.idle_for} while holding GPU memory"
            out.append(
                Incident(
                    40,
                    job.id,
                    msg,
                    [
                        Option(
                            [notify(job.user or "admin", job.id, msg)],
                            "an idle job holds GPUs",
                            f"tell its owner {job.user}; never kill it",
                        )
                    ],
                )
            )
    return out


def _idle(job: Job, snap: Snapshot, policy: Policy) -> bool:
    if job.started_at is None or snap.now - job.started_at < policy.jobs.idle_for:
        return False
    limit = policy.jobs.idle_util_percent
    gpus = [g for i in job.gpus if (g := snap.gpu(i))]
    holds = any(p.job == job.id and p.mem_mib > 0 for g in gpus for p in g.processes)
    return (job.gpu_util_avg_1h or 0) <= limit and all((g.util_percent or 0) <= limit for g in gpus) and holds


def _failed(job: Job, xids: set[int], snap: Snapshot, policy: Policy, judge: TextJudge) -> Incident:
    owner = job.user or "admin"
    requeue = Option(
        [make_action("job.requeue", job.id)], "a passing fault outside the job's code", "requeue it"
    )
    tell = Option(
        [notify(owner, job.id, f"job {job.id} failed (exit {job.exit_code})")],
        "a bug or a limit in the job's own code",
        f"tell its owner {owner}",
    )
    retry_left = job.retries < policy.jobs.max_retries
    summary = f"job {job.id} of {owner} failed (exit {job.exit_code}, {job.retries} retries)"
    if xids & set(policy.gpu.xid_contained + policy.gpu.xid_hardware):
        x = sorted(xids & set(policy.gpu.xid_contained + policy.gpu.xid_hardware))
        return Incident(
            50, job.id, f"{summary} after GPU Xid {x}, not the job's fault", [requeue if retry_left else tell]
        )
    c, read = read_text(job.log_tail, judge, policy, "job")
    app = sorted(xids & set(policy.gpu.xid_application))
    if app:
        summary += f" with application Xid {app} (the GPU is fine)"
    outcome = policy.fault_classes[c.fault_class].job
    if outcome == "requeue" and retry_left:
        options = [requeue]
    elif c.fault_class == "unknown" and retry_left and not app:
        options = [tell, requeue]  # nothing explains it: the judge weighs the text
    else:
        options = [tell]
    return Incident(50, job.id, f"{summary}; {read}", options, job.log_tail, c)


def orphan_incidents(snap: Snapshot, policy: Policy) -> list[Incident]:
    out = []
    for g in snap.gpus:
        for p in g.processes:
            job = snap.job(p.job) if p.job else None
            end = job.finished_at if job else None
            if job is None or job.state not in ("finished", "failed") or p.user == "root":
                continue  # processes outside any job are left alone
            if end is not None and snap.now - end < policy.jobs.orphan_after:
                continue
            out.append(
                Incident(
                    45,
                    f"pid:{p.pid}",
                    f"pid {p.pid} of {p.user} outlived its job {job.id} ({job.state})",
                    [
                        Option(
                            [make_action("process.kill", f"pid:{p.pid}", signal="SIGTERM")],
                            "an orphan process holds a GPU",
                            "stop it with SIGTERM",
                        )
                    ],
                )
            )
    return out


def queue_incidents(snap: Snapshot, policy: Policy) -> list[Incident]:
    busy = {i for j in snap.jobs if j.state == "running" for i in j.gpus}
    free = [
        g
        for g in sorted(snap.gpus, key=lambda g: g.index)
        if not g.processes and not g.drained and g.index not in busy and not gpu_fault(g, policy, snap.now)
    ]
    queued = sorted(
        (j for j in snap.jobs if j.state == "queued"),
        key=lambda j: (policy.jobs.rank(j.priority), j.submitted_at or snap.now, j.id),
    )
    out = []
    for job in queued:
        fits = [g for g in free if g.mem_total_mib is None or g.mem_total_mib >= job.mem_mib_wanted]
        if job.gpus_wanted < 1 or len(fits) < job.gpus_wanted:
            continue  # a job that does not fit waits
        chosen = [g.index for g in fits[: job.gpus_wanted]]
        free = [g for g in free if g.index not in chosen]
        out.append(
            Incident(
                20,
                job.id,
                f"job {job.id} ({job.priority}) is queued and GPUs {chosen} are free",
                [
                    Option(
                        [make_action("job.start", job.id, gpus=chosen)],
                        "a queued job fits",
                        f"start it on GPUs {chosen}",
                    )
                ],
            )
        )
    return out
