"""Service actions against a real systemd (conftest's `container`)."""

from __future__ import annotations

from pathlib import Path

from llmosd.audit import AuditLog, Context
from llmosd.contract import Judged, make_action, parse_snapshot
from llmosd.executors import Executors, runner
from llmosd.executors.systemd import Systemd
from llmosd.policy import load_policy

SNAP = parse_snapshot({"id": "t", "now": "2026-11-20T14:00:00Z", "host": {"hostname": "h"}})


def allow(kind: str, target: str) -> Judged:
    return Judged(action=make_action(kind, target), verdict="allow", reasons=["test"])


def test_start_restart_stop_a_real_unit(container: tuple[tuple[str, ...], Path], tmp_path: Path) -> None:
    systemctl, units = container
    (units / "demo.service").write_text("[Service]\nExecStart=/bin/sleep 1000\n")
    (units / "broken.service").write_text("[Service]\nExecStart=/nonexistent/vllm serve\n")
    sd = Systemd(runner.run, systemctl)
    runner.run([*systemctl, "daemon-reload"])
    audit = AuditLog(tmp_path / "audit.db")
    ex = Executors(audit=audit, policy=load_policy(), state_dir=tmp_path, systemd=sd)
    ctx = Context("rules")

    out = ex.execute(allow("service.start", "demo.service"), SNAP, ctx)
    assert out.status == "ok" and "demo.service is active" in out.detail, out.detail
    first = sd.state("demo.service").main_pid
    out = ex.execute(allow("service.restart", "demo.service"), SNAP, ctx)
    assert out.status == "ok", out.detail
    assert sd.state("demo.service").main_pid not in (0, first)
    out = ex.execute(allow("service.stop", "demo.service"), SNAP, ctx)
    assert out.status == "ok" and "stopped" in out.detail
    assert sd.state("demo.service").active == "inactive"

    out = ex.execute(allow("service.start", "broken.service"), SNAP, ctx)
    assert out.status == "failed", out.detail
    out = ex.execute(allow("service.restart", "ghost.service"), SNAP, ctx)
    assert out.status == "failed" and "ghost.service" in out.detail
    assert audit.verify().ok
    audit.close()
