"""Answers to "why did you ...": what the audit log says was done to a target.

The answer is built from the records alone, each line naming the record ids it
rests on; a model may add a summary (`Explanation.summary`), never replace them.
A model's summary is shown only when `grounded` in the records; else `digest`,
built from the records, stands in.
"""

from __future__ import annotations

import re
from collections import Counter
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


# A token holding a digit: a number, a time, a record number, a name such as gpu:2 or stuck-7.
_FIGURE = re.compile(r"[\w.@:/#-]*\d[\w.@:/#-]*")


def grounded(summary: str, ex: Explanation) -> bool:
    """Whether a model's summary of `ex` may be shown: one paragraph that names the subject and something
    done to it, every number and numbered name in it is in the records, and it is not a piece of the
    records (a small model often echoes them, line by line)."""
    s = summary.strip()
    if not s or "\n" in s or ex.target not in s or s.rstrip(".").lower() in ex.text.lower():
        return False
    # What was done, as a stem of each kind's longest word: notify -> "notif", set_power_limit -> "power".
    stems = {max(r.kind.rsplit(".", 1)[-1].split("_"), key=len)[:5] for r in ex.records if r.kind}
    if not any(stem in s.lower() for stem in stems):
        return False
    return all(tok.strip(".:-/#") in ex.text for tok in _FIGURE.findall(s))


def digest(ex: Explanation) -> str:
    """One line from the records alone: what was done and how each ended, when last, and the newest reason."""
    if not ex.records:
        return ""  # the text already says the log holds nothing about it
    ended = {r.ref: r.outcome for r in ex.records if r.record == "outcome" and r.ref is not None}
    done: Counter[str] = Counter()
    for r in ex.records:
        if r.record == "intent":
            done[f"{r.kind} {r.target} {ended.get(r.seq) or 'without outcome yet'}"] += 1
        elif r.record == "decision" and r.verdict in ("deny", "approval"):
            done[f"{r.kind} {r.target} {'refused' if r.verdict == 'deny' else 'held for approval'}"] += 1
        elif r.record == "outcome" and r.ref is None:  # stopped by the safety rails before it ran
            done[f"{r.kind} {r.target} {r.outcome}"] += 1
        elif r.record == "event":
            done[f"{r.kind} {r.target}"] += 1
    if not done:  # decided, never carried out (observe mode)
        done.update(f"{r.kind} {r.target} decided" for r in ex.records if r.record == "decision")
    what = ", ".join(f"{k} x{n}" if n > 1 else k for k, n in done.items())
    why = next((r.rationale for r in reversed(ex.records) if r.rationale), "")
    out = f"{ex.target}: {what} (last {ex.records[-1].at:%Y-%m-%d %H:%M:%S %Z})"
    return out + (f"; why: {why}" if why else "")
