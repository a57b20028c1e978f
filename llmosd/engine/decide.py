"""Which engine decides, the fallback to rules, the guard, and the timing.

Every decision names its engine: `llm` when the model read the text, `rules`
when it did not (asked for, model unavailable, or slower than its budget).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from llmosd import guard
from llmosd.contract import Decision, HistoryEntry, Mode, Snapshot, load_snapshot
from llmosd.engine.prompt import LOG_TOKENS
from llmosd.engine.rules import make_plan
from llmosd.engine.textclass import TextJudge
from llmosd.errors import ModelError
from llmosd.policy import Policy, load_policy

log = logging.getLogger(__name__)
Engine = Literal["rules", "llm"]


def decide(
    snap: Snapshot,
    policy: Policy,
    *,
    judge: TextJudge | None = None,
    history: list[HistoryEntry] | None = None,
    mode: Mode | None = None,
) -> Decision:
    """Plan with `judge` (None: the rules engine) and pass the plan through the guard."""
    start = time.perf_counter()
    plan = make_plan(snap, policy, judge)
    judged = guard.judge(plan.actions, snap, policy, history=history, mode=mode, confidence=plan.confidence)
    first = plan.reads[0] if plan.reads else None  # the most severe incident's reading
    return Decision(
        scenario=snap.id,
        engine="rules" if judge is None or judge.name == "rules" else "llm",
        actions=judged,
        rationale=plan.rationale,
        latency_ms=(time.perf_counter() - start) * 1000,
        confidence=plan.confidence,
        fault_class=first.fault_class if first else None,
        reader=first.reader if first else None,
    )


def load_engine(
    engine: Engine,
    model: str | None = None,
    device: str = "cpu",
    int8: bool = True,
    log_tokens: int = LOG_TOKENS,
) -> tuple[TextJudge | None, str]:
    """(the judge for `engine`, or None for the rules; why the rules decide though the model was
    asked for, else ""). A model that cannot load falls back to rules, loudly."""
    if engine == "rules":
        return None, ""
    from llmosd.engine.llm import load_judge

    try:
        return load_judge(model=model, device=device, int8=int8, log_tokens=log_tokens), ""
    except ModelError as e:
        log.warning("model unavailable, the rules engine decides: %s", e)
        return None, str(e)


def replay_files(
    files: list[str], *, engine: Engine = "rules", policy: str | None = None, model: str | None = None
) -> Iterator[Decision]:
    """Decide on each scenario file in order; the model is loaded once for all of them."""
    snaps = [load_snapshot(Path(f)) for f in files]  # refuse a bad file before any work
    judge, _ = load_engine(engine, model=model)  # load_engine logs why a model fell back
    policies: dict[str, Policy] = {}
    for snap in snaps:
        name = policy or snap.policy
        if name not in policies:
            policies[name] = load_policy(name)
        yield decide(snap, policies[name], judge=judge)
