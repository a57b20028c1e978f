"""Training material for the LLM engine: the log-tail corpus generator and the LoRA trainer."""

# `llmosd train`'s settings, here rather than in lora.py so that the CLI's help can quote them
# without importing the trainer. The corpus is generated only: 310 realistic hand-written tails
# (twice each, with 3000 generated) read the third held-out set better (engine 0.853 against
# 0.827) but the second worse (0.831 against 0.849), so they were not kept.
DEFAULTS = {"examples": 4000, "seed": 1, "holdout": 0.2, "split": 24, "r": 8, "alpha": 16, "lr": 3e-3,
            "batch": 24, "epochs": 2, "aux": 0.3, "compose": 0.3, "minutes": 44.0}  # fmt: skip
