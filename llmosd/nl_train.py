"""Fine-tune the NL label model: LoRA on the upper decoder layers, on nl_corpus.py's phrasings.

    python -m llmosd.nl_train [--out llmosd/data/nl_lora.safetensors] [--minutes 10]

The loss is cross-entropy over the label tokens only, at the prompt's last
token, so training sharpens exactly the closed choice that nl_model.py reads.
The lower layers carry no adapter, so their output for each phrasing is
computed once, without gradients, and the epochs run the upper layers only.
Every corpus phrasing is first checked against the slot readers: a phrasing
whose label and slots would not build the Command its template meant is not
trained on. A phrasing that equals a text of an evaluation set (the shared
command cases, tests/data/nl_phrasings.jsonl) is left out. A tenth of the
corpus is held out and its accuracy printed.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from llmosd import nl
from llmosd.checkout import REPO, shared_root
from llmosd.contract import command_wire
from llmosd.engine.model import load_model
from llmosd.nl_corpus import corpus, normal
from llmosd.nl_model import ADAPTER, PROMPT, encode, label_token_ids

# Evaluation texts: read only so that the corpus never contains one of them.
EVAL_SETS = [REPO / "tests" / "data" / "nl_phrasings.jsonl", shared_root() / "commands" / "dev.jsonl"]
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "up_proj", "down_proj"]
_NOW = datetime(2026, 1, 7, 12, 0, tzinfo=UTC)


def consistent(text: str, label: str, target: str | None) -> bool:
    """Would this label and the slot readers give the Command the template meant?"""
    if nl.s.looks_like_shell(text):
        return label == "unknown"
    if label == "unknown":
        return True
    cmd = command_wire(nl.command_for(label, text, _NOW))
    if cmd["intent"] == "unknown":
        return False
    got = cmd["action"]["target"] if cmd["intent"] == "act" else cmd.get("target")
    return target is None or got == (target if target.endswith(".service") else target.lower())


def eval_texts(files: list[Path]) -> frozenset[str]:
    texts = set()
    for f in files:
        if f.exists():
            texts |= {normal(json.loads(line)["text"]) for line in f.read_text().splitlines() if line.strip()}
    return frozenset(texts)


def _batches(tok: Any, rows: list[tuple[str, str]], labels: list[str], size: int, rng: random.Random) -> list:
    """Fixed batches of similar length: (input_ids, mask, last index, label index)."""
    import torch

    order = sorted(range(len(rows)), key=lambda i: (len(rows[i][0]), rng.random()))
    out = []
    for i in range(0, len(order), size):
        chunk = [rows[j] for j in order[i : i + size]]
        ids, mask, last = encode(tok, [t for t, _ in chunk])
        out.append((ids, mask, last, torch.tensor([labels.index(lab) for _, lab in chunk])))
    return out


def train(out: Path, *, per_label: int, seed: int, split: int, r: int, alpha: int, lr: float, batch: int,
          epochs: int, minutes: float, avoid: frozenset[str] = frozenset()) -> dict[str, Any]:  # fmt: skip
    import torch
    from peft import LoraConfig, get_peft_model
    from safetensors.torch import save_file

    started = time.monotonic()
    torch.manual_seed(seed)
    rng = random.Random(seed)
    rows = corpus(per_label, seed, check=consistent, avoid=avoid)
    rng.shuffle(rows)
    held = len(rows) // 10
    test_rows, train_rows = rows[:held], rows[held:]
    loaded = load_model()
    model, tok = loaded.model, loaded.tok
    labels = list(nl.LABELS)
    label_w = model.get_output_embeddings().weight[label_token_ids(tok, labels)].detach()
    inner = model.get_decoder()
    layers, norm, n = inner.layers, inner.norm, len(inner.layers)

    def lower(bs: list) -> list:
        inner.layers, inner.norm = layers[:split], torch.nn.Identity()
        with torch.inference_mode():
            low = [inner(input_ids=ids, attention_mask=m).last_hidden_state.clone() for ids, m, _, _ in bs]
        inner.layers, inner.norm = layers, norm
        return [(h, m, last, y) for h, (_, m, last, y) in zip(low, bs, strict=True)]

    train_b = lower(_batches(tok, train_rows, labels, batch, rng))
    test_b = lower(_batches(tok, test_rows, labels, 64, rng))
    prep = time.monotonic() - started
    print(f"corpus {len(rows)} phrasings ({len(train_rows)} train, {held} held out); lower {split} layers "
          f"computed in {prep:.0f} s", flush=True)  # fmt: skip

    peft = get_peft_model(model, LoraConfig(r=r, lora_alpha=alpha, lora_dropout=0.05, target_modules=TARGETS,
                                            layers_to_transform=list(range(split, n))))  # fmt: skip
    upper = peft.get_decoder()

    def logits(h: Any, m: Any, last: Any) -> Any:
        upper.layers = layers[split:]
        try:
            top = upper(inputs_embeds=h, attention_mask=m).last_hidden_state
        finally:
            upper.layers = layers
        return top[torch.arange(len(last)), last] @ label_w.T

    def accuracy() -> float:
        peft.eval()
        with torch.inference_mode():
            hits = sum(int((logits(h, m, last).argmax(-1) == y).sum()) for h, m, last, y in test_b)
        peft.train()
        return hits / max(1, held)

    params = [p for p in peft.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    steps = epochs * len(train_b)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    deadline = time.monotonic() + minutes * 60  # the epochs' budget; the lower pass is counted apart
    peft.train()
    step, stopped = 0, False
    for epoch in range(epochs):
        total = 0.0
        for k in rng.sample(range(len(train_b)), len(train_b)):
            h, m, last, y = train_b[k]
            loss = torch.nn.functional.cross_entropy(logits(h, m, last), y)
            loss.backward()
            opt.step()
            sched.step()
            opt.zero_grad()
            total, step = total + loss.item(), step + 1
            if time.monotonic() > deadline:
                stopped = True
                break
        print(f"epoch {epoch + 1}: loss {total / len(train_b):.4f}, held-out accuracy {accuracy():.3f}, "
              f"{time.monotonic() - started:.0f} s", flush=True)  # fmt: skip
        if stopped:
            print(f"time budget of {minutes:g} min reached after {step}/{steps} steps", flush=True)
            break

    tensors = {}
    for name, mod in peft.named_modules():
        if hasattr(mod, "lora_A") and "default" in getattr(mod, "lora_A", {}):
            key = name.removeprefix("base_model.model.")
            tensors[key + ".lora_A"] = mod.lora_A["default"].weight.detach().half().contiguous()
            tensors[key + ".lora_B"] = mod.lora_B["default"].weight.detach().half().contiguous()
    meta = {"r": str(r), "alpha": str(alpha), "split": str(split), "prompt": PROMPT,
            "labels": json.dumps(labels), "base": loaded.name, "seed": str(seed), "corpus": str(len(rows)),
            "steps": str(step),
            "held_out_accuracy": f"{accuracy():.4f}"}  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out), metadata=meta)
    print(f"wrote {out} ({len(tensors) // 2} adapted matrices) in {time.monotonic() - started:.0f} s total")
    return meta


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m llmosd.nl_train", description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ADAPTER)
    ap.add_argument("--per-label", type=int, default=140)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--split", type=int, default=22, help="first decoder layer that gets an adapter")
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--alpha", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--minutes", type=float, default=10.0, help="stop the epochs after this much wall time")
    ap.add_argument("--avoid", type=Path, action="append", default=None,
                    help="an evaluation file (JSON lines) whose texts the corpus leaves out")  # fmt: skip
    a = ap.parse_args(argv)
    avoid = eval_texts(a.avoid or EVAL_SETS)
    train(a.out, per_label=a.per_label, seed=a.seed, split=a.split, r=a.rank, alpha=a.alpha, lr=a.lr,
          batch=a.batch, epochs=a.epochs, minutes=a.minutes, avoid=avoid)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
