"""kill -9 of the daemon between intent and outcome, then a restart.

A real daemon process judges and executes `process.kill` of a real victim
process, and is itself SIGKILLed either just before the signal goes out or
just after (its `send` stand-in announces the moment and then hangs). The
restarted side reconciles: the dangling intent gets an outcome that matches
the machine, the victim is never signalled a second time, and the chain
verifies.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from llmosd.audit import AuditLog, Filters
from llmosd.contract import parse_snapshot
from llmosd.executors import Executors
from llmosd.policy import load_policy

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the victim as another user")

DAEMON = """
import json, sys, time
from pathlib import Path
from llmosd.audit import AuditLog, Context
from llmosd.contract import parse_snapshot, make_action
from llmosd.executors import Executors, runner
from llmosd.guard import judge
from llmosd.policy import load_policy

work, when = Path(sys.argv[1]), sys.argv[2]

def send(pid, sig, **kw):
    if when == "after":
        runner.send_signal(pid, sig, **kw)
    (work / "at-the-edge").touch()
    time.sleep(600)  # the test kills us here

snap = parse_snapshot(json.loads((work / "snap.json").read_text()))
policy = load_policy()
ex = Executors(audit=AuditLog(work / "audit.db"), policy=policy, state_dir=work / "state", send=send)
[j] = judge([make_action("process.kill", f"pid:{sys.argv[3]}", signal="SIGKILL")], snap, policy)
assert j.verdict == "allow", j.reasons
ex.execute(j, snap, Context("rules", rationale="orphan of finished job j-1"))
"""


def snapshot(victim: int | None, now: str) -> dict[str, object]:
    procs = [{"pid": victim, "user": "nobody", "cmd": "sleep 300", "job": "j-1"}] if victim else []
    return {
        "id": "crash", "now": now, "host": {"hostname": "h"},
        "gpus": [{"index": 0, "processes": procs}],
        "jobs": [{"id": "j-1", "user": "nobody", "state": "finished", "gpus": [0]}],
    }  # fmt: skip


@pytest.mark.parametrize("when", ["before", "after"])
def test_kill_9_between_intent_and_outcome(tmp_path: Path, when: str) -> None:
    victim = subprocess.Popen(["sleep", "300"], user="nobody")
    time.sleep(0.05)
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 1))
    (tmp_path / "snap.json").write_text(json.dumps(snapshot(victim.pid, now)))
    daemon = subprocess.Popen([sys.executable, "-c", DAEMON, str(tmp_path), when, str(victim.pid)])
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "at-the-edge").exists():
            assert daemon.poll() is None, "the daemon died before reaching the edge"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        os.kill(daemon.pid, signal.SIGKILL)
        daemon.wait(10)

        audit = AuditLog(tmp_path / "audit.db")
        assert [r.kind for r in audit.pending()] == ["process.kill"]
        # The restarted daemon sees the machine as it is now.
        if when == "after":
            victim.wait(5)  # the signal went out just before the crash
        victim_alive = victim.poll() is None
        assert victim_alive == (when == "before")
        snap = parse_snapshot(snapshot(victim.pid if victim_alive else None, now))
        ex = Executors(audit=audit, policy=load_policy(), state_dir=tmp_path / "state", grace=0.5)
        [seq] = ex.reconcile(snap)
        assert ex.reconcile(snap) == []  # a second restart finds nothing open

        [out] = [r for r in audit.query(Filters(record="outcome")) if r.ref == seq]
        assert out.outcome == ("reconciled_not_done" if when == "before" else "reconciled_done"), out.detail
        # Nothing ran twice: one intent, and a victim the crash spared is still alive.
        assert len(list(audit.query(Filters(record="intent")))) == 1
        assert (victim.poll() is None) == (when == "before")
        result = audit.verify()
        assert result.ok and result.count == 2, result
        audit.close()
    finally:
        for p in (daemon, victim):
            if p.poll() is None:
                p.kill()
                p.wait()
