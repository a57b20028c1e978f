"""The live snapshot: what the collectors read now, in the scenario form `llmosd replay` reads.

`GpuSource` hides where GPUs come from (real NVML, a simulated timeline, or
none at all); `changed` says what happened between two snapshots, which is
what makes the daemon decide before its regular interval.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple, Protocol

from llmosd.audit import AuditLog
from llmosd.config import Config
from llmosd.contract import Gpu, Job, Service, Snapshot, Update
from llmosd.errors import CollectorError, ExecutorError
from llmosd.executors import Executors, runner
from llmosd.executors.jobs import Placement
from llmosd.policy import Policy, load_policy
from llmosd.telemetry.gpu import GpuCollector
from llmosd.telemetry.host import HostCollector
from llmosd.telemetry.kmsg import open_kernel_log
from llmosd.telemetry.nvml import Nvml
from llmosd.telemetry.services import ServiceCollector
from llmosd.telemetry.simulate import Simulator, load_timeline

log = logging.getLogger(__name__)
NO_NVML = "no NVML on this machine: running with host and services only"


class GpuSource(Protocol):
    simulated: bool
    description: str

    def read(self) -> tuple[list[Gpu], list[Job]]: ...
    def close(self) -> None: ...


class NoGpus:
    simulated, description = False, "NO NVML (host and services only)"

    def read(self) -> tuple[list[Gpu], list[Job]]:
        return [], []

    def close(self) -> None:
        pass


class RealGpus:
    simulated = False

    def __init__(self, nvml: Nvml, collector: GpuCollector):
        self.nvml, self.collector = nvml, collector
        self.description = f"REAL NVML with {nvml.count()} GPUs"

    def read(self) -> tuple[list[Gpu], list[Job]]:
        return self.collector.collect(), []  # jobs: llmosd does not run a scheduler of its own yet

    def close(self) -> None:
        self.collector.close()
        self.nvml.close()


class SimulatedGpus:
    simulated = True

    def __init__(
        self, path: Path, start: datetime, clock: Callable[[], float] = time.monotonic, at: float = 0.0
    ):  # fmt: skip
        self.sim = Simulator(load_timeline(path), start, source=str(path))
        self.clock, self.t0 = clock, clock() - at
        n = self.sim.timeline.gpus.count
        self.description = f"SIMULATED from {path} ({n} GPUs, t=0 at {start.isoformat()})"

    def elapsed(self) -> float:
        return self.clock() - self.t0

    def read(self) -> tuple[list[Gpu], list[Job]]:
        return self.sim.gpus(self.elapsed()), self.sim.jobs()

    def close(self) -> None:
        pass


def open_gpus(simulate: Path | None, xid_window: timedelta) -> GpuSource:
    """The simulator if asked for, else real NVML, else no GPUs (said once in the log)."""
    if simulate is not None:
        return SimulatedGpus(simulate, datetime.now(UTC))
    try:
        nv = Nvml()
    except CollectorError as e:
        log.warning("%s (%s)", NO_NVML, e)
        return NoGpus()
    # Xids also come from the kernel log: NVML's event set misses those raised while nobody listened.
    collector = GpuCollector(nv, xid_window=xid_window, kernel_log=open_kernel_log(runner.run))
    collector.start()
    return RealGpus(nv, collector)


@dataclass
class Builder:
    """Reads the machine and assembles one `Snapshot`; keep one alive (collectors hold rates and history)."""

    gpus: GpuSource
    host: HostCollector
    services: ServiceCollector
    units: list[str]
    executors: Executors | None = None
    audit: AuditLog | None = None
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    updates: list[Update] | None = None  # refreshed rarely (apt-get -s is slow): see refresh_updates

    def refresh_updates(self) -> None:
        if self.executors is None:
            return
        try:
            self.updates = self.executors.updates.pending()
        except ExecutorError as e:
            if self.updates is None:
                log.info("pending updates unknown: %s", e)
            self.updates = []

    def build(self, policy: Policy, source: str | None = None) -> Snapshot:
        """`source`: how replay finds the policy again (a name or a YAML path); default its name."""
        now = self.clock()
        host = self.host.collect()
        host.in_maintenance_window = policy.updates.window.contains(now.astimezone())
        gpus, jobs = self.gpus.read()
        drained = self.executors.drained if self.executors else set()
        for g in gpus:
            g.drained = g.index in drained
        services: list[Service] = self.services.collect(self.units) if self.units else []
        deferred = self.executors.updates.deferred() if self.executors else {}
        updates = [u for u in self.updates or [] if u.package not in deferred]
        history = self.audit.history(now - timedelta(days=1)) if self.audit else []
        tag = "sim" if self.gpus.simulated else host.hostname
        return Snapshot(
            id=f"{tag}-{now:%Y%m%dT%H%M%S}", now=now, policy=source or policy.name, host=host, gpus=gpus,
            services=services, jobs=jobs, updates=updates, history=history, simulated=self.gpus.simulated,
        )  # fmt: skip

    def close(self) -> None:
        self.gpus.close()


# ---------------------------------------------------------------- what changed


class Change(NamedTuple):
    target: str  # gpu:N, a unit, a job id, a mount; "" for the host as a whole
    what: str


def _gpu_events(a: Gpu | None, b: Gpu) -> list[Change]:
    t = f"gpu:{b.index}"
    old_xids = {(e.xid, e.at) for e in a.xid_events} if a else set()
    out = [Change(t, f"xid {e.xid} on {t}") for e in b.xid_events if (e.xid, e.at) not in old_xids]
    if b.error and (a is None or a.error != b.error):
        out.append(Change(t, f"error on {t}: {b.error}"))
    new_reasons = set(b.throttle_reasons) - set(a.throttle_reasons if a else [])
    out += [Change(t, f"throttle {r} on {t}") for r in sorted(new_reasons)]
    if b.ecc_uncorrected > (a.ecc_uncorrected if a else 0):
        out.append(Change(t, f"uncorrected ECC on {t}: {b.ecc_uncorrected}"))
    pending = b.retired_pages_pending or b.remap_pending
    if pending and not (a and (a.retired_pages_pending or a.remap_pending)):
        out.append(Change(t, f"page retirement pending on {t}"))
    return out


def _idle(job: Job, snap: Snapshot, policy: Policy) -> bool:
    gpus = [g for i in job.gpus if (g := snap.gpu(i))]
    return bool(gpus) and all((g.util_percent or 0) <= policy.jobs.idle_util_percent for g in gpus)


def changed(prev: Snapshot | None, cur: Snapshot, policy: Policy) -> list[Change]:
    """What happened between `prev` and `cur` that may call for a decision; empty when nothing did."""
    if prev is None:
        return [Change("", "first snapshot")]
    out: list[Change] = []
    for g in cur.gpus:
        out += _gpu_events(prev.gpu(g.index), g)
    out += [
        Change(f"gpu:{g.index}", f"gpu:{g.index} disappeared") for g in prev.gpus if cur.gpu(g.index) is None
    ]
    for s in cur.services:
        p = prev.service(s.unit)
        if s.state == "failed" and (p is None or p.state != "failed"):
            out.append(Change(s.unit, f"service {s.unit} failed"))
        if p is not None and s.restarts_10m > p.restarts_10m:
            out.append(Change(s.unit, f"service {s.unit} restarted"))
    for j in cur.jobs:
        was = prev.job(j.id)
        if was is None:
            out.append(Change(j.id, f"job {j.id} appeared ({j.state})"))
        elif was.state != j.state:
            out.append(Change(j.id, f"job {j.id} {was.state} -> {j.state}"))
        elif j.state == "running" and _idle(j, cur, policy) and not _idle(was, prev, policy):
            out.append(Change(j.id, f"job {j.id} went idle"))
    full = policy.disks.full_percent
    for d in cur.host.disks:
        before = next((x for x in prev.host.disks if x.mount == d.mount), None)
        if d.used_percent >= full and (before is None or before.used_percent < full):
            out.append(Change(d.mount, f"disk {d.mount} passed {full:.0f}%"))
    if cur.host.in_maintenance_window != prev.host.in_maintenance_window:
        out.append(
            Change("", "maintenance window " + ("opened" if cur.host.in_maintenance_window else "closed"))
        )
    return out


def print_snapshot(cfg: Config, at: float = 0.0) -> str:
    """One live snapshot as scenario JSON (`--simulate`: `at` seconds into the timeline); changes nothing."""
    policy = load_policy(cfg.policy)
    now = datetime.now(UTC)
    gpus = (
        SimulatedGpus(cfg.simulate, now - timedelta(seconds=at), at=at)
        if cfg.simulate
        else open_gpus(None, policy.gpu.xid_window)
    )
    audit_db = cfg.state_dir / "audit.db"
    audit = AuditLog(audit_db, create=False) if audit_db.is_file() else None
    b = Builder(
        gpus=gpus,
        host=HostCollector(full_percent=policy.disks.full_percent),
        services=ServiceCollector(),
        units=list(cfg.units),
        audit=audit,
    )
    try:
        snap = b.build(policy, cfg.policy)
        placement = cfg.state_dir / "placement.json"
        drained = Placement(placement).drained if placement.is_file() else set()
        for g in snap.gpus:
            g.drained = g.index in drained
    finally:
        b.close()
        if audit:
            audit.close()
    return snap.model_dump_json(by_alias=True, exclude_none=True, indent=2)
