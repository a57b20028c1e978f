"""`llmosd replay --compare A B`: the same incidents through two engines, models or policies.

A side is written `ENGINE[:MODEL][@POLICY]`: `rules`, `llm`, `llm:/models/qwen2.5-7b`,
`rules@strict`, `llm@policies/lab.yaml`. Without a policy each scenario's own
is used. Each model is loaded once. Only the scenarios where the two plans
differ (kinds, targets, parameters or verdicts) are printed, then a summary that
also says how many texts each side's model read itself (the rest its policy's patterns read).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmosd.contract import Decision, load_snapshot
from llmosd.engine.decide import decide, load_engine
from llmosd.engine.textclass import TextJudge
from llmosd.errors import UsageError
from llmosd.policy import Policy, load_policy


@dataclass(frozen=True)
class Side:
    text: str
    engine: str
    model: str | None
    policy: str | None


def parse_side(text: str) -> Side:
    rest, _, policy = text.partition("@")
    engine, _, model = rest.partition(":")
    if engine not in ("rules", "llm"):
        raise UsageError(f"--compare: {text!r}: the engine is rules or llm (ENGINE[:MODEL][@POLICY])")
    if model and engine == "rules":
        raise UsageError(f"--compare: {text!r}: the rules engine takes no model")
    return Side(text, engine, model or None, policy or None)


def plan(d: Decision) -> list[tuple[Any, ...]]:
    return [(j.action.kind, j.action.target, repr(sorted(j.action.wire()["params"].items())), j.verdict)
            for j in d.actions]  # fmt: skip


def brief(d: Decision) -> str:
    acts = ", ".join(f"{j.action.kind} {j.action.target}".strip() + f" ({j.verdict})" for j in d.actions)
    ok = d.fault_class and d.confidence is not None
    read = f" [{d.fault_class} {d.confidence:.2f} by {d.reader}]" if ok else ""
    return f"{d.engine}: {acts}{read}"


def compare(files: list[str], a: Side, b: Side) -> Iterator[tuple[Decision, Decision]]:
    """Both sides' decisions on each scenario, in file order."""
    snaps = [load_snapshot(Path(f)) for f in files]  # refuse a bad file before loading any model
    judges: dict[tuple[str, str | None], TextJudge | None] = {}
    for s in (a, b):
        if (s.engine, s.model) not in judges:
            judges[(s.engine, s.model)] = load_engine(s.engine, model=s.model)[0]  # type: ignore[arg-type]
    policies: dict[str, Policy] = {}

    def policy(side: Side, own: str) -> Policy:
        name = side.policy or own
        if name not in policies:
            policies[name] = load_policy(name)
        return policies[name]

    for snap in snaps:
        yield tuple(  # type: ignore[misc]
            decide(snap, policy(s, snap.policy), judge=judges[(s.engine, s.model)]) for s in (a, b)
        )


def report(files: list[str], a: Side, b: Side, write: Any = print) -> int:
    """Print the differing scenarios and a summary; returns how many differ.

    The summary says, per side, how many of the scenarios whose text was read were read by a model
    rather than by the policy's patterns: a model without an adapter of its own reads few."""
    n = differ = 0
    read = {"A": [0, 0], "B": [0, 0]}  # side -> [read by a model, texts read]
    for da, db in compare(files, a, b):
        n += 1
        for side, d in (("A", da), ("B", db)):
            if d.reader is not None:
                read[side][0] += d.reader == "model"
                read[side][1] += 1
        if plan(da) != plan(db):
            differ += 1
            write(f"{da.scenario}\n  A {a.text} -> {brief(da)}\n  B {b.text} -> {brief(db)}")
    by_model = ", ".join(f"{side} {m} of {t}" for side, (m, t) in read.items())
    write(f"{n} scenarios, {differ} differ (A = {a.text}, B = {b.text}); texts read by a model: {by_model}")
    return differ
