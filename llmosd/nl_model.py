"""The NL label model: the embedded LM plus a LoRA adapter, read as a closed choice.

`rank` runs one forward pass per batch of texts and reads, at the last token
of `PROMPT`, the probability of each label's first token (the label words of
nl.LABELS start with distinct tokens), renormalised over the labels alone:
whatever the model would have generated, the answer is one of the labels.

The adapter (`data/nl_lora.safetensors`, written by nl_train.py in the LLM
engine's adapter format) holds LoRA matrices for the upper decoder layers;
they are merged into this labeler's own copy of the model (engine/model.py
loads and caches it), so the text judge's model is never touched.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from llmosd.contract import Command
from llmosd.engine.model import load_model, merge_lora
from llmosd.errors import ModelError
from llmosd.explain import digest, grounded
from llmosd.nl import LABELS, parse
from llmosd.protocol import Explanation

log = logging.getLogger(__name__)
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
            trained = json.loads(merge_lora(model, adapter).get("labels", "[]"))
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


def load_labeler(adapter: Path = ADAPTER, model: str | None = None) -> LabelModel:
    """The NL labeler on its own copy of the model (the adapter is merged into it)."""
    loaded = load_model(model)
    return LabelModel(loaded.model, loaded.tok, adapter=adapter)


def summarise(model: Any, tok: Any, ex: Explanation, max_new_tokens: int = 60) -> str:
    """One or two sentences on what the records say, written by the model; the records stay the answer.
    "" when the model had not finished at `max_new_tokens`."""
    import torch

    lines = ex.text.splitlines()[-12:]  # the newest records matter most; the prompt stays short
    ask = f"Why was {ex.target} acted on? Records:\n" + "\n".join(lines)
    chat = [{"role": "system", "content": "You summarise a server's audit log for its admin. Be brief."},
            {"role": "user", "content": ask}]  # fmt: skip
    ids = tok.apply_chat_template(chat, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.inference_mode():
        out = model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False)
    new = out[0, ids["input_ids"].shape[1] :]
    if len(new) >= max_new_tokens and int(new[-1]) != tok.eos_token_id:
        return ""  # cut off mid-sentence by the token limit: no summary rather than half of one
    return str(tok.decode(new, skip_special_tokens=True)).strip()


class Summariser:
    """`Server(summarise=...)`: summaries from the un-adapted model, loaded on the first request only.
    A summary that is not `grounded` in the records gives way to their `digest`."""

    def __init__(self, model: str | None = None):
        self.model = model
        self._loaded: Any = None
        self._lock = threading.Lock()

    def __call__(self, ex: Explanation) -> str:
        with self._lock:
            if self._loaded is None:
                self._loaded = load_model(self.model)
            text = summarise(self._loaded.model, self._loaded.tok, ex)
        if grounded(text, ex):
            return text
        log.info("explain %s: the model's summary is not grounded in the records; their digest stands in: %r",
                 ex.target, text)  # fmt: skip
        return digest(ex)


class Parser:
    """`Server(parse=...)`: plain-language commands, the labeler loaded on the first request only,
    so a daemon nobody talks to never holds a second copy of the model."""

    def __init__(self, model: str | None = None):
        self.model = model
        self._labeler: LabelModel | None = None
        self._lock = threading.Lock()

    def __call__(self, text: str, now: datetime | None) -> Command:
        with self._lock:
            if self._labeler is None:
                self._labeler = load_labeler(model=self.model)
        return parse(text, now, self._labeler)
