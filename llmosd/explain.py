"""Answers to "why did you ...": what the audit log says was done to a target.

The answer is built from the records alone, each line naming the record ids it
rests on; a model may add a summary (`Explanation.summary`), never replace them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llmosd.protocol import AuditRecord, Explanation


def explain(target: str, records: Sequence[AuditRecord | dict[str, Any]]) -> Explanation:
    """What the audit log says was done to `target`, when, why and by whom; each line names its records."""
    recs = [AuditRecord.model_validate(r) for r in records]
    outcomes = {r.ref: r for r in recs if r.record == "outcome" and r.ref is not None}
    shown = {r.seq for r in recs}
    lines = [_line(r, outcomes.get(r.seq)) for r in recs if not (r.ref in shown and r.record == "outcome")]
    text = "\n".join(lines) if lines else f"the audit log has no record about {target}"
    return Explanation(target=target, text=text, record_ids=[r.seq for r in recs], records=recs)


def _line(r: AuditRecord, outcome: AuditRecord | None) -> str:
    who = f"the daemon ({r.actor})" if r.actor in ("llm", "rules") else r.actor
    what = f"{r.kind} {r.target}".strip()
    parts = [f"#{r.seq} {r.at:%Y-%m-%d %H:%M:%S %Z}: {who} {r.record} {what}"]
    if r.verdict:
        parts.append(f"verdict {r.verdict}" + (f" ({'; '.join(r.reasons)})" if r.reasons else ""))
    if r.rationale:
        parts.append(f"why: {r.rationale}")
    if r.detail:
        parts.append(r.detail)
    end = outcome or (r if r.outcome else None)
    if end is not None:
        parts.append(f"outcome {end.outcome}" + (f" (#{end.seq})" if end is not r else ""))
        if end is not r and end.detail:
            parts.append(end.detail)
    return "; ".join(parts)
