"""What the policy's `approval.min_confidence` buys: the LLM engine's text readings over every
hand-written held-out tail (tests/data/heldout*_logs.jsonl), at several thresholds.

    python bench/bench_gate.py [--thresholds 0.5 0.8 0.9 0.95 0.99] [--policy default]

For each threshold: the share of readings sure enough to act without a person (the guard asks one
below it), and of those, the share whose class leads to the same action as the true class (the
policy's fault-class table, per service or job) and the share naming the true class. The rules
engine (the policy's regexes; always sure) is read on the same tails as the baseline. One pass of
the model over ~1550 tails: about 6 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HELDOUT = sorted((ROOT / "tests" / "data").glob("heldout*_logs.jsonl"))


def shares(verdicts: list[tuple[bool, bool]]) -> str:
    k = max(len(verdicts), 1)
    right_action, right_class = (sum(v[i] for v in verdicts) / k for i in (0, 1))
    return f"of those: right action {right_action:6.1%}, right class {right_class:6.1%}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--thresholds", type=float, nargs="+", default=[0.5, 0.8, 0.9, 0.95, 0.99])
    ap.add_argument("--policy", default="default")
    a = ap.parse_args()

    from llmosd.engine.llm import load_judge
    from llmosd.engine.textclass import RegexJudge
    from llmosd.policy import load_policy

    policy, judge, rules = load_policy(a.policy), load_judge(budget_ms=None), RegexJudge()
    # Per tail: (engine confidence, same action as the truth, true class) for the model, and the
    # same two verdicts for the regexes.
    model: list[tuple[float, bool, bool]] = []
    regex: list[tuple[bool, bool]] = []
    for path in HELDOUT:
        for text in path.read_text().splitlines():
            if not text.strip():
                continue
            c = json.loads(text)
            ctx, want = c["context"], c["class"]
            act = getattr(policy.fault_classes[want], ctx)
            read = judge.classify(c["lines"], policy, ctx)
            got = read.fault_class
            model.append((read.confidence, getattr(policy.fault_classes[got], ctx) == act, got == want))
            got = rules.classify(c["lines"], policy, ctx).fault_class
            regex.append((getattr(policy.fault_classes[got], ctx) == act, got == want))

    n = len(model)
    print(f"{n} hand-written tails in {len(HELDOUT)} held-out sets; policy {a.policy!r} "
          f"(min_confidence {policy.approval.min_confidence})")  # fmt: skip
    for t in sorted(a.thresholds):
        unasked = [m[1:] for m in model if m[0] >= t]
        print(f"LLM engine, min_confidence {t:<5}  acts unasked {len(unasked) / n:6.1%}   " + shares(unasked))
    print(f"rules engine (always sure)       acts unasked {1:6.1%}   " + shares(regex))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
