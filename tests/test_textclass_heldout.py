"""The model against the regexes on log tails neither has seen.

Six sets of hand-written tails in tests/data (see its README), never used
for training: heldout_logs.jsonl, written before the judge's training corpus
existed; heldout2_logs.jsonl, written later against the generator of that
time; heldout3_logs.jsonl, written against the generator and both sets, in
programs and runtimes none of them uses; heldout4_logs.jsonl, the same against
all three, by a writer who did not read how the engine reads a log;
heldout5_logs.jsonl, by a writer who read neither the other sets, nor the
training tails, nor the engine's code; heldout6_logs.jsonl, the same, written
after the committed adapter was trained and read by it once; heldout7_logs.jsonl, written as
training tails for an adapter that was not adopted, then read once by the committed one.
On each, the LLM engine must stay at or above its floor, its reading must lead
to the true class's action as often as SAME_ACTION_FLOOR(S) says, its sure readings
must be right clearly more often than its unsure ones, and the model alone must read far
more than the policy's regexes (RegexJudge).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from llmosd.engine.llm import LlmJudge
from llmosd.engine.textclass import RegexJudge
from llmosd.policy import load_policy

DATA = Path(__file__).parent / "data"
POLICY = load_policy("default")
# The engine's floor on each set, a little under what the committed adapter reads (0.959, 0.898,
# 0.893, 0.840 and 0.924; the aim is 0.95). They hold the committed adapter: the same recipe
# at another seed reads a set up to 13 tails lower (seed 2: 0.951, 0.840, 0.858, 0.813, 0.924).
# On a CPU with native bf16 (model.bf16_down) the same adapter turns 7-19 readings a set, with as
# many right over all seven sets (1387 against 1385 in int8 alone), but set 3 falls to 0.867.
FLOORS = {
    "heldout_logs.jsonl": 0.94,
    "heldout2_logs.jsonl": 0.87,
    "heldout3_logs.jsonl": 0.86,
    "heldout4_logs.jsonl": 0.81,
    "heldout5_logs.jsonl": 0.90,
    "heldout6_logs.jsonl": 0.88,  # first read by the committed adapter, once: 0.907
    "heldout7_logs.jsonl": 0.82,  # read by the committed adapter, once: 0.847
}
# What a misreading costs is the action it leads to: many classes share one (a job's bad config,
# permission error or code bug all tell its owner). The committed adapter's reading leads to the
# true class's action on 0.942-0.975 of the first six sets' tails, and 0.934 of the seventh's: one
# tail over 0.93, where int8 kernels of another CPU may turn one reading, so its floor is 0.92.
# With native bf16 the sixth's is 0.929 (the seven sets' total is 1477 tails either way).
SAME_ACTION_FLOOR = 0.93
SAME_ACTION_FLOORS = {"heldout6_logs.jsonl": 0.92, "heldout7_logs.jsonl": 0.92}
# The confidence means something: raising `min_confidence` buys fewer wrong readings acting alone
# (bench/bench_gate.py). The committed adapter's readings at or above SURE_GATE name the true class
# 0.946-0.982 of the time on each set, those below it 0.512-0.793.
SURE_GATE = 0.9
SURE_GAP = 0.1


def cases(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("name", FLOORS)
def test_heldout_set_is_large_and_covers_every_class(name: str) -> None:
    got = cases(name)
    assert len(got) >= 180
    per_class = Counter(c["class"] for c in got)
    assert set(per_class) == set(POLICY.fault_classes)
    assert all(c["context"] in ("service", "job") for c in got)


@pytest.mark.model
@pytest.mark.parametrize("name", FLOORS)
def test_llm_engine_reads_the_heldout_tails_better_than_the_regexes(judge: LlmJudge, name: str) -> None:
    """Three readers of the same tails: the policy's regexes alone (the rules engine), the model
    alone (its most probable class), and the LLM engine's judge (the model, with the policy's
    declared patterns deciding where the model is unsure). It also counts how often the engine's
    reading leads to the action the true class leads to, and how many of its readings were sure
    enough that the confidence gate would not ask a person."""
    got = cases(name)
    rules = RegexJudge()
    right: Counter[str] = Counter()
    engine_miss = []
    right_by_sureness: dict[bool, list[bool]] = {True: [], False: []}
    for c in got:
        lines, context, want = c["lines"], c["context"], c["class"]
        right["regexes"] += rules.classify(lines, POLICY, context).fault_class == want
        read = judge.classify(lines, POLICY, context)
        assert judge.last is not None
        right["model"] += judge.last.best == want
        right["engine"] += read.fault_class == want
        outcomes = (getattr(POLICY.fault_classes[k], context) for k in (read.fault_class, want))
        right["same action"] += len(set(outcomes)) == 1
        if read.confidence >= POLICY.approval.min_confidence:  # below it, the guard asks a person
            right["unasked"] += 1
            right["unasked and right"] += read.fault_class == want
        right_by_sureness[read.confidence >= SURE_GATE].append(read.fault_class == want)
        if read.fault_class != want:
            engine_miss.append(f"{c['id']}: {want} read as {read.fault_class}")
    acc = {k: right[k] / len(got) for k in ("regexes", "model", "engine", "same action")}
    sure, unsure = (sum(v) / max(len(v), 1) for v in (right_by_sureness[True], right_by_sureness[False]))
    print(
        f"{name}: {len(got)} tails; "
        + ", ".join(f"{k} {v:.3f}" for k, v in acc.items())
        + f"; {right['unasked']} sure enough to act unasked, {right['unasked and right']} of them right"
        + f"; right {sure:.3f} at confidence >= {SURE_GATE}, {unsure:.3f} below"
    )
    assert acc["model"] > acc["regexes"] + 0.15  # the model alone already reads far more
    assert acc["engine"] >= FLOORS[name], "\n".join(engine_miss)
    assert acc["same action"] >= SAME_ACTION_FLOORS.get(name, SAME_ACTION_FLOOR), "\n".join(engine_miss)
    assert sure >= unsure + SURE_GAP, f"sure readings right {sure:.3f}, unsure ones {unsure:.3f}"
