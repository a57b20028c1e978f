"""Training material for the LLM engine: the log-tail corpus generator and the LoRA trainer."""
