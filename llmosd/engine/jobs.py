"""Job incidents: failed jobs, jobs hit by GPU errors, idle jobs holding GPUs,
orphan processes, and placing queued jobs on free GPUs (CONTRACT §5, Jobs and
Scheduling)."""

from __future__ import annotations

from llmosd.contract import Gpu, GpuProcess, Job, Snapshot, make_action, subject_tag
from llmosd.engine.candidates import Incident, Option, done_before, each, notify, read_text
from llmosd.engine.textclass import TextJudge
from llmosd.guard import gpu_fault
from llmosd.policy import Policy


def _xids_on(job: Job, snap: Snapshot, policy: Policy) -> set[int]:
    """Xids seen on the job's GPUs in the policy window, and not before the job started."""
    since = snap.now - policy.gpu.xid_window
    started = job.started_at
    return {
        e.xid
        for i in job.gpus
        if (g := snap.gpu(i))
        for e in g.xid_events
        if e.at is None or (e.at >= since and (started is None or e.at >= started))
    }


def _handled(job: Job, snap: Snapshot) -> bool:
    """Whether an earlier decision already answered this job's failure."""
    return done_before(snap, "job.requeue", job.id, job.finished_at) or any(
        h.action.kind == "notify" and subject_tag(job.id) in str(h.action.params.get("message", ""))
        for h in snap.history
    )


def job_incidents(snap: Snapshot, policy: Policy, judge: TextJudge) -> list[Incident]:
    return each(snap.jobs, lambda job: _job(job, snap, policy, judge))


def _job(job: Job, snap: Snapshot, policy: Policy, judge: TextJudge) -> list[Incident]:
    xids = _xids_on(job, snap, policy)
    if job.state == "failed" and not _handled(job, snap):
        return [_failed(job, xids, snap, policy, judge)]
    if job.state != "running":
        return []
    if xids & set(policy.gpu.xid_contained):
        requeue = Option([make_action("job.requeue", job.id)], "a contained memory error", "requeue it")
        return [Incident(55, job.id, f"job {job.id} was hit by a contained ECC error (Xid 94)", [requeue])]
    if _idle(job, snap, policy) and not done_before(
        snap, "notify", job.user, snap.now - policy.jobs.idle_for
    ):
        msg = f"job {job.id} has used no GPU for {policy.jobs.idle_for} while holding GPU memory"
        tell = Option([notify(job.user or "admin", job.id, msg)], "an idle job holds GPUs",
                      f"tell its owner {job.user}; never kill it")  # fmt: skip
        return [Incident(40, job.id, msg, [tell])]
    return []


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
    tell = Option([notify(owner, job.id, f"job {job.id} failed (exit {job.exit_code})")],
                  "a bug or a limit in the job's own code", f"tell its owner {owner}")  # fmt: skip
    retry_left = job.retries < policy.jobs.max_retries
    summary = f"job {job.id} of {owner} failed (exit {job.exit_code}, {job.retries} retries)"
    gpu_side = sorted(xids & set(policy.gpu.xid_contained + policy.gpu.xid_hardware))
    if gpu_side:
        summary += f" after GPU Xid {gpu_side}, not the job's fault"
        return Incident(50, job.id, summary, [requeue if retry_left else tell])
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
    procs = [(g, p) for g in snap.gpus for p in g.processes]
    return each(procs, lambda gp: _orphan(gp[0], gp[1], snap, policy))


def _orphan(g: Gpu, p: GpuProcess, snap: Snapshot, policy: Policy) -> list[Incident]:
    job = snap.job(p.job) if p.job else None
    # Processes outside any job are left alone, and root's are never ours to kill.
    if job is None or job.state not in ("finished", "failed") or p.user == "root":
        return []
    if job.finished_at is not None and snap.now - job.finished_at < policy.jobs.orphan_after:
        return []
    kill = Option([make_action("process.kill", f"pid:{p.pid}", signal="SIGTERM")],
                  "an orphan process holds a GPU", "stop it with SIGTERM")  # fmt: skip
    summary = f"pid {p.pid} of {p.user} on gpu:{g.index} outlived its job {job.id} ({job.state})"
    return [Incident(45, f"pid:{p.pid}", summary, [kill])]


def queue_incidents(snap: Snapshot, policy: Policy) -> list[Incident]:
    """Queued jobs by priority, then submit time, on whole free GPUs; a job that does not fit waits."""
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

    def place(job: Job) -> list[Incident]:
        nonlocal free
        fits = [g for g in free if g.mem_total_mib is None or g.mem_total_mib >= job.mem_mib_wanted]
        if job.gpus_wanted < 1 or len(fits) < job.gpus_wanted:
            return []
        chosen = [g.index for g in fits[: job.gpus_wanted]]
        start = Option([make_action("job.start", job.id, gpus=chosen)], "a queued job fits",
                       f"start it on GPUs {chosen}")  # fmt: skip
        free = [g for g in free if g.index not in chosen]
        return [
            Incident(
                20, job.id, f"job {job.id} ({job.priority}) is queued and GPUs {chosen} are free", [start]
            )
        ]

    return each(queued, place)
