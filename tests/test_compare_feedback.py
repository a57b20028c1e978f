"""`llmosd replay --compare` (two engines or policies on the same incidents) and the operator
feedback that `llmosd train --from-audit` reads from a real audit log."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from llmosd.audit import AuditLog, Context
from llmosd.contract import load_snapshot
from llmosd.engine.decide import decide
from llmosd.errors import AuditError
from llmosd.policy import load_policy
from llmosd.train.feedback import feedback_examples, read_feedback

HERE = Path(__file__).parent
ROOT = HERE.parent
REFUSED_DB = HERE / "scenarios" / "svc-jupyterhub-db-refused.json"  # transient: restart
XID = HERE / "scenarios" / "l40s-xid48-idle.json"
OOM_LINE = "Out of memory: Killed process 4242 (python3) total-vm:83421616kB, anon-rss:80123456kB"


def oom_incident(tmp_path: Path) -> Path:
    """The same unit, failed again: this time the kernel killed it for memory."""
    data = json.loads(REFUSED_DB.read_text())
    data["id"] = "hub-oom"
    data["services"][0]["journal_tail"] = [OOM_LINE, "jupyterhub.service: Failed with result 'oom-kill'."]
    path = tmp_path / "hub-oom.json"
    path.write_text(json.dumps(data))
    return path


def replay(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "llmosd", "replay", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_compare_prints_only_the_incidents_where_two_policies_differ(tmp_path: Path) -> None:
    text = (ROOT / "policies" / "default.yaml").read_text()
    assert "service.restart, " in text
    no_restarts = tmp_path / "no-restarts.yaml"
    no_restarts.write_text(text.replace("service.restart, ", "", 1))
    p = replay("--compare", "rules", f"rules@{no_restarts}", str(REFUSED_DB), str(XID))
    assert p.returncode == 0, p.stderr
    out = p.stdout.splitlines()
    assert out[-1].startswith("2 scenarios, 1 differ")
    assert out[-1].endswith("texts read by a model: A 0 of 1, B 0 of 1")  # the rules read with patterns
    assert out[0] == "svc-jupyterhub-db-refused"  # the GPU incident plans no restart: the same on both
    assert "service.restart" in out[1] and "(allow)" in out[1] and "[transient 1.00 by pattern]" in out[1]
    assert "service.restart" in out[2] and "(deny)" in out[2]


@pytest.mark.model
def test_compare_counts_the_texts_each_side_read_with_a_model() -> None:
    """Of the two incidents only the unit's failure has text to read: the LLM engine's model reads
    it, the rules engine's patterns do."""
    p = replay("--compare", "rules", "llm", str(REFUSED_DB), str(XID))
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[-1].endswith("texts read by a model: A 0 of 1, B 1 of 1")


@pytest.mark.parametrize("side", ["gpt", "rules:/models/x", ""])
def test_compare_refuses_a_malformed_side_with_a_usage_error(side: str) -> None:
    p = replay("--compare", "rules", side, str(XID))
    assert p.returncode == 2 and p.stdout == ""
    assert len(p.stderr.strip().splitlines()) == 1 and "--compare" in p.stderr


def test_feedback_reads_approved_and_refused_readings(tmp_path: Path) -> None:
    policy = load_policy()
    log = AuditLog(tmp_path / "audit.db")
    for path in (REFUSED_DB, oom_incident(tmp_path)):
        d = decide(load_snapshot(path), policy)
        ctx = Context("rules", rationale=d.rationale)
        for j in d.actions:
            log.decision(j, ctx)
        act = d.actions[0]
        assert act.action.kind == "service.restart"
        if path == REFUSED_DB:  # an admin approved it: the dispatcher writes the intent
            seq = log.intent(act, ctx, detail="approved by uid=1000(ana)")
            log.outcome(seq, "ok", "restarted")
        else:  # an admin refused it
            log.event("approval.deny", act.action.target, "uid=1000(ana)", f"{act.action.kind}: wrong call")
    log.close()

    got = read_feedback(tmp_path / "audit.db", policy)
    assert [f.approved for f in got] == [True, False]
    port, perm = got
    assert (port.fault_class, port.context) == ("transient", "service")
    line = json.loads(REFUSED_DB.read_text())["services"][0]["journal_tail"][1]
    assert len(port.evidence) >= 60 and line.startswith(port.evidence)  # quoted (cut) from the journal
    oom_lines = json.loads(oom_incident(tmp_path).read_text())["services"][0]["journal_tail"]
    assert perm.fault_class == "oom" and perm.evidence in oom_lines

    examples = feedback_examples(got, copies=3, seed=1)
    assert len(examples) == 6
    for ex, approved in examples:  # each reading inside generated context (prefixes, JSON wrapping)
        f = port if approved else perm
        assert ex.label == f.fault_class and f.evidence[:30].lower() in ex.lines[ex.cause].lower()
    assert len({tuple(ex.lines) for ex, _ in examples}) == 6


def test_feedback_from_a_missing_or_foreign_file_is_an_audit_error(tmp_path: Path) -> None:
    with pytest.raises(AuditError, match="no audit log"):
        read_feedback(tmp_path / "none.db", load_policy())
    other = tmp_path / "other.db"
    other.write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(AuditError, match=r"other\.db"):
        read_feedback(other, load_policy())
