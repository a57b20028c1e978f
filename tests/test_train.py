"""`llmosd train`'s trainer on the real embedded model, a few generated tails and a stand-in
clock: a run its time budget cannot hold still ends with its learning rate annealed, and one
that cannot hold a single epoch is refused before it trains."""

from __future__ import annotations

import itertools
import random
import re

import pytest
import torch

from llmosd.engine.prompt import LOG_TOKENS
from llmosd.errors import UsageError
from llmosd.train.corpus import CLASSES, Example, generate
from llmosd.train.lora import (
    SLACK,
    TRAIN_LOG_TOKENS,
    Trainer,
    budgeted,
    encode,
    fitted_steps,
    probes,
    run_seconds,
    tokens,
)

LR = 3e-3
ANNEALED = LR / 25 / 1e4  # where torch's OneCycleLR ends (its default div factors)


@pytest.fixture(scope="module")
def trainer() -> Trainer:
    t = Trainer(split=28, r=2, alpha=4, seed=1)  # two adapted layers: quick steps
    t.train_b = t.prepare(budgeted(generate(24, 1), []), 4)
    t.dev_b = t.prepare(budgeted(generate(9, 2), []), 9)
    t.attach()
    return t


def run_fit(t: Trainer, seconds: float, capsys: pytest.CaptureFixture[str] | None) -> tuple[int, list[str]]:
    """Fit two epochs with `seconds` to the deadline, on a clock under which timing the first
    batches takes one second and nothing else takes any time."""
    ticks = itertools.chain([0.0], itertools.repeat(1.0))
    steps = t.fit(t.train_b, t.dev_b, lr=LR, epochs=2, aux=0.3, deadline=1.0 + seconds,
                  rng=random.Random(1), clock=lambda: next(ticks))  # fmt: skip
    return steps, capsys.readouterr().out.splitlines() if capsys else []


def final_lr(out: list[str]) -> float:
    return float(re.findall(r"learning rate (\S+)", out[-1])[0])


def test_a_budget_that_holds_the_run_takes_every_step(
    trainer: Trainer, capsys: pytest.CaptureFixture[str]
) -> None:
    steps, out = run_fit(trainer, 1e6, capsys)
    assert steps == 2 * len(trainer.train_b) == 12
    assert not any("holds" in line for line in out)
    assert final_lr(out) == pytest.approx(ANNEALED, rel=1e-3)


def need(t: Trainer) -> float:
    """Seconds two epochs and their dev reads take on run_fit's clock, as the trainer plans them
    (timing `probes` takes one second)."""
    return run_seconds(1 / tokens(probes(t.train_b)), 2, t.train_b, t.dev_b)


def test_a_short_budget_lays_the_schedule_over_the_steps_it_holds(
    trainer: Trainer, capsys: pytest.CaptureFixture[str]
) -> None:
    steps, out = run_fit(trainer, need(trainer) * 0.76 / (1 - SLACK), capsys)
    assert steps == 9  # three quarters of 12
    assert re.search(r"holds 9 of 12 steps", out[0])
    assert final_lr(out) == pytest.approx(ANNEALED, rel=1e-3)  # ended annealed, not cut mid-way


def test_a_budget_under_one_epoch_trains_nothing_and_says_how_much_more(trainer: Trainer) -> None:
    before = {n: p.detach().clone() for n, p in trainer.peft.named_parameters() if p.requires_grad}
    with pytest.raises(
        UsageError, match=r"holds 3 of 12 training steps, under one epoch.*--minutes about 1 more"
    ):
        run_fit(trainer, need(trainer) * 0.26 / (1 - SLACK), None)  # a quarter of the steps
    after = dict(trainer.peft.named_parameters())
    assert all(torch.equal(before[n], after[n]) for n in before)  # the adapter was not touched


def test_fitted_steps_scales_with_the_time_left() -> None:
    assert fitted_steps(100, need=50.0, left=100.0) == 100
    assert fitted_steps(100, need=100.0, left=50.0) == 46  # 8% of the time left kept spare
    assert fitted_steps(100, need=1e9, left=1.0) == 0
    assert fitted_steps(100, need=50.0, left=-5.0) == 0  # the deadline passed while preparing


def test_a_hand_written_tail_is_taught_the_cause_the_judge_will_read(trainer: Trainer) -> None:
    """A cause line that only the judge's longer log budget reaches is taught as the tail's class
    for a hand-written or audited tail; a generated one is cut shorter and taught `unknown`."""
    count = lambda s: len(trainer.tok.encode(s, add_special_tokens=False)) + 1  # noqa: E731
    cause = "listen tcp 0.0.0.0:8443: bind: address already in use"
    after: list[str] = []
    while sum(map(count, after)) <= TRAIN_LOG_TOKENS:
        after.append(f"INFO worker {len(after)}: heartbeat ok")
    assert sum(map(count, after)) + count(cause) <= LOG_TOKENS  # the judge reads the cause line
    tail = Example([cause, *after], "service", "port_in_use", 0, template="")
    (generated, _, short), (written, refused, whole) = budgeted([tail], [(tail, True)])
    assert CLASSES[encode(trainer.tok, generated, False, short).label] == "unknown"
    assert CLASSES[encode(trainer.tok, written, refused, whole).label] == "port_in_use"
