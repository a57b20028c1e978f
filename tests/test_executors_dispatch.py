"""The dispatcher's door (verdicts, approvals, modes) and the safety rails, against a real audit log."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from llmosd.audit import AuditLog, Context, Filters
from llmosd.contract import Judged, Snapshot, make_action, parse_snapshot
from llmosd.errors import ExecutorError
from llmosd.executors import Executors, Grant
from llmosd.policy import Policy, load_policy

RULES, ALICE = Context("rules"), Context("uid=1000(alice)")


class Clock:
    def __init__(self) -> None:
        self.t = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def audit(tmp_path: Path, clock: Clock) -> Iterator[AuditLog]:
    log = AuditLog(tmp_path / "audit.db", clock=clock)
    yield log
    assert log.verify().ok
    log.close()


def executors(tmp_path: Path, audit: AuditLog, policy: Policy | None = None) -> Executors:
    return Executors(audit=audit, policy=policy or load_policy(), state_dir=tmp_path / "state", systemd=None)


def snap(gpus: int = 4, drained: tuple[int, ...] = ()) -> Snapshot:
    return parse_snapshot({
        "id": "t", "now": "2026-11-20T14:00:00Z", "host": {"hostname": "gpu-07"},
        "gpus": [{"index": i, "drained": i in drained} for i in range(gpus)],
    })  # fmt: skip


def judged(kind: str, target: str, verdict: str = "allow", **params: Any) -> Judged:
    return Judged(action=make_action(kind, target, **params), verdict=verdict, reasons=["test"])


# ---------------------------------------------------------------- the door


def test_only_judged_actions_pass(tmp_path: Path, audit: AuditLog) -> None:
    ex = executors(tmp_path, audit)
    with pytest.raises(ExecutorError, match="judged by the guard"):
        ex.execute(make_action("gpu.drain", "gpu:0"), snap(), RULES)  # type: ignore[arg-type]
    out = ex.execute(judged("gpu.drain", "gpu:0", "deny"), snap(), RULES)
    assert out.status == "refused" and out.intent is None and "denied by the guard" in out.detail
    assert ex.drained == set()
    [rec] = audit.query()
    assert (rec.record, rec.outcome, rec.kind) == ("outcome", "refused", "gpu.drain")


def test_approval_needs_an_unexpired_grant_from_a_person(
    tmp_path: Path, audit: AuditLog, clock: Clock
) -> None:
    ex = executors(tmp_path, audit)
    j = judged("gpu.drain", "gpu:1", "approval")
    now = clock.t
    refusals = [
        (None, "waits for a person's approval"),
        (
            Grant(make_action("gpu.drain", "gpu:2"), "uid=1000(alice)", now, now + timedelta(hours=1)),
            "not this",
        ),
        (Grant(j.action, "llm", now, now + timedelta(hours=1)), "must come from a person"),
        (Grant(j.action, "uid=1000(alice)", now - timedelta(hours=2), now - timedelta(hours=1)), "expired"),
    ]
    for grant, why in refusals:
        out = ex.execute(j, snap(), RULES, grant)
        assert out.status == "refused" and why in out.detail
    assert ex.drained == set()
    out = ex.execute(j, snap(), RULES, Grant(j.action, "uid=1000(alice)", now, now + timedelta(minutes=5)))
    assert out.status == "ok" and ex.drained == {1}
    [intent] = audit.query(Filters(record="intent"))
    assert intent.detail.startswith("approved by uid=1000(alice)")


def test_a_reboot_always_needs_a_grant(tmp_path: Path, audit: AuditLog) -> None:
    out = executors(tmp_path, audit).execute(judged("host.reboot", "gpu-07"), snap(), RULES)
    assert out.status == "refused" and "approval" in out.detail


def test_modes(tmp_path: Path, audit: AuditLog, clock: Clock) -> None:
    ex = executors(tmp_path, audit)
    ex.mode = "observe"
    assert ex.execute(judged("gpu.drain", "gpu:0"), snap(), RULES).status == "refused"
    assert ex.execute(judged("notify", "admin", message="hi"), snap(), RULES).status == "ok"
    ex.mode = "supervised"
    j = judged("gpu.drain", "gpu:0")
    assert "approval" in ex.execute(j, snap(), RULES).detail
    grant = Grant.give(j.action, "uid=0(root)", clock.t, ex.policy)
    clock.t += ex.policy.approval.expires
    assert "expired" in ex.execute(j, snap(), RULES, grant).detail
    grant = Grant.give(j.action, "uid=0(root)", clock.t, ex.policy)
    assert ex.execute(j, snap(), RULES, grant).status == "ok"
    assert ex.drained == {0}
    lines = (tmp_path / "state" / "notifications.jsonl").read_text().splitlines()
    assert len(lines) == 1 and '"to": "admin"' in lines[0]


def test_noop_writes_nothing(tmp_path: Path, audit: AuditLog) -> None:
    out = executors(tmp_path, audit).execute(judged("noop", ""), snap(), RULES)
    assert out.status == "ok" and out.record is None and list(audit.query()) == []


# ---------------------------------------------------------------- rails


def test_drained_share_breaker(tmp_path: Path, audit: AuditLog) -> None:
    ex = executors(tmp_path, audit)
    assert ex.execute(judged("gpu.drain", "gpu:0"), snap(4, drained=(1,)), RULES).status == "ok"
    out = ex.execute(judged("gpu.drain", "gpu:2"), snap(4, drained=(1,)), RULES)
    assert out.status == "refused" and "3 of 4 GPUs drained (max 2)" in out.detail
    assert out.next_step is not None and out.next_step.kind == "notify"
    # A person may go past it.
    assert ex.execute(judged("gpu.drain", "gpu:2"), snap(4, drained=(1,)), ALICE).status == "ok"
    # One GPU of one may always be drained.
    assert (
        executors(tmp_path / "b", audit).execute(judged("gpu.drain", "gpu:0"), snap(1), RULES).status == "ok"
    )


def test_changes_per_hour_breaker(tmp_path: Path, audit: AuditLog, clock: Clock) -> None:
    policy = load_policy().model_copy(
        update={"rails": load_policy().rails.model_copy(update={"changes_per_hour": 2})}
    )
    ex = executors(tmp_path, audit, policy)
    for i in range(2):
        assert ex.execute(judged("gpu.drain", f"gpu:{i}"), snap(8), RULES).status == "ok"
    out = ex.execute(judged("gpu.drain", "gpu:5"), snap(8), RULES)
    assert out.status == "refused" and "2 changes in the last hour" in out.detail
    assert ex.execute(judged("notify", "admin", message="x"), snap(8), RULES).status == "ok"
    clock.t += timedelta(minutes=61)
    assert ex.execute(judged("gpu.drain", "gpu:5"), snap(8), RULES).status == "ok"


def test_escalation_ladder_proposes_the_next_step(tmp_path: Path, audit: AuditLog, clock: Clock) -> None:
    ex = executors(tmp_path, audit)
    for _ in range(2):  # the default ladder allows gpu.drain twice a day on one GPU
        assert ex.execute(judged("gpu.drain", "gpu:3"), snap(), RULES).status == "ok"
        assert ex.execute(judged("gpu.undrain", "gpu:3"), snap(), RULES).status == "ok"
        clock.t += timedelta(minutes=30)
    out = ex.execute(judged("gpu.drain", "gpu:3"), snap(), RULES)
    assert out.status == "refused" and "gpu.drain used 2 times on gpu:3 in 1d" in out.detail
    assert out.next_step == make_action("gpu.reset", "gpu:3")


def test_manual_review_after_k_actions_until_released(tmp_path: Path, audit: AuditLog, clock: Clock) -> None:
    ex = executors(tmp_path, audit)
    for i in range(6):  # review_after: 6 in 7d; spread out so the ladder's daily window does not trip first
        kind = "gpu.drain" if i % 2 == 0 else "gpu.undrain"
        assert ex.execute(judged(kind, "gpu:2"), snap(), RULES).status == "ok"
        clock.t += timedelta(days=1)
    out = ex.execute(judged("gpu.drain", "gpu:2"), snap(), RULES)
    assert out.status == "refused" and "acted on 6 times" in out.detail
    assert "gpu:2" in ex.in_review()
    assert "manual review since" in ex.execute(judged("gpu.drain", "gpu:2"), snap(), RULES).detail
    with pytest.raises(ExecutorError):
        ex.release("gpu:2", "llm")
    assert ex.release("gpu:2", "uid=1000(alice)")
    assert ex.execute(judged("gpu.drain", "gpu:2"), snap(), RULES).status == "ok"


def test_what_an_admin_did_by_hand_is_pinned(tmp_path: Path, audit: AuditLog) -> None:
    ex = executors(tmp_path, audit)
    assert ex.execute(judged("gpu.drain", "gpu:1"), snap(), ALICE).status == "ok"
    assert ex.pins()["gpu:1"].by == "uid=1000(alice)"
    out = ex.execute(judged("gpu.undrain", "gpu:1"), snap(), RULES)
    assert out.status == "refused" and "pinned" in out.detail
    assert ex.drained == {1}
    assert ex.execute(judged("notify", "admin", message="gpu:1 still drained"), snap(), RULES).status == "ok"
    ex.release("gpu:1", "uid=1000(alice)")
    assert ex.execute(judged("gpu.undrain", "gpu:1"), snap(), RULES).status == "ok"
    assert ex.drained == set()
    assert [r.kind for r in audit.query(Filters(record="event"))] == ["rails.pin", "rails.release"]
