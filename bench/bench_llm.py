"""LLM engine speed: judge load (cold GGUF, cached), peak RSS, and per-call latency.

    python bench/bench_llm.py [--calls 100] [--threads 2] [--skip-cold]

Loads run in child processes (a fresh interpreter each, as the daemon
starts): "cold" converts the GGUF into an empty cache dir, "cached" reads the
converted safetensors; each child reports its own wall time, peak RSS and RSS once loaded.
Then, in this process: the text judgement (`classify`) on generated log tails
(a fixed seed) and, timed only, on each set of hand-written journal and job
tails in tests/data/heldout*_logs.jsonl (longer: most fill the prompt's log budget),
`rank` with two options, the shipped CPU numerics (int8, bf16) against fp32 on the written tails, and a
whole decision (`decide`) on every scenario file, each as p50/p95 against
the rules engine (RegexJudge) on the same inputs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

CHILD = """
import json, resource, time, psutil
t = time.perf_counter()
from llmosd.engine.llm import load_judge
judge = load_judge(budget_ms=None)
print(json.dumps({"seconds": time.perf_counter() - t, "in_loader": judge.loaded.seconds,
                  "converted": judge.loaded.converted, "rss_mib": psutil.Process().memory_info().rss / 2**20,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from shared import SCENARIOS as SHARED_DEV  # noqa: E402  (where the team's cases are: one rule, the tests')

SCENARIOS = sorted((ROOT / "tests" / "scenarios").glob("*.json")) + sorted(SHARED_DEV.glob("*.json"))
HELDOUT = sorted((ROOT / "tests" / "data").glob("heldout*_logs.jsonl"))


def child_load(cache: str | None) -> dict[str, float]:
    """The judge as the daemon loads it (model, adapter, int8), in a fresh interpreter;
    `cache`: a model cache dir to use instead of the user's."""
    env = {**os.environ, **({"LLMOSD_CACHE_DIR": cache} if cache else {})}
    p = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, cwd=ROOT, env=env)
    if p.returncode:
        sys.exit(f"load failed: {p.stderr[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def line(name: str, ms: list[float], base: list[float] | None = None) -> str:
    out = f"{name:<28} p50 {pct(ms, 0.5):8.1f} ms   p95 {pct(ms, 0.95):8.1f} ms"
    if base:
        out += f"   (rules p50 {pct(base, 0.5):.2f} ms; x{pct(ms, 0.5) / max(pct(base, 0.5), 1e-6):.0f})"
    return out


def timed(fn: Callable[[Any], object], items: list[Any]) -> list[float]:
    out = []
    for it in items:
        t0 = time.perf_counter()
        fn(it)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def interleaved(items: list[Any], variants: dict[str, Callable[[Any], object]]) -> dict[str, list[float]]:
    """Each variant timed on each item, their order alternating per item, so that a busy
    machine weighs on all alike."""
    ms: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for i, it in enumerate(items):
        for name in names if i % 2 else names[::-1]:
            ms[name] += timed(variants[name], [it])
    return ms


def head_cache_ab(items: list[Any], call: Callable[[Any], object]) -> None:
    """The same judge with and without its prompt-head KV cache."""
    import contextlib

    from llmosd.engine.llm import LlmJudge

    @contextlib.contextmanager
    def whole_pass(self: LlmJudge, ids: list[int], head: str) -> Iterator[tuple[Any, int]]:
        yield None, 0

    cached = LlmJudge._after_head

    def using(way: Any) -> Callable[[Any], object]:
        def run(it: Any) -> object:
            LlmJudge._after_head = way  # type: ignore[method-assign]
            return call(it)

        return run

    try:
        ms = interleaved(items, {"cache": using(cached), "whole": using(whole_pass)})
    finally:
        LlmJudge._after_head = cached  # type: ignore[method-assign]
    ratio = pct(ms["cache"], 0.5) / pct(ms["whole"], 0.5)
    print(line("classify, head cache", ms["cache"]) + f"   (x{ratio:.2f} of the whole pass)")
    print(line("classify, whole pass", ms["whole"]))


def numerics_ab(shipped: Any, fp32: Any, held: list[dict[str, Any]], classes: list[str]) -> None:
    """The shipped CPU judge (int8, and bf16 where the CPU has it) against the same model in
    fp32, on the written tails: latency and how often the two read the same class."""
    tag = shipped.model_name[len(fp32.model_name) :].lstrip("+") or "as loaded"
    best: dict[str, list[str]] = {tag: [], "fp32": []}  # per tail, in order: each runs once per tail

    def read(name: str, judge: Any) -> Callable[[Any], object]:
        return lambda c: best[name].append(judge.read(c["lines"], classes, c["context"]).best)

    ms = interleaved(held, {tag: read(tag, shipped), "fp32": read("fp32", fp32)})
    same = sum(a == b for a, b in zip(best[tag], best["fp32"], strict=True))
    ratio = pct(ms[tag], 0.5) / pct(ms["fp32"], 0.5)
    print(line(f"read, written tails, {tag}", ms[tag]) + f"   (x{ratio:.2f} of fp32)")
    print(line("read, written tails, fp32", ms["fp32"]) + f"   same class {same}/{len(held)}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-cold", action="store_true", help="skip the ~20-60 s GGUF conversion")
    a = ap.parse_args()

    import torch

    torch.set_num_threads(a.threads)
    print(f"torch threads: {torch.get_num_threads()}")
    if not a.skip_cold:
        with tempfile.TemporaryDirectory() as tmp:
            cold = child_load(tmp)
        rss = cold["peak_rss_mib"]
        print(f"load, cold GGUF (converts):  {cold['seconds']:.1f} s, peak RSS {rss:.0f} MiB")
    child_load(None)  # make sure the user's cache holds the conversion
    warm = child_load(None)
    print(f"load, cached safetensors:    {warm['seconds']:.1f} s, peak RSS {warm['peak_rss_mib']:.0f} MiB, "
          f"{warm['rss_mib']:.0f} MiB once loaded (model {warm['in_loader']:.1f} s)")  # fmt: skip

    from llmosd.contract import load_snapshot
    from llmosd.engine.decide import decide
    from llmosd.engine.llm import load_judge
    from llmosd.engine.textclass import RegexJudge
    from llmosd.policy import load_policy
    from llmosd.train.corpus import generate

    t = time.perf_counter()
    judge = load_judge(budget_ms=None)
    print(f"load_judge in this process: {time.perf_counter() - t:.1f} s (model, adapter merge, int8/bf16)")
    policy, rules = load_policy("default"), RegexJudge()
    logs = generate(a.calls, seed=12345)
    judge.classify(logs[0].lines, policy, logs[0].context)  # first call pays one-off allocations

    tokens: list[int] = []  # each timed classify's prompt length, read off the judge's last reading

    def classify(lines: list[str], context: str) -> None:
        judge.classify(lines, policy, context)
        assert judge.last is not None  # classify always keeps its reading
        tokens.append(judge.last.tokens)

    llm_c = timed(lambda e: classify(e.lines, e.context), logs)
    rx_c = timed(lambda e: rules.classify(e.lines, policy, e.context), logs)
    print(line("text judgement (classify)", llm_c, rx_c) + f"   prompt ~{statistics.mean(tokens):.0f} tokens")
    written = {p.stem: [json.loads(t) for t in p.read_text().splitlines() if t.strip()] for p in HELDOUT}
    for name, held in written.items():
        tokens.clear()
        llm_h = timed(lambda c: classify(c["lines"], c["context"]), held)
        mean = statistics.mean(tokens)
        print(line(f"classify, {len(held)} tails of {name}", llm_h) + f"   prompt ~{mean:.0f} tokens")
    opts = ["a passing fault that a fresh start fixes",
            "the new release is broken and the previous one worked"]  # fmt: skip
    ranked = timed(lambda e: judge.rank(e.lines, opts), logs[: a.calls // 2])
    print(line("tie ranking (rank, 2 opts)", ranked))
    head_cache_ab(logs[: a.calls // 2], lambda e: judge.classify(e.lines, policy, e.context))
    first = written["heldout_logs"][: a.calls]  # the set earlier notes' int8 figures were taken on
    numerics_ab(judge, load_judge(budget_ms=None, int8=False), first, list(policy.fault_classes))
    snaps = [load_snapshot(p) for p in SCENARIOS]
    pols = {s.policy: load_policy(s.policy) for s in snaps}
    llm_d = timed(lambda s: decide(s, pols[s.policy], judge=judge), snaps * 2)
    rx_d = timed(lambda s: decide(s, pols[s.policy]), snaps * 2)
    print(line(f"whole decision ({len(snaps)} scen.)", llm_d, rx_d))
    reading = [s for s in snaps if any(x.state == "failed" for x in s.services) or
               any(j.state == "failed" for j in s.jobs)]  # fmt: skip
    read_d = timed(lambda s: decide(s, pols[s.policy], judge=judge), reading * 3)
    print(line(f"decision reading text ({len(reading)})", read_d))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
