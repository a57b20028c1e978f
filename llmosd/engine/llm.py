"""The LLM engine's text judge: a local causal LM reads log tails (CONTRACT §5, fault classes).

`classify` runs ONE forward pass over a short prompt (prompt.py; the KV cache
of its fixed head, the class list included, is computed once and reused, so a
call computes the log and six more tokens) and reads,
at its last token, the logits of each class's label word; their softmax is
the confidence. The same pass gives the label logits at the end of every log
line, and the line where the chosen class gained most is quoted as the
evidence: it is a line of the log, never text the model wrote. When the
model is unsure (below SURE) or finds no cause (`unknown`), and one of the
policy's declared fault patterns matches, the pattern decides, as it would in
the rules engine.

`rank` scores trigger descriptions as continuations of one shared prompt
(the same head, then the log), reusing its KV cache for every option, minus each description's
score after an empty log, so a description is not preferred for being
common words (pointwise mutual information).

The embedded model carries a LoRA adapter trained by `llmosd train`
(data/adapter/); another model runs as it is, with the same prompts.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmosd.engine.model import Loaded, bf16_down, load_model, merge_lora, quantize_int8
from llmosd.engine.prompt import (
    LOG_TOKENS,
    SIGNATURE,
    TAIL,
    classify_prompt,
    keep,
    label_words,
    rank_prefix,
    token_counter,
)
from llmosd.engine.textclass import Classified, RegexJudge, clip
from llmosd.errors import ModelError
from llmosd.policy import Policy

log = logging.getLogger(__name__)
ADAPTER = Path(__file__).resolve().parent.parent / "data" / "adapter" / "judge_lora.safetensors"
BUDGET_MS = 2000.0  # a text judgement slower than this is refused, and the rules read the text
# Below this probability the model is unsure, and a fault pattern the operator wrote into the
# policy, if one matches, decides instead: a declared pattern is the site's own knowledge. So it
# does when the model, however sure, finds no cause: with the committed adapter that reads 2 more
# of the five held-out sets' 1144 tails (1001); with the embedded model bare, as another model
# without an adapter of its own runs, 297 of sets 1 and 5 instead of 283, where the regexes
# alone read 292. Where no pattern matches a log read as `unknown`, taking the class that some
# line end read above even odds was measured too: 8 more right on sets 1-4, 3 fewer on set 5
# (`unknown` tails read as transient), so the model's `unknown` stands. Summing the classes'
# probabilities per action first and answering the likeliest class of the likeliest action led to
# the true class's action on 1098 of those 1144 tails against 1101, and named the class on 1028
# against 1034: the answer stays the likeliest class. Where a sure model and a declared pattern name
# different classes, the model stands and acts unasked: over all seven held-out sets (1552 tails)
# that happened 35 times, the pattern right 5 times and the model 29; asking a person there would
# have kept 4 of the 49 unasked readings leading to a wrong action from acting (the bar was a third).
SURE = 0.8


@dataclass
class Reading:
    """What one classifying pass saw and concluded (for tests, benchmarks and `--compare`)."""

    probs: dict[str, float]  # class -> probability, over the classes asked about
    kept: list[int]  # indexes of the clipped input lines the prompt kept, oldest first
    line_gain: list[float]  # per kept line: how much it raised the chosen class's log-probability
    tokens: int
    ms: float

    @property
    def best(self) -> str:
        return max(self.probs, key=lambda c: self.probs[c])


class LlmJudge:
    """A `TextJudge` over a loaded causal LM (adapter already merged)."""

    name = "llm"

    def __init__(
        self,
        loaded: Loaded,
        budget_ms: float | None = BUDGET_MS,
        adapter: str = "",
        numerics: str = "",
        log_tokens: int = LOG_TOKENS,
    ):
        self.lm, self.tok = loaded.model, loaded.tok
        self._count = token_counter(loaded.tok)
        # numerics: how the CPU runs it, when not as loaded ("+int8", "+int8+bf16"); the audit names it
        self.model_name = loaded.name + (f"+{adapter}" if adapter else "") + numerics
        self.budget_ms = budget_ms
        self.log_tokens = log_tokens  # of each log the prompt keeps
        self.loaded = loaded
        self._lock = threading.Lock()  # one forward pass at a time on this model
        self._label_ids: dict[tuple[str, ...], list[int]] = {}
        self._prior: dict[str, float] = {}  # option -> its score after an empty log
        self._heads: dict[str, tuple[list[int], Any, Any]] = {}  # see _head
        # The last `classify`'s reading: the model's own answer, before a declared pattern overrules it.
        self.last: Reading | None = None

    # ------------------------------------------------------------ helpers

    def label_ids(self, classes: Sequence[str]) -> list[int]:
        key = tuple(classes)
        if key not in self._label_ids:
            self._label_ids[key] = label_token_ids(self.tok, classes, self.model_name)
        return self._label_ids[key]

    def _head(self, head: str) -> tuple[list[int], Any, Any]:
        """The prompt head's tokens, its KV cache and its hidden states, computed once per head.

        Every prompt, classifying or ranking, starts with one of a few fixed
        heads; reusing their cache saves their share of each forward pass."""
        import torch

        if head not in self._heads:
            ids = self.tok.encode(head)
            tensor = torch.tensor([ids], device=self.loaded.device)
            out = self.lm.get_decoder()(input_ids=tensor, use_cache=True)
            self._heads[head] = (ids, out.past_key_values, out.last_hidden_state[0])
        return self._heads[head]

    @contextlib.contextmanager
    def _after_head(self, ids: list[int], head: str) -> Iterator[tuple[Any, int]]:
        """(cache, n): the head's KV cache and token count where `ids` starts with the head's
        tokens, else (None, 0); on leaving, the cache is cropped back to the head alone.

        A tokenizer that merges the head's last token with the log's first
        does not start with it, and takes the whole pass."""
        hids, cache, _ = self._head(head)
        n = len(hids)
        if ids[:n] != hids or len(ids) == n:
            yield None, 0
            return
        try:
            yield cache, n
        finally:
            grown = cache.get_seq_length() - n
            if grown > 0:
                cache.crop(-grown)

    def _hidden(self, ids: list[int], head: str) -> Any:
        """Hidden states of every token of `ids`, through the head's cache where it applies."""
        import torch

        decoder = self.lm.get_decoder()
        with self._after_head(ids, head) as (cache, n):
            rest = torch.tensor([ids[n:]], device=self.loaded.device)
            h = decoder(input_ids=rest, past_key_values=cache, use_cache=n > 0).last_hidden_state[0]
        return torch.cat([self._head(head)[2], h]) if n else h

    # ------------------------------------------------------------ classify

    def read(self, lines: list[str], classes: Sequence[str], context: str) -> Reading:
        import torch

        start = time.perf_counter()
        clipped = clip(lines)
        tidied = keep(clipped, self._count, self.log_tokens)
        text, head = classify_prompt([t for _, t in tidied], context, classes)
        label_ids = self.label_ids(classes)
        enc = self.tok(text, return_offsets_mapping=True)
        # Token index of each kept line's end (its newline), and of the head's end.
        ends, pos = [], len(head) - 1
        for _, t in tidied:
            pos += len(t) + 1
            ends.append(pos)
        offsets = enc["offset_mapping"]
        at = [max((k for k, (a, _) in enumerate(offsets) if a <= e), default=0)
              for e in [len(head) - 1, *ends]]  # fmt: skip
        with self._lock, torch.inference_mode():
            h = self._hidden(enc["input_ids"], head)
            w = self.lm.get_output_embeddings().weight[label_ids]
            logits = (h[[*at, len(offsets) - 1]] @ w.T).float()
        logp = torch.log_softmax(logits, dim=-1)
        probs = logp[-1].exp().tolist()
        best = max(range(len(classes)), key=lambda i: probs[i])
        curve = logp[:-1, best].tolist()  # after the head, then after each kept line
        gain = [curve[i + 1] - curve[i] for i in range(len(tidied))]
        ms = (time.perf_counter() - start) * 1000
        return Reading(dict(zip(classes, probs, strict=True)), [i for i, _ in tidied], gain, len(offsets), ms)

    def classify(self, lines: list[str], policy: Policy, context: str) -> Classified:
        classes = list(policy.fault_classes)
        r = self.read(lines, classes, context)
        self.last = r
        if self.budget_ms is not None and r.ms > self.budget_ms:
            raise ModelError(f"the text judgement took {r.ms:.0f} ms, over its {self.budget_ms:.0f} ms")
        best = r.best
        if r.probs[best] < SURE or best == "unknown":
            declared = RegexJudge().classify(lines, policy, context)
            if declared.fault_class != "unknown":
                return declared
        clipped = clip(lines)
        if best == "unknown" or not r.kept:
            evidence = clipped[r.kept[-1]] if r.kept else ""
        else:
            evidence = clipped[r.kept[max(range(len(r.kept)), key=lambda i: r.line_gain[i])]]
        return Classified(best, r.probs[best], evidence.strip(), "model")

    # ------------------------------------------------------------ rank

    def _continuations(self, prefix: tuple[str, str], options: Sequence[str]) -> list[float]:
        """Sum of log-probabilities of each option's tokens after `prefix` (text, head), one
        prefix pass for all."""
        import torch

        text, head = prefix
        ids, device = self.tok.encode(text), self.loaded.device
        out = []
        with self._lock, torch.inference_mode(), self._after_head(ids, head) as (cache, n):
            rest = torch.tensor([ids[n:]], device=device)
            # Only the last position's next-token logits are read: the vocabulary projection of
            # every other prompt token would be a fifth of the pass, thrown away.
            first = self.lm(input_ids=rest, past_key_values=cache, use_cache=True, logits_to_keep=1)
            cache, last = first.past_key_values, torch.log_softmax(first.logits[0, -1].float(), -1)
            for option in options:
                opt = self.tok.encode(" " + option.strip(), add_special_tokens=False)
                score = float(last[opt[0]])
                if len(opt) > 1:
                    more = torch.tensor([opt[:-1]], device=device)
                    step = self.lm(input_ids=more, past_key_values=cache, use_cache=True)
                    lp = torch.log_softmax(step.logits[0].float(), -1)
                    score += float(lp[torch.arange(len(opt) - 1), torch.tensor(opt[1:])].sum())
                    cache.crop(-(len(opt) - 1))  # back to the shared prefix for the next option
                out.append(score)
        return out

    def rank(self, lines: list[str], options: list[str]) -> list[float]:
        if len(options) < 2:
            return [0.0] * len(options)
        kept = [t for _, t in keep(clip(lines), self._count, self.log_tokens)]
        missing = [o for o in options if o not in self._prior]
        if missing:
            self._prior.update(zip(missing, self._continuations(rank_prefix([]), missing), strict=True))
        given = self._continuations(rank_prefix(kept), options)
        return [g - self._prior[o] for g, o in zip(given, options, strict=True)]


def label_token_ids(tok: Any, classes: Sequence[str], model_name: str = "the model") -> list[int]:
    """The first token of each class's label word, as it follows the prompt's last line.

    Tokenizers differ in how they join a word to what precedes it, so the
    token is read off the whole tail, not off the word alone."""
    end = TAIL.rsplit("\n", 1)[-1]
    base = tok.encode(end, add_special_tokens=False)
    ids = []
    for word in label_words(classes):
        full = tok.encode(end + " " + word, add_special_tokens=False)
        i = next((k for k, (a, b) in enumerate(zip(base, full, strict=False)) if a != b), len(base))
        ids.append(full[min(i, len(full) - 1)])
    if len(set(ids)) != len(ids):
        raise ModelError(f"{model_name}: the label words {label_words(classes)} do not start with "
                         "distinct tokens for its tokenizer")  # fmt: skip
    return ids


def load_judge(
    model: str | None = None,
    device: str = "cpu",
    adapter: str | None = "default",
    budget_ms: float | None = BUDGET_MS,
    int8: bool = True,
    log_tokens: int = LOG_TOKENS,
) -> LlmJudge:
    """Load the model (None: the embedded one) and its adapter; on a CPU, with `int8`, most of
    its matrix multiplies then run in int8 (model.quantize_int8) and, where the CPU has native
    bf16, the rest of the projections in bf16 (model.bf16_down). `log_tokens`: of each log the
    prompt keeps.

    `adapter`: "default" merges the committed adapter when it was trained for
    this model (and insists on it for the embedded model, which is near chance
    without it); None runs the model as it is; a path merges that adapter.
    Raises ModelError when the model or a needed adapter is missing or corrupt.
    """
    path = ADAPTER if adapter == "default" else Path(adapter) if adapter else None
    used = ""
    if path is not None and not path.is_file():
        if adapter != "default" or model is None:
            raise ModelError(f"{path}: the adapter is missing; train it with `llmosd train`")
        path = None  # another model: its own reading, no adapter
    meta = _adapter_meta(path) if path is not None else {}  # a bad adapter fails before the load
    loaded = load_model(model, device=device)
    if path is not None:
        if adapter == "default" and meta.get("base_sha") != loaded.sha:
            if model is None:
                raise ModelError(f"{path}: the adapter was trained for another model than the embedded one")
            log.info("the default adapter is for another model; %s runs without it", loaded.name)
        else:
            merge_lora(loaded.model, path)
            used = path.stem
    # After the merge: the adapter's deltas are added in fp32, then quantized with the weights.
    numerics = ""
    if int8 and loaded.device == "cpu" and quantize_int8(loaded.model):
        numerics = "+int8" + ("+bf16" if bf16_down(loaded.model) else "")
    return LlmJudge(loaded, budget_ms=budget_ms, adapter=used, numerics=numerics, log_tokens=log_tokens)


def _adapter_meta(path: Path) -> dict[str, str]:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = dict(f.metadata() or {})
    except (OSError, ValueError, RuntimeError, SafetensorError) as e:
        raise ModelError(f"{path}: cannot read the adapter: {type(e).__name__}: {e}") from None
    if "labels" in meta and json.loads(meta["labels"]) != label_words(json.loads(meta.get("classes", "[]"))):
        raise ModelError(f"{path}: the adapter was trained on other label words than this version's")
    if meta.get("prompt", SIGNATURE) != SIGNATURE:
        raise ModelError(f"{path}: the adapter was trained on other prompts than this version's; "
                         "train it again with `llmosd train`")  # fmt: skip
    return meta
