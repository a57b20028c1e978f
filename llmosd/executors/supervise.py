"""Services that llmosd runs itself where there is no systemd.

A supervised service is meant to run for ever: whenever it exits it is
started again after a back-off that doubles with each exit, until it has
exited `policy.services.crash_loop.count` times within the window; then it
is left `failed` for the decision engine (which notifies a person). Every
exit, restart and surrender is written to the audit log. The daemon calls
`tick()` about once a second; nothing here runs in a thread.
"""

from __future__ import annotations

import signal
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from llmosd.audit import AuditLog, utcnow
from llmosd.contract import Service
from llmosd.errors import ExecutorError
from llmosd.executors import runner
from llmosd.executors.runner import Child, Run, Spawn
from llmosd.executors.state import StateFile
from llmosd.policy import Policy

ACTOR = "rules"  # the supervisor's restarts are built-in rules, not an engine's or a person's choice


class HealthSpec(BaseModel):
    """How to tell that a (re)started service works: a command that exits 0, or a URL answering 2xx."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    command: list[str] | None = Field(default=None, min_length=1)
    url: str | None = Field(default=None, pattern=r"^https?://")
    timeout: float = Field(default=30.0, gt=0)  # how long a fresh start may take to become healthy
    interval: float = Field(default=0.5, gt=0)


class ServiceSpec(BaseModel):
    """One `[services."name.service"]` table of the daemon's config."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    command: list[str] = Field(min_length=1)
    user: str | None = None
    environment: dict[str, str] = Field(default_factory=dict)
    workdir: str | None = None
    backoff: float = Field(default=1.0, gt=0)
    backoff_max: float = Field(default=60.0, gt=0)
    stop_timeout: float = Field(default=10.0, gt=0)
    health: HealthSpec | None = None


def probe(h: HealthSpec, run: Run) -> tuple[bool, str]:
    if h.command:
        r = run(h.command, timeout=h.timeout)
        return r.ok, r.why()
    if h.url:
        try:
            with urllib.request.urlopen(h.url, timeout=min(h.timeout, 5.0)) as resp:
                return 200 <= resp.status < 300, f"{h.url}: HTTP {resp.status}"
        except (urllib.error.URLError, OSError) as e:
            return False, f"{h.url}: {getattr(e, 'reason', e)}"
    return True, "no health check configured"


def wait_healthy(
    h: HealthSpec, run: Run, alive: Callable[[], bool], *,
    clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
) -> tuple[bool, str]:  # fmt: skip
    """Probe until healthy or `h.timeout` passes; a service that dies meanwhile fails at once."""
    deadline, why = clock() + h.timeout, "not probed"
    while True:
        if not alive():
            return False, "the service exited during its health check"
        try:
            ok, why = probe(h, run)
        except ExecutorError as e:
            ok, why = False, str(e)
        if ok:
            return True, why
        if clock() >= deadline:
            return False, f"unhealthy after {h.timeout:g} s: {why}"
        sleep(h.interval)


@dataclass
class _Unit:
    spec: ServiceSpec
    child: Child | None = None
    state: str = "inactive"  # active | activating (waiting out a back-off) | inactive | failed
    wanted: bool = False
    exits: deque[float] = field(default_factory=deque)  # clock times of exits while wanted
    restarts: deque[float] = field(default_factory=deque)
    next_start: float = 0.0
    exit_status: int | None = None
    since: datetime | None = None  # wall time of the last start


class Supervisor:
    def __init__(
        self, specs: dict[str, ServiceSpec], *, audit: AuditLog, policy: Policy, state_dir: Path,
        spawn: Spawn = runner.spawn, run: Run = runner.run, clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = utcnow,
    ):  # fmt: skip
        self.units = {name: _Unit(spec) for name, spec in specs.items()}
        self.audit, self.policy, self.spawn, self.run = audit, policy, spawn, run
        self.clock, self.wall = clock, wall
        self.dir = state_dir / "services"
        self.pids = StateFile(self.dir / "pids.json")

    def __contains__(self, unit: str) -> bool:
        return unit in self.units

    def _unit(self, name: str) -> _Unit:
        if name not in self.units:
            raise ExecutorError(f"{name} is not a supervised service")
        return self.units[name]

    def log_path(self, name: str) -> Path:
        return self.dir / f"{name}.log"

    def _save_pids(self) -> None:
        live = {n: u.child.pid for n, u in self.units.items() if u.child is not None}
        self.pids.save({
            n: {"pid": pid, "created": created} for n, pid in live.items()
            if (created := runner.created_at(pid)) is not None
        })  # fmt: skip

    # ------------------------------------------------------------ control

    def start_all(self) -> None:
        """Start every service, adopting those an earlier daemon left running (it was killed)."""
        left = self.pids.load()
        for name, u in self.units.items():
            rec = left.get(name)
            child = runner.adopt(int(rec["pid"]), float(rec["created"])) if isinstance(rec, dict) else None
            if child is not None:
                u.child, u.state, u.wanted, u.since = child, "active", True, self.wall()
                self.audit.event("supervisor.adopt", name, ACTOR, f"still running as pid {child.pid}")
            else:
                self.start(name)
                self.audit.event("supervisor.start", name, ACTOR, f"started as pid {self._pid(name)}", "ok")
        self._save_pids()

    def _pid(self, name: str) -> int | str:
        child = self.units[name].child
        return child.pid if child else "?"

    def start(self, name: str) -> None:
        u = self._unit(name)
        u.wanted = True
        if u.child is not None and u.child.poll() is None:
            return
        spec = u.spec
        u.child = self.spawn(
            spec.command, log=self.log_path(name), env=spec.environment, user=spec.user, cwd=spec.workdir
        )
        u.state, u.since, u.exit_status = "active", self.wall(), None
        self._save_pids()

    def stop(self, name: str) -> None:
        u = self._unit(name)
        u.wanted = False
        child, u.child = u.child, None
        if child is not None:
            child.signal(signal.SIGTERM)
            if child.wait(u.spec.stop_timeout) is None:
                child.signal(signal.SIGKILL)
                child.wait(5.0)
            u.exit_status = child.poll()
        u.state = "inactive"
        self._save_pids()

    def restart(self, name: str) -> None:
        self.stop(name)
        self.start(name)

    def close(self) -> None:
        for name in self.units:
            self.stop(name)

    # ------------------------------------------------------------ the loop

    def tick(self) -> None:
        now = self.clock()
        for name, u in self.units.items():
            if u.child is not None:
                status = u.child.poll()
                if status is not None:
                    self._exited(name, u, status, now)
            if u.state == "activating" and now >= u.next_start:
                u.restarts.append(now)
                self.start(name)
                again = f"started again as pid {self._pid(name)}"
                self.audit.event("supervisor.restart", name, ACTOR, again, "ok")

    def _exited(self, name: str, u: _Unit, status: int, now: float) -> None:
        u.child, u.exit_status = None, status
        how = _describe(status)
        if not u.wanted:
            u.state = "inactive"
            return
        loop = self.policy.services.crash_loop
        u.exits.append(now)
        while u.exits and now - u.exits[0] > loop.window.total_seconds():
            u.exits.popleft()
        n = len(u.exits)
        if n >= loop.count:
            u.state, u.wanted = "failed", False
            self.audit.event(
                "supervisor.give_up", name, ACTOR,
                f"{how}; {n} exits within {loop.window}: crash loop, left stopped", "failed",
            )  # fmt: skip
        else:
            delay = min(u.spec.backoff * 2 ** (n - 1), u.spec.backoff_max)
            u.state, u.next_start = "activating", now + delay
            why = f"{how}; restart in {delay:g} s (exit {n} of {loop.count - 1} tolerated)"
            self.audit.event("supervisor.exit", name, ACTOR, why)
        self._save_pids()

    # ------------------------------------------------------------ reading

    def is_active(self, name: str) -> bool:
        u = self._unit(name)
        return u.child is not None and u.child.poll() is None

    def active_since(self, name: str) -> datetime | None:
        return self._unit(name).since if self.is_active(name) else None

    def healthy(self, name: str) -> tuple[bool, str]:
        u = self._unit(name)
        if u.spec.health is None:
            return self.is_active(name), "running" if self.is_active(name) else "not running"
        return wait_healthy(u.spec.health, self.run, lambda: self.is_active(name))

    def services(self) -> list[Service]:
        """The supervised services in the snapshot's form."""
        now, out = self.clock(), []
        for name, u in self.units.items():
            out.append(Service(
                unit=name, state=u.state, exit_status=u.exit_status,
                restarts_10m=sum(1 for t in u.restarts if now - t <= 600),
                restarts_1h=sum(1 for t in u.restarts if now - t <= 3600),
                journal_tail=_tail(self.log_path(name)),
            ))  # fmt: skip
        return out


def _describe(status: int) -> str:
    if status == runner.Adopted.UNKNOWN_EXIT:
        return "exited (status unknown: started by an earlier daemon)"
    if status < 0:
        try:
            return f"killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"killed by signal {-status}"
    return f"exited with status {status}"


def _tail(path: Path, lines: int = 20) -> list[str]:
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 8192))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return []
    return text.splitlines()[-lines:]
