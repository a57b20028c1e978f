"""process.kill and job.stop against real processes: owner and start time are checked again."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from llmosd.audit import AuditLog, Context
from llmosd.contract import Judged, Snapshot, make_action, parse_snapshot
from llmosd.executors import Executors
from llmosd.policy import load_policy

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run processes as another user")


@pytest.fixture
def victim() -> Iterator[subprocess.Popen[bytes]]:
    p = subprocess.Popen(["sleep", "300"], user="nobody")
    time.sleep(0.05)
    yield p
    if p.poll() is None:
        p.kill()
    p.wait()


@pytest.fixture
def ex(tmp_path: Path) -> Iterator[Executors]:
    audit = AuditLog(tmp_path / "audit.db")
    yield Executors(audit=audit, policy=load_policy(), state_dir=tmp_path, systemd=None, grace=3)
    assert audit.verify().ok
    audit.close()


def snap(pid: int, user: str, now: datetime | None = None, job: str = "j-1") -> Snapshot:
    now = now or datetime.now(UTC) + timedelta(seconds=1)
    return parse_snapshot({
        "id": "t", "now": now.isoformat(), "host": {"hostname": "h"},
        "gpus": [{"index": 0, "processes": [{"pid": pid, "user": user, "job": job}]}],
        "jobs": [{"id": job, "user": user, "state": "running", "gpus": [0]}],
    })  # fmt: skip


def allow(kind: str, target: str, **params: Any) -> Judged:
    return Judged(action=make_action(kind, target, **params), verdict="allow", reasons=["test"])


def test_kill_checks_the_process_is_gone(ex: Executors, victim: subprocess.Popen[bytes]) -> None:
    out = ex.execute(allow("process.kill", f"pid:{victim.pid}"), snap(victim.pid, "nobody"), Context("rules"))
    victim.wait(5)
    assert out.status == "ok", out.detail
    assert f"SIGTERM sent to pid {victim.pid} (nobody)" in out.detail and "is gone" in out.detail


def test_a_different_owner_means_a_reused_pid(ex: Executors, victim: subprocess.Popen[bytes]) -> None:
    out = ex.execute(allow("process.kill", f"pid:{victim.pid}"), snap(victim.pid, "alice"), Context("rules"))
    assert out.status == "failed" and "belongs to nobody, not alice" in out.detail
    assert victim.poll() is None


def test_a_process_younger_than_the_snapshot_is_not_the_one_seen(
    ex: Executors, victim: subprocess.Popen[bytes]
) -> None:
    before = datetime.now(UTC) - timedelta(minutes=5)
    out = ex.execute(
        allow("process.kill", f"pid:{victim.pid}"), snap(victim.pid, "nobody", before), Context("rules")
    )
    assert out.status == "failed" and "started after the snapshot" in out.detail
    assert victim.poll() is None


def test_a_process_that_is_gone_fails_cleanly(ex: Executors, victim: subprocess.Popen[bytes]) -> None:
    victim.kill()
    victim.wait()
    out = ex.execute(allow("process.kill", f"pid:{victim.pid}"), snap(victim.pid, "nobody"), Context("rules"))
    assert out.status == "failed" and "gone" in out.detail


def test_job_requeue_stops_its_processes_and_requeues(ex: Executors, victim: subprocess.Popen[bytes]) -> None:
    s = snap(victim.pid, "nobody")
    assert ex.execute(allow("job.start", "j-1", gpus=[0]), s, Context("rules")).status == "ok"
    assert ex.placement.placed() == {"j-1": [0]}
    out = ex.execute(allow("job.requeue", "j-1"), s, Context("rules"))
    victim.wait(5)
    assert out.status == "ok", out.detail
    assert ex.placement.placed() == {} and ex.placement.requeued() == ["j-1"]
