"""The model against the regexes on log tails neither has seen.

tests/data/heldout_logs.jsonl was written for this test, before the judge's
training corpus existed, with programs and wordings absent from the corpus
templates; it is never used for training. The
LLM engine must stay at or above FLOOR on it, and the model alone must read
far more of it than the policy's regexes (RegexJudge).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from llmosd.engine.llm import LlmJudge
from llmosd.engine.textclass import RegexJudge
from llmosd.policy import load_policy

HELDOUT = Path(__file__).parent / "data" / "heldout_logs.jsonl"
POLICY = load_policy("default")
FLOOR = 0.92  # measured 0.930 with the committed adapter (the aim is 0.95: not reached yet)


def cases() -> list[dict]:
    return [json.loads(line) for line in HELDOUT.read_text().splitlines() if line.strip()]


def test_heldout_set_is_large_and_covers_every_class() -> None:
    got = cases()
    assert len(got) >= 200
    per_class = Counter(c["class"] for c in got)
    assert set(per_class) == set(POLICY.fault_classes)
    assert all(c["context"] in ("service", "job") for c in got)


@pytest.mark.model
def test_llm_engine_reads_the_heldout_tails_better_than_the_regexes(judge: LlmJudge) -> None:
    """Three readers of the same tails: the policy's regexes alone (the rules engine), the model
    alone (its most probable class), and the LLM engine's judge (the model, with the policy's
    declared patterns deciding where the model is unsure)."""
    got = cases()
    rules = RegexJudge()
    classes = list(POLICY.fault_classes)
    right: Counter[str] = Counter()
    engine_miss = []
    for c in got:
        lines, context, want = c["lines"], c["context"], c["class"]
        right["regexes"] += rules.classify(lines, POLICY, context).fault_class == want
        right["model"] += judge.read(lines, classes, context).best == want
        read = judge.classify(lines, POLICY, context).fault_class
        right["engine"] += read == want
        if read != want:
            engine_miss.append(f"{c['id']}: {want} read as {read}")
    acc = {k: right[k] / len(got) for k in ("regexes", "model", "engine")}
    print(f"held-out log tails: {len(got)}; " + ", ".join(f"{k} {v:.3f}" for k, v in acc.items()))
    assert acc["model"] > acc["regexes"] + 0.15  # the model alone already reads far more
    assert acc["engine"] >= FLOOR, "\n".join(engine_miss)
