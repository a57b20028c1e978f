"""Operator feedback from the audit log, as training examples (`llmosd train --from-audit`).

A decision's rationale names the fault class it read (by the policy's
description) and quotes the evidence line. What a person did with it says
whether that reading was right:

- approved: an `intent` whose detail starts "approved by" (the dispatcher
  writes it when a person's approval let an action run) — the class is kept
  as a positive example;
- refused: an `event` of kind `approval.deny` (target = the action's target,
  detail = "<kind>: <reason>") — the class read for that target's latest
  decision before it becomes a negative example: training lowers its
  probability for that evidence.

Each reading is wrapped in generated context several times (corpus.example),
so one approval is not learnt as one exact string.
"""

from __future__ import annotations

import random
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from llmosd.errors import AuditError
from llmosd.policy import Policy
from llmosd.train.corpus import Example, example


@dataclass(frozen=True)
class Feedback:
    evidence: str
    fault_class: str
    context: str  # service | job
    approved: bool


def reading(rationale: str, policy: Policy) -> tuple[str, str] | None:
    """(class, evidence line) named in a decision rationale, or None if it read no text."""
    found = []
    for name, cls in policy.fault_classes.items():
        at = rationale.find(cls.description + ' ("')
        if at >= 0:
            start = at + len(cls.description) + 3
            end = rationale.find('")', start)
            found.append((at, name, rationale[start : end if end > 0 else None].rstrip("…")))
    if not found:
        return None
    _, name, evidence = min(found)  # the first reading is the most severe incident's
    return name, evidence


def _context(target: str) -> str:
    return "service" if target.endswith((".service", ".socket", ".timer", ".target")) else "job"


def read_feedback(db: Path, policy: Policy) -> list[Feedback]:
    if not db.is_file():
        raise AuditError(f"{db}: no audit log here")
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        rows = con.execute(
            "SELECT record, actor, kind, target, rationale, detail FROM audit ORDER BY seq"
        ).fetchall()
        con.close()
    except sqlite3.Error as e:
        raise AuditError(f"{db}: cannot read the audit log: {e}") from None
    out: list[Feedback] = []
    latest: dict[str, str] = {}  # target -> rationale of its latest engine decision
    for record, actor, kind, target, rationale, detail in rows:
        if record == "decision" and actor in ("llm", "rules") and rationale:
            latest[target] = rationale
        elif record == "intent" and (detail or "").startswith("approved by") and rationale:
            got = reading(rationale, policy)
            if got:
                out.append(Feedback(got[1], got[0], _context(target), True))
        elif record == "event" and kind == "approval.deny" and target in latest:
            got = reading(latest[target], policy)
            if got:
                out.append(Feedback(got[1], got[0], _context(target), False))
    return out


def feedback_examples(items: list[Feedback], copies: int, seed: int) -> list[tuple[Example, bool]]:
    """Each reading in `copies` generated contexts: (example, approved)."""
    r = random.Random(seed)
    pool: dict[str, list[str]] = {}
    return [
        (example(f.fault_class, f.context, pool, r, given=[f.evidence]), f.approved)
        for f in items
        if f.evidence
        for _ in range(copies)
    ]
