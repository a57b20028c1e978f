"""`explain`'s summary: the records' digest, and when a model's summary may stand in its place."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from llmosd.audit import AuditLog, Context, Filters
from llmosd.contract import Judged, make_action
from llmosd.explain import digest, explain, grounded
from llmosd.protocol import Explanation


class Clock:
    def __init__(self) -> None:
        self.t = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.t += timedelta(seconds=30)
        return self.t


def judged(kind: str, target: str, verdict: str = "allow", **params: Any) -> Judged:
    return Judged(action=make_action(kind, target, **params), verdict=verdict, reasons=[])


@pytest.fixture
def story(tmp_path: Path) -> Explanation:
    """What the daemon did about a hung job and a unit: told the owner, restarted twice, was refused."""
    log = AuditLog(tmp_path / "audit.db", clock=Clock())
    why = Context("llm", rationale="job stuck-7 has used no GPU for 2:00:00 while holding GPU memory")
    note = judged("notify", "bob", message="[stuck-7] job stuck-7 has used no GPU for 2:00:00")
    log.decision(note, why)
    log.outcome(log.intent(note, why), "ok")
    log.decision(judged("job.stop", "stuck-7", "deny"), Context("uid=1000(eve)", rationale="by hand"))
    log.refused(judged("process.kill", "pid:4411"), Context("rules"), "pid 4411 is not the job's")
    for outcome in ("ok", "ok"):
        j = judged("service.restart", "vllm.service")
        log.outcome(log.intent(j, Context("rules", rationale="transient")), outcome)
    log.decision(judged("job.requeue", "stuck-7", "approval"), Context("llm", rationale="requeue it"))
    ex = explain("stuck-7", [r.wire() for r in log.query(Filters(about="stuck-7"))])
    log.close()
    return ex


def test_the_digest_says_what_was_done_how_it_ended_and_why(story: Explanation) -> None:
    d = digest(story)
    assert d.startswith(
        "stuck-7: notify bob ok, job.stop stuck-7 refused, job.requeue stuck-7 held for approval"
    )
    assert "vllm.service" not in d and "pid:4411" not in d  # other subjects' records are not in its story
    assert "(last 2026-11-20 09:05:00 UTC); why: requeue it" in d


def test_repeats_are_counted_and_an_empty_story_has_no_digest(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.db", clock=Clock())
    for _ in range(3):
        j = judged("service.restart", "vllm.service")
        log.outcome(log.intent(j, Context("rules", rationale="transient")), "ok")
    ex = explain("vllm.service", [r.wire() for r in log.query(Filters(about="vllm.service"))])
    assert digest(ex).startswith("vllm.service: service.restart vllm.service ok x3 (last ")
    assert digest(explain("gpu:3", [])) == ""


@pytest.mark.parametrize(
    ("summary", "shown"),
    [
        ("The daemon told bob that job stuck-7 sat idle for 2:00:00; a stop was refused.", True),
        ("Job stuck-7 idle: its owner was notified, and a requeue waits for approval.", True),
        ("The daemon told bob that job stuck-7 sat idle for 3 hours.", False),  # a number not in the records
        ("The daemon told bob that job stuck-7 was killed by Xid 79.", False),  # nor is this one
        ("The owner was told that the job sat idle.", False),  # does not name its subject
        ("The server was stuck-7 acted on.", False),  # says nothing that was done
        ("stuck-7: notified.\n#2 2026-11-20 09:00:30 UTC: the daemon (llm) decision notify bob", False),
        ("The daemon (llm) decision notify bob; verdict allow", False),  # an echo of a record
        ("", False),
    ],
)
def test_a_model_summary_is_shown_only_when_grounded_in_the_records(
    story: Explanation, summary: str, shown: bool
) -> None:
    assert grounded(summary, story) is shown
