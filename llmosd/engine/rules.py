"""Turning incidents into one ordered plan.

The same assembly serves both engines: with the `RegexJudge` it is the
deterministic rules engine (the baseline and the fallback); with the model's
judge it is the LLM engine. Only the reading of text and the ranking of tied
options differ.
"""

from __future__ import annotations

from dataclasses import dataclass

from llmosd.contract import Action, Snapshot, make_action
from llmosd.engine.candidates import Incident, Option, gpu_incidents, service_incidents
from llmosd.engine.jobs import job_incidents, orphan_incidents, queue_incidents
from llmosd.engine.textclass import Classified, RegexJudge, TextJudge
from llmosd.engine.upkeep import disk_incidents, update_incidents
from llmosd.policy import Policy


@dataclass
class Plan:
    actions: list[Action]
    rationale: str
    reads: list[Classified]  # the text readings that shaped the plan, the most severe incident's first

    @property
    def confidence(self) -> float | None:
        """The lowest text-reading confidence that shaped the plan; None if no text was read."""
        return min((r.confidence for r in self.reads), default=None)


def incidents(snap: Snapshot, policy: Policy, judge: TextJudge) -> list[Incident]:
    """Every incident in the snapshot, most severe first (stable within a severity)."""
    found = (
        gpu_incidents(snap, policy)
        + service_incidents(snap, policy, judge)
        + job_incidents(snap, policy, judge)
        + orphan_incidents(snap, policy)
        + disk_incidents(snap, policy)
        + queue_incidents(snap, policy)
        + update_incidents(snap, policy)
    )
    return sorted(found, key=lambda i: -i.severity)


def _choose(inc: Incident, judge: TextJudge) -> Option:
    if not inc.tie:
        return inc.options[0]
    scores = judge.rank(inc.text, [o.trigger for o in inc.options])
    best = max(range(len(inc.options)), key=lambda i: (scores[i], -i))
    return inc.options[best]


def make_plan(snap: Snapshot, policy: Policy, judge: TextJudge | None = None) -> Plan:
    judge = judge or RegexJudge()
    actions: list[Action] = []
    seen: set[tuple[str, str]] = set()
    said: list[str] = []
    reads: list[Classified] = []
    for inc in incidents(snap, policy, judge):
        option = _choose(inc, judge)
        fresh = [a for a in option.actions if a.key() not in seen]
        if not fresh:
            continue
        seen.update(a.key() for a in fresh)
        actions.extend(fresh)
        said.append(f"{inc.summary}: {option.says}.")
        if inc.classified is not None:
            reads.append(inc.classified)
    if not actions:
        return Plan(
            [make_action("noop")],
            "Nothing needs doing: no fault, no queued work that fits, no pending change.",
            [],
        )
    return Plan(actions, " ".join(said), reads)
