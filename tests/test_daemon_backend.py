"""The admin socket's backend over a live (simulated) daemon, in process: actions go through
the guard and the executors, approvals carry a person's grant, autonomy changes take effect."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from llmosd.config import load_config
from llmosd.contract import make_action
from llmosd.daemon import Daemon
from llmosd.daemon_backend import DaemonBackend
from llmosd.protocol import AuditQuery, Peer, RequestError

DEMO = Path(__file__).parent.parent / "examples" / "demo-timeline.yaml"
ALICE = Peer(pid=1, uid=1000, gid=1000, user="alice", role="admin")


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    sock = str(tmp_path / "s.sock")
    cfg = load_config(None, state_dir=str(tmp_path), simulate=str(DEMO), socket=sock, engine="rules")
    d = Daemon(cfg)
    d.on_worker(d.tick)
    yield d
    d.close()


def test_status_and_lists_come_from_the_last_snapshot(daemon: Daemon) -> None:
    b = DaemonBackend(daemon)
    s = b.status()
    assert (s.gpus, s.gpus_drained, s.jobs_running, s.mode) == (4, 0, 2, "autonomous")
    assert (s.engine, s.model, s.model_error) == ("rules", None, "")  # the rules, as asked
    assert [g.index for g in b.gpus("gpu:3")] == [3]
    assert [j.id for j in b.jobs("bob")] == ["stuck-7"]


def test_a_model_that_did_not_load_is_named_in_status_with_its_reason(tmp_path: Path) -> None:
    """engine llm was asked for; the rules decide, and `llmosctl status` says so and why."""
    from llmosd.ctl import show_status

    missing = tmp_path / "qwen-7b"
    cfg = load_config(None, state_dir=str(tmp_path), simulate=str(DEMO), socket=str(tmp_path / "s.sock"),
                      engine="llm", model=str(missing))  # fmt: skip
    d = Daemon(cfg)
    try:
        d.on_worker(d.tick)
        s = DaemonBackend(d).status()
    finally:
        d.close()
    assert (s.engine, s.model) == ("rules", None) and str(missing) in s.model_error
    assert f"model did not load, so the rules decide: {missing}: no model here" in show_status(s)


def test_a_mode_until_a_past_time_is_refused_and_the_mode_stays(daemon: Daemon) -> None:
    b = DaemonBackend(daemon)
    with pytest.raises(RequestError, match="already past"):
        b.set_autonomy("supervised", datetime(2020, 1, 1, tzinfo=UTC), ALICE)
    assert b.status().mode == "autonomous"


def test_cancel_stops_a_job_through_the_guard_and_an_unknown_one_is_not_found(daemon: Daemon) -> None:
    b = DaemonBackend(daemon)
    r = b.cancel("stuck-7", ALICE)
    assert (r.action["kind"], r.action["target"], r.verdict) == ("job.stop", "stuck-7", "allow")
    assert r.outcome == "failed" and "simulation: no signal sent" in r.detail  # simulated jobs say so
    assert {x["record"] for x in b.audit(AuditQuery(kind="job.stop"))} >= {"decision", "intent", "outcome"}
    with pytest.raises(RequestError, match="no job j-404"):
        b.cancel("j-404", ALICE)


def test_an_admin_action_is_judged_executed_and_audited(daemon: Daemon) -> None:
    b = DaemonBackend(daemon)
    r = b.act(make_action("gpu.drain", "gpu:0"), ALICE, "drain gpu 0")
    assert r.verdict == "allow" and r.outcome == "ok", r
    assert 0 in daemon.executors.drained
    # Before the next sample, too: status and the GPU list say what was just done.
    assert b.status().gpus_drained == 1 and b.gpus("gpu:0")[0].drained
    daemon.on_worker(daemon.tick)
    assert b.status().gpus_drained == 1
    recs = b.audit(AuditQuery(kind="gpu.drain"))
    assert {r["record"] for r in recs} >= {"decision", "intent", "outcome"}
    assert all(r["actor"] == "uid=1000(alice)" for r in recs)


def test_supervised_changes_wait_for_approval_then_run_with_the_grant(daemon: Daemon) -> None:
    b = DaemonBackend(daemon)
    b.set_autonomy("supervised", None, ALICE)
    r = b.act(make_action("gpu.drain", "gpu:0"), ALICE, "drain gpu 0")
    assert r.verdict == "approval" and r.approval_id and r.outcome is None
    assert 0 not in daemon.executors.drained
    assert [p.id for p in b.status().pending] == [r.approval_id]
    done = b.approve(r.approval_id, ALICE)
    assert done.outcome == "ok" and 0 in daemon.executors.drained
    assert b.status().pending == []
    with pytest.raises(RequestError) as e:
        b.approve(r.approval_id, ALICE)
    assert e.value.code == "not_found"


def test_observe_mode_stops_changes(daemon: Daemon) -> None:
    b = DaemonBackend(daemon)
    b.set_autonomy("observe", None, ALICE)
    r = b.act(make_action("gpu.drain", "gpu:1"), ALICE, "")
    assert r.verdict == "deny" and r.outcome is None
    assert 1 not in daemon.executors.drained
    with pytest.raises(RequestError):
        b.submit(None, ALICE)  # type: ignore[arg-type]


@pytest.mark.model
def test_an_llm_decision_is_audited_with_the_model_that_ran(tmp_path: Path, judge: object) -> None:
    cfg = load_config(None, state_dir=str(tmp_path), simulate=str(DEMO), socket=str(tmp_path / "s.sock"),
                      engine="rules", decide_every_min=1e-6)  # fmt: skip
    d = Daemon(cfg)
    try:
        d.judge = judge  # type: ignore[assignment]  # the session's model, not a second load
        d.on_worker(d.tick)
        recs = DaemonBackend(d).audit(AuditQuery(record="decision"))
    finally:
        d.close()
    by_llm = [r for r in recs if r["actor"] == "llm"]
    assert by_llm and {r["model"] for r in by_llm} == {judge.model_name}  # type: ignore[attr-defined]
    assert judge.model_name.startswith("SmolLM2-135M-Instruct")  # type: ignore[attr-defined]
