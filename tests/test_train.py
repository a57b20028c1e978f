"""`llmosd train`'s trainer on the real embedded model, a few generated tails and a stand-in
clock: a run its time budget cannot hold still ends with its learning rate annealed."""

from __future__ import annotations

import itertools
import random
import re

import pytest

from llmosd.train.corpus import generate
from llmosd.train.lora import Trainer, fitted_steps

LR = 3e-3
ANNEALED = LR / 25 / 1e4  # where torch's OneCycleLR ends (its default div factors)


@pytest.fixture(scope="module")
def trainer() -> Trainer:
    t = Trainer(split=28, r=2, alpha=4, seed=1)  # two adapted layers: quick steps
    t.train_b = t.prepare([(e, False) for e in generate(24, 1)], 4)
    t.dev_b = t.prepare([(e, False) for e in generate(9, 2)], 9)
    t.attach()
    return t


def run_fit(t: Trainer, seconds: float, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    """Fit two epochs with `seconds` to the deadline, on a clock under which timing the first
    batches takes one second and nothing else takes any time."""
    ticks = itertools.chain([0.0], itertools.repeat(1.0))
    steps = t.fit(t.train_b, t.dev_b, lr=LR, epochs=2, aux=0.3, deadline=1.0 + seconds,
                  rng=random.Random(1), clock=lambda: next(ticks))  # fmt: skip
    return steps, capsys.readouterr().out.splitlines()


def final_lr(out: list[str]) -> float:
    return float(re.findall(r"learning rate (\S+)", out[-1])[0])


def test_a_budget_that_holds_the_run_takes_every_step(
    trainer: Trainer, capsys: pytest.CaptureFixture[str]
) -> None:
    steps, out = run_fit(trainer, 1e6, capsys)
    assert steps == 2 * len(trainer.train_b) == 12
    assert not any("holds" in line for line in out)
    assert final_lr(out) == pytest.approx(ANNEALED, rel=1e-3)


def test_a_short_budget_lays_the_schedule_over_the_steps_it_holds(
    trainer: Trainer, capsys: pytest.CaptureFixture[str]
) -> None:
    # Four of the six batches take a second, so two epochs and their dev reads take over 2 s.
    steps, out = run_fit(trainer, 1.2, capsys)
    assert 1 <= steps < 12
    assert re.search(rf"holds {steps} of 12 steps", out[0])
    assert final_lr(out) == pytest.approx(ANNEALED, rel=1e-3)  # ended annealed, not cut mid-way


def test_fitted_steps_scales_with_the_time_left() -> None:
    assert fitted_steps(100, need=50.0, left=100.0) == 100
    assert fitted_steps(100, need=100.0, left=50.0) == 46  # 8% of the time left kept spare
    assert fitted_steps(100, need=1e9, left=1.0) == 1
