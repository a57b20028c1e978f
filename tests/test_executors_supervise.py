"""Supervised services with real child processes and real signals."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest

from llmosd.audit import AuditLog, Filters
from llmosd.executors.supervise import HealthSpec, ServiceSpec, Supervisor
from llmosd.policy import load_policy

SLEEPER = [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(120)"]


def until(cond: Callable[[], bool], tick: Callable[[], None] = lambda: None, timeout: float = 10.0) -> float:
    """Call tick() until cond() holds; returns the seconds it took."""
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            raise AssertionError("condition not reached in time")
        tick()
        time.sleep(0.02)
    return time.monotonic() - t0


@pytest.fixture
def audit(tmp_path: Path) -> Iterator[AuditLog]:
    log = AuditLog(tmp_path / "audit.db")
    yield log
    log.close()


def pid_of(sup: Supervisor) -> int:
    child = sup.units["app.service"].child
    assert child is not None
    return child.pid


def py(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def make(tmp_path: Path, audit: AuditLog, **spec: object) -> Supervisor:
    specs = {"app.service": ServiceSpec.model_validate({"command": SLEEPER, "backoff": 0.3, **spec})}
    return Supervisor(specs, audit=audit, policy=load_policy(), state_dir=tmp_path)


def test_sigkilled_service_restarts_with_backoff_then_gives_up(tmp_path: Path, audit: AuditLog) -> None:
    sup = make(tmp_path, audit)
    sup.start_all()
    try:
        first = pid_of(sup)
        pids, delays = [], []

        def said(n: int) -> bool:  # it is up and has written its n+1-th line
            return len(sup.services()[0].journal_tail) > n

        def replaced(pid: int) -> bool:
            return sup.is_active("app.service") and pid_of(sup) != pid

        for n in range(2):
            until(partial(said, n))
            pid = pid_of(sup)
            pids.append(pid)
            os.kill(pid, signal.SIGKILL)
            delays.append(until(partial(replaced, pid), sup.tick))
        # Back-off doubles: 0.3 s, then 0.6 s (a busy machine only adds to these).
        assert delays[0] >= 0.3 and delays[1] >= 0.6 and delays[0] < 3, delays
        assert sup.services()[0].restarts_10m == 2
        last = pid_of(sup)
        until(lambda: len(sup.services()[0].journal_tail) == 3)
        os.kill(last, signal.SIGKILL)
        until(lambda: sup.units["app.service"].state == "failed", sup.tick)
        t_end = time.monotonic() + 1.5  # well past the next back-off: nothing may start
        while time.monotonic() < t_end:
            sup.tick()
            time.sleep(0.05)
        assert not sup.is_active("app.service")
        svc = sup.services()[0]
        assert svc.state == "failed" and svc.exit_status == -signal.SIGKILL
        assert svc.journal_tail[-3:] == ["up", "up", "up"]
    finally:
        sup.close()
    steps = [(r.kind, r.detail.split(";")[0]) for r in audit.query(Filters(target="app.service"))]
    assert steps == [
        ("supervisor.start", f"started as pid {first}"),
        ("supervisor.exit", "killed by SIGKILL"), ("supervisor.restart", f"started again as pid {pids[1]}"),
        ("supervisor.exit", "killed by SIGKILL"), ("supervisor.restart", f"started again as pid {last}"),
        ("supervisor.give_up", "killed by SIGKILL"),
    ]  # fmt: skip
    assert audit.verify().ok


def test_stop_is_not_a_crash_and_is_not_restarted(tmp_path: Path, audit: AuditLog) -> None:
    sup = make(tmp_path, audit)
    sup.start_all()
    pid = pid_of(sup)
    sup.stop("app.service")
    for _ in range(20):
        sup.tick()
        time.sleep(0.03)
    assert not sup.is_active("app.service") and sup.services()[0].state == "inactive"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert [r.kind for r in audit.query()] == ["supervisor.start"]  # the stop was asked for: no exit event


def test_a_killed_daemon_adopts_its_running_services(tmp_path: Path, audit: AuditLog) -> None:
    first = make(tmp_path, audit)
    first.start_all()
    pid = pid_of(first)
    # A second supervisor on the same state dir is the daemon after a kill -9: it must not start a twin.
    second = make(tmp_path, audit)
    second.start_all()
    try:
        assert pid_of(second) == pid
        os.kill(pid, signal.SIGKILL)
        first.units["app.service"].child.wait(5)  # type: ignore[union-attr]  # reap it: we are its parent
        until(lambda: second.is_active("app.service") and pid_of(second) != pid, second.tick)
    finally:
        second.close()
    kinds = [r.kind for r in audit.query()]
    assert kinds == ["supervisor.start", "supervisor.adopt", "supervisor.exit", "supervisor.restart"]


def test_health_check_by_command(tmp_path: Path, audit: AuditLog) -> None:
    flag = tmp_path / "ready"
    server = py(f"import time, pathlib; time.sleep(0.3); pathlib.Path({str(flag)!r}).touch(); time.sleep(60)")
    check = py(f"import pathlib, sys; sys.exit(0 if pathlib.Path({str(flag)!r}).exists() else 1)")
    sup = make(tmp_path, audit, command=server, health=HealthSpec(command=check, timeout=5, interval=0.1))
    sup.start_all()
    try:
        ok, why = sup.healthy("app.service")
        assert ok, why
    finally:
        sup.close()
    ok, why = sup.healthy("app.service")
    assert not ok and "exited" in why


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a service as another user")
def test_a_service_runs_as_its_user_with_its_environment(tmp_path: Path, audit: AuditLog) -> None:
    import psutil

    tmp_path.chmod(0o755)  # the service's own user writes nothing here; our log file is opened for it
    sup = make(tmp_path, audit, command=["/bin/sh", "-c", 'echo "hello $GREETING"; exec sleep 60'],
               user="nobody", environment={"GREETING": "from llmosd"})  # fmt: skip
    sup.start_all()
    try:
        until(lambda: sup.services()[0].journal_tail == ["hello from llmosd"])
        assert psutil.Process(pid_of(sup)).username() == "nobody"
    finally:
        sup.close()
