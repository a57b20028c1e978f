"""Training material for the LLM engine: the log-tail corpus generator and the LoRA trainer."""

# `llmosd train`'s settings, here rather than in lora.py so that the CLI's help can quote them
# without importing the trainer. The corpus is 3000 generated tails and each hand-written tail
# (written.py) twice. Against 4000 generated tails alone at the same seed, the LLM engine reads
# the four held-out sets at 0.955, 0.862, 0.858 and 0.804 instead of 0.943, 0.853, 0.840 and
# 0.778 (15 tails more; at seed 2, 17 more: 793 against 776; a seed alone moves a set by up to 6).
DEFAULTS = {"examples": 3000, "written": 2, "seed": 1, "holdout": 0.2, "split": 24, "r": 8, "alpha": 16,
            "lr": 3e-3, "batch": 24, "epochs": 2, "aux": 0.3, "compose": 0.3, "minutes": 44.0}  # fmt: skip
