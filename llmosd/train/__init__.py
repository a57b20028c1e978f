"""Training material for the LLM engine: the log-tail corpus generator and the LoRA trainer."""

# `llmosd train`'s settings, here rather than in lora.py so that the CLI's help can quote them
# without importing the trainer.
DEFAULTS = {"examples": 4000, "seed": 1, "holdout": 0.2, "split": 24, "r": 8, "alpha": 16, "lr": 3e-3,
            "batch": 24, "epochs": 2, "aux": 0.3, "compose": 0.3, "minutes": 44.0}  # fmt: skip
