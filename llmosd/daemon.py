"""`llmosd run`: sample, detect, snapshot, decide, guard, act, audit, on a schedule.

Signal handlers only set flags; the main thread watches them. The scheduler
runs the tick (one at a time; a late tick is coalesced, not queued), the
supervisor, the update check and the nightly retention.
"""

from __future__ import annotations

import hashlib
import logging
import signal
import threading
import time
import types
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler

from llmosd.audit import AuditLog, Context
from llmosd.config import Config, load_config
from llmosd.contract import Decision, Judged, Snapshot
from llmosd.engine.decide import decide, load_engine
from llmosd.errors import ConfigError, LlmosdError
from llmosd.executors import Executors, runner
from llmosd.executors.gpu import NvmlControl
from llmosd.executors.supervise import Supervisor
from llmosd.guard import judge as guard_judge
from llmosd.policy import PolicyHolder
from llmosd.snapshot import Builder, RealGpus, SimulatedGpus, changed, open_gpus
from llmosd.store import Store
from llmosd.telemetry.host import HostCollector
from llmosd.telemetry.services import ServiceCollector

if TYPE_CHECKING:
    from llmosd.server import Server

log = logging.getLogger("llmosd.daemon")
STOP_WITHIN = 5.0  # seconds from SIGTERM to exit
T = TypeVar("T")


def snapshot_hash(snap: Snapshot) -> str:
    return hashlib.sha256(snap.model_dump_json(by_alias=True).encode()).hexdigest()[:16]


@dataclass
class Flags:
    """Set by signal handlers, read by the main thread: nothing else happens in a handler."""

    stop: bool = False
    reload: bool = False

    def on_signal(self, signum: int, frame: types.FrameType | None) -> None:
        if signum == signal.SIGHUP:
            self.reload = True
        else:
            self.stop = True


class Daemon:
    def __init__(self, cfg: Config, config_path: Path | None = None, overrides: dict[str, Any] | None = None):
        self.cfg, self.config_path, self.overrides = cfg, config_path, overrides or {}
        # SQLite connections belong to the thread that opened them: one worker thread opens the
        # databases and runs everything that touches them, which also serialises ticks and admin actions.
        self.worker = ThreadPoolExecutor(1, thread_name_prefix="llmosd-worker")
        self.flags = Flags()
        self.scheduler = BackgroundScheduler(timezone=UTC)
        self.scheduler.add_listener(self._job_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED)
        self.server: Server | None = None
        self.on_worker(self._open)

    def on_worker(self, fn: Callable[..., T], *args: Any) -> T:
        return self.worker.submit(fn, *args).result()

    def _open(self) -> None:
        cfg = self.cfg
        cfg.state_dir.mkdir(parents=True, exist_ok=True)
        self.policies = PolicyHolder(cfg.policy)
        policy = self.policies.policy
        self.audit = AuditLog(cfg.state_dir / "audit.db", mirror=logging.getLogger("llmosd.audit"))
        self.store = Store(cfg.state_dir / "llmosd.db")
        # The model loads first (seconds): a simulated timeline's clock starts when its GPUs are opened,
        # and its first events must not pass while the daemon cannot yet watch them.
        self.judge, self.model_error = load_engine(
            cfg.engine, cfg.model, cfg.device, cfg.int8, cfg.log_tokens
        )
        self.gpus = open_gpus(cfg.simulate, policy.gpu.xid_window)
        self.supervisor = (
            Supervisor(cfg.supervised, audit=self.audit, policy=policy, state_dir=cfg.state_dir / "supervise")
            if cfg.supervised else None
        )  # fmt: skip
        self.executors = self._executors()
        self.builder = Builder(
            gpus=self.gpus,
            host=HostCollector(full_percent=policy.disks.full_percent),
            services=ServiceCollector(supervised=self.supervisor.services if self.supervisor else None),
            units=list(cfg.units) + sorted(cfg.supervised),
            executors=self.executors,
            audit=self.audit,
        )
        self.last: Snapshot | None = None
        self.last_decided = float("-inf")
        self.decisions = 0
        self.held: dict[str, tuple[Judged, Context]] = {}  # approval id (its decision record) -> action
        self.mode_until: datetime | None = None  # an admin's autonomy change ends then

    @property
    def simulated(self) -> bool:
        return isinstance(self.gpus, SimulatedGpus)

    def _executors(self) -> Executors:
        cfg, policy = self.cfg, self.policies.policy
        common: dict[str, Any] = dict(
            audit=self.audit, policy=policy, state_dir=cfg.state_dir, supervisor=self.supervisor
        )
        if isinstance(self.gpus, SimulatedGpus):  # act on the simulation, never on the real host
            sim = self.gpus.sim
            return Executors(
                **common, run=sim.run, send=sim.send, alive=sim.process_alive, nvml=sim, systemd=None
            )
        nvml = NvmlControl(self.gpus.nvml) if isinstance(self.gpus, RealGpus) else None
        return Executors(**common, run=runner.run, nvml=nvml)

    # ------------------------------------------------------------ scheduler jobs

    def _job_event(self, event: JobExecutionEvent) -> None:
        if event.code == EVENT_JOB_MISSED:
            log.warning("job %s missed its run at %s (the previous one ran long)", event.job_id,
                        event.scheduled_run_time)  # fmt: skip
        else:
            log.error("job %s failed: %r", event.job_id, event.exception, exc_info=event.exception)

    def tick(self) -> None:
        if self.flags.stop:
            return
        if self.mode_until is not None and datetime.now(UTC) >= self.mode_until:
            self.executors.mode, self.mode_until = self.policies.policy.autonomy, None
            self.audit.event("autonomy", self.executors.mode, "llmosd", "the admin's time limit ended")
        policy = self.policies.policy
        snap = self.builder.build(policy, self.cfg.policy)
        self.store.sample(snap.now, snap.host, snap.gpus)
        why = changed(self.last, snap, policy)
        for c in why:
            self.store.event(snap.now, "change", c.target, c.what)
        self.last = snap
        due = time.monotonic() - self.last_decided >= self.cfg.decide_every_min * 60
        if why or due:
            self.last_decided = time.monotonic()
            self._decide(snap, [c.what for c in why] or ["periodic"])

    def _decide(self, snap: Snapshot, why: list[str]) -> Decision:
        policy = self.policies.policy
        d = decide(snap, policy, judge=self.judge, history=snap.history, mode=self.executors.mode)
        # The model as it ran (file, hash, adapter, int8), not the config's path, which says
        # nothing of the embedded model and would not change when the file behind it did.
        model = self.judge.model_name if self.judge is not None and d.engine == "llm" else None
        ctx = Context(actor=d.engine, snapshot_hash=snapshot_hash(snap), model=model, rationale=d.rationale)
        self.store.snapshot(snap)
        self.store.decision(datetime.now(UTC), d)  # when it was decided, not when sampled
        self.decisions += 1
        log.info("deciding on %s because: %s", snap.id, "; ".join(why))
        for j in d.actions:
            self._carry_out(j, snap, ctx, d.scenario)
        return d

    def _carry_out(self, j: Judged, snap: Snapshot, ctx: Context, scenario: str, depth: int = 0) -> None:
        seq = self.audit.decision(j, ctx)
        a = j.action
        line = f"decision {scenario}: {' '.join(filter(None, (a.kind, a.target)))} [{j.verdict}]"
        if j.verdict == "deny":
            log.info("%s: %s", line, "; ".join(j.reasons))
            return
        if j.verdict == "approval" and all(h.action.key() != a.key() for h, _ in self.held.values()):
            self.held[str(seq)] = (j, ctx)  # `llmosctl approve <seq>` carries it out
        out = self.executors.execute(j, snap, ctx)
        log.info("%s -> %s: %s", line, out.status, out.detail)
        if out.next_step is not None and depth < 3:  # an escalation ladder's next rung, judged like any plan
            policy, mode = self.policies.policy, self.executors.mode
            for nj in guard_judge([out.next_step], snap, policy, history=snap.history, mode=mode):
                self._carry_out(nj, snap, ctx, scenario, depth + 1)

    def _check_updates(self) -> None:
        # apt-get -s can take a minute: a daemon thread, so that it never holds up a SIGTERM exit.
        threading.Thread(target=self.builder.refresh_updates, name="llmosd-updates", daemon=True).start()

    def retention(self) -> None:
        p = self.store.retention(datetime.now(UTC), self.cfg.retention)
        log.info("retention: %d raw rows to 1-min, %d 1-min rows to 10-min, %d deleted",
                 p.to_minute, p.to_tenmin, p.deleted)  # fmt: skip

    # ------------------------------------------------------------ reload

    def reload(self) -> None:
        """SIGHUP: re-read the config file and the policy; a bad one leaves the old in force."""
        if self.config_path is not None:
            try:
                cfg = load_config(self.config_path, **self.overrides)
            except ConfigError as e:
                log.error("reload: config unchanged: %s", e)
                return
            if cfg.policy != self.cfg.policy:
                self.policies.source = cfg.policy
            if cfg.sample_interval_s != self.cfg.sample_interval_s:
                self.scheduler.reschedule_job("tick", trigger="interval", seconds=cfg.sample_interval_s)
            self.builder.units = list(cfg.units) + sorted(cfg.supervised)
            self.cfg = cfg.model_copy(update={"state_dir": self.cfg.state_dir, "simulate": self.cfg.simulate})
        why = self.policies.reload()
        if why:
            log.error("reload: policy unchanged: %s", why)
            return
        self.executors.set_policy(self.policies.policy)
        policy = self.policies.policy
        log.info("reloaded: policy %s, sampling every %.1f s", policy.name, self.cfg.sample_interval_s)

    # ------------------------------------------------------------ life cycle

    def start(self) -> None:
        log.info("llmosd runs on %s; state in %s", self.gpus.description, self.cfg.state_dir)
        if self.simulated:
            log.warning("SIMULATING: GPU readings and actions are simulated (snapshots say simulated=true)")
        first = self.on_worker(self.builder.build, self.policies.policy, self.cfg.policy)
        done = self.on_worker(self.executors.reconcile, first)
        if done:
            log.info("reconciled %d actions a previous run left without outcome", len(done))
        now = datetime.now(UTC)
        if self.supervisor:
            self.on_worker(self.supervisor.start_all)
            self.scheduler.add_job(
                self.on_worker, "interval", [self.supervisor.tick], seconds=1, id="supervise", coalesce=True
            )
        if not self.simulated:
            self.scheduler.add_job(self._check_updates, "interval", hours=6, id="updates", next_run_time=now)
        self.scheduler.add_job(self.on_worker, "interval", [self.tick], seconds=self.cfg.sample_interval_s,
                               id="tick", coalesce=True, max_instances=1, next_run_time=now)  # fmt: skip
        self.scheduler.add_job(self.on_worker, "cron", [self.retention], hour=3, minute=30, id="retention",
                               coalesce=True)  # fmt: skip
        self.scheduler.start()
        self._serve()

    def _serve(self) -> None:
        from llmosd.daemon_backend import DaemonBackend
        from llmosd.explain import digest
        from llmosd.nl_model import Parser, Summariser
        from llmosd.server import Server, group_roles

        path = self.cfg.socket_path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            roles = group_roles(self.cfg.admin_group, self.cfg.viewer_group)
            # The NL adapter is trained for the embedded model; a configured model still summarises.
            parse = Parser() if self.cfg.model is None else None
            # The embedded model finished none of six demo summaries within their 60 tokens, and
            # echoed the records or mixed up their causes: the records' digest summarises for it.
            summarise = Summariser(self.cfg.model) if self.cfg.model is not None else digest
            self.server = Server(path, DaemonBackend(self), parse=parse, summarise=summarise, roles=roles)
            self.server.start()
        except (OSError, LlmosdError) as e:  # the daemon still does its work; admins lose the socket
            log.error("admin socket %s not available: %s", path, e)
            self.server = None
            return
        log.info("admin socket on %s", path)

    def run(self, seconds: float | None = None) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self.flags.on_signal)
        self.start()
        end = time.monotonic() + seconds if seconds is not None else float("inf")
        try:
            while not self.flags.stop and time.monotonic() < end:
                if self.flags.reload:
                    self.flags.reload = False
                    self.reload()
                time.sleep(0.05)
        finally:
            self.close()
        return 0

    def close(self) -> None:
        t0 = time.monotonic()
        self.flags.stop = True
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self.server is not None:
            self.server.stop()
        # Queued behind a tick in flight, if any: its writes finish first.
        done = self.worker.submit(self._close_resources)
        try:
            done.result(timeout=STOP_WITHIN - 1)
        except FutureTimeout:
            log.error("a tick ran past %.0f s; exiting without closing the databases", STOP_WITHIN - 1)
        self.worker.shutdown(wait=False, cancel_futures=True)
        log.info("stopped after %d decisions (shutdown took %.2f s)", self.decisions, time.monotonic() - t0)

    def _close_resources(self) -> None:
        if self.supervisor:
            self.supervisor.close()
        self.builder.close()
        self.store.close()
        self.audit.close()
