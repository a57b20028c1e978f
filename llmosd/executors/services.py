"""Service actions: a unit llmosd supervises itself goes to the supervisor,
any other to systemd; a rollback switches releases and health-checks."""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Literal

from llmosd.contract import Action, Snapshot
from llmosd.errors import ExecutorError
from llmosd.executors.rollback import Releases, rollback
from llmosd.executors.runner import Run
from llmosd.executors.supervise import HealthSpec, Supervisor, wait_healthy
from llmosd.executors.systemd import Systemd

Verb = Literal["start", "stop", "restart"]


class ServiceArea:
    kinds = frozenset({"service.start", "service.stop", "service.restart", "service.rollback"})

    def __init__(
        self, *, systemd: Systemd | None, supervisor: Supervisor | None, releases: Releases | None,
        health: Mapping[str, HealthSpec], run: Run, settle: float = 30.0,
    ):  # fmt: skip
        self.systemd, self.supervisor, self.releases = systemd, supervisor, releases
        self.health, self.run, self.settle = dict(health), run, settle

    def _supervised(self, unit: str) -> bool:
        return self.supervisor is not None and unit in self.supervisor

    def _systemd(self, unit: str) -> Systemd:
        if self.systemd is None:
            raise ExecutorError(f"{unit}: not a supervised service, and this host has no systemd")
        return self.systemd

    def control(self, verb: Verb, unit: str) -> str:
        if self.supervisor is not None and self._supervised(unit):
            getattr(self.supervisor, verb)(unit)
            return f"supervisor {verb} {unit}"
        return self._systemd(unit).control(verb, unit)

    def active_since(self, unit: str) -> tuple[bool, datetime | None]:
        if self.supervisor is not None and self._supervised(unit):
            return self.supervisor.is_active(unit), self.supervisor.active_since(unit)
        st = self._systemd(unit).state(unit)
        return st.active == "active", st.since

    def healthy(self, unit: str) -> tuple[bool, str]:
        """Running, and passing its health check if it has one (waits up to the check's timeout)."""
        if self.supervisor is not None and self._supervised(unit):
            return self.supervisor.healthy(unit)
        spec = self.health.get(unit)
        if spec is None:
            active = self._wait_active(unit)
            return active, "active" if active else "not active"
        return wait_healthy(spec, self.run, lambda: self.active_since(unit)[0])

    def _wait_active(self, unit: str) -> bool:
        deadline = time.monotonic() + self.settle
        while True:
            st = self._systemd(unit).state(unit)
            if st.active == "active" or st.active in ("failed", "inactive") or time.monotonic() > deadline:
                return st.active == "active"
            time.sleep(0.2)  # activating / reloading: give it a moment

    def do(self, a: Action, snap: Snapshot) -> str:
        if a.kind == "service.rollback":
            if self.releases is None:
                raise ExecutorError("no releases folder is configured: nothing to roll back to")
            to = getattr(a.params, "to", None)
            restart = functools.partial(self.control, "restart")
            return rollback(self.releases, a.target, to, restart=restart, healthy=self.healthy)
        verb: Verb = a.kind.split(".", 1)[1]  # type: ignore[assignment]
        return self.control(verb, a.target)

    def check(self, a: Action, snap: Snapshot, since: datetime) -> tuple[bool | None, str]:
        if a.kind == "service.stop":
            active, _ = self.active_since(a.target)
            return not active, f"{a.target} is {'still active' if active else 'stopped'}"
        ok, why = self.healthy(a.target)
        if not ok:
            return False, f"{a.target}: {why}"
        _, started = self.active_since(a.target)
        # systemd stamps whole seconds: compare at that grain.
        if a.kind != "service.start" and (started is None or started < since.replace(microsecond=0)):
            return False, f"{a.target} is up but has not restarted since {since.isoformat()}"
        if a.kind == "service.rollback" and self.releases is not None:
            why += f"; current release {self.releases.current(a.target)}"
        return True, f"{a.target} is active ({why})"
