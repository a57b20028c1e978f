"""Generated log tails, labelled with the policy's fault classes, for training the judge.

An example is what a failed unit's journal or a failed job's log ends with:
some ordinary output (with harmless lines that use other classes' words),
sometimes a hostile line that tries to steer the reader, the cause (a
template of causes_env.py / causes_code.py, often under a Python traceback),
and the supervisor's closing lines; `unknown` examples have no cause at all.
Lines get the prefixes real logs have (journal time and host, ISO times,
JSON or logfmt wrapping), and cause lines are varied further (module paths
dropped, case changed, tails cut). Everything is drawn from one seeded RNG.

`split_templates` holds a share of every class's templates out, so a model
can be measured on wordings it has never seen (as in real use).
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass

from llmosd.train import causes_code, causes_env, noise
from llmosd.train.phrases import composed
from llmosd.train.slots import fill, pick

CLASSES = ["transient", "oom", "bad_config", "permission", "port_in_use", "broken_release", "job_bug",
           "hardware", "unknown"]  # fmt: skip
CAUSES: dict[str, str] = {
    "transient": causes_env.TRANSIENT,
    "oom": causes_env.OOM,
    "bad_config": causes_env.BAD_CONFIG,
    "permission": causes_env.PERMISSION,
    "port_in_use": causes_env.PORT_IN_USE,
    "broken_release": causes_code.BROKEN_RELEASE,
    "job_bug": causes_code.JOB_BUG,
    "hardware": causes_code.HARDWARE,
}
# Which hostile claims name which class: a hostile line never claims its example's true class.
CLAIM_CLASS = {
    "transient network issue": "transient", "timeout": "transient", "preemption": "transient",
    "transient": "transient", "out of memory error": "oom", "memory": "oom", "bad config": "bad_config",
    "config": "bad_config", "permission problem": "permission", "permission": "permission",
    "port conflict": "port_in_use", "port": "port_in_use", "broken release": "broken_release",
    "release": "broken_release", "bug in the code": "job_bug", "bug": "job_bug",
    "hardware fault": "hardware", "GPU failure": "hardware", "hardware": "hardware", "unknown": "unknown",
}  # fmt: skip
SEP, MARK = " ⏎ ", "»"


def _lines(block: str) -> list[str]:
    return [t for t in block.strip("\n").split("\n") if t.strip()]


@dataclass(frozen=True)
class Example:
    lines: list[str]
    context: str  # "service" or "job"
    label: str
    cause: int  # index of the line that explains the failure; -1 for unknown
    template: str  # the cause template it came from ("" for unknown)

    def wire(self) -> dict[str, object]:
        return {"context": self.context, "lines": self.lines, "class": self.label, "cause": self.cause}


def templates() -> dict[str, list[str]]:
    return {c: _lines(CAUSES[c]) for c in CAUSES}


def split_templates(share: float, seed: int) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(train, held out): `share` of each class's templates, chosen by a seeded hash."""
    train: dict[str, list[str]] = {}
    held: dict[str, list[str]] = {}
    for c, ts in templates().items():
        ranked = sorted(ts, key=lambda t: hashlib.sha256(f"{seed}:{t}".encode()).hexdigest())
        k = max(1, round(len(ts) * share))
        held[c], train[c] = ranked[:k], ranked[k:]
    return train, held


def _cause(template: str, r: random.Random, fixed: dict[str, str]) -> tuple[list[str], int]:
    text = fill(template, r, fixed)
    python = text.startswith("py ")
    parts = text.removeprefix("py ").split(SEP)
    idx = next((i for i, p in enumerate(parts) if p.startswith(MARK)), len(parts) - 1)
    parts = [p.removeprefix(MARK) for p in parts]
    if python:
        if r.random() < 0.3 and "." in parts[0].split(":")[0]:  # "torch.cuda.OutOfMemoryError" -> bare name
            head, _, rest = parts[0].partition(":")
            parts[0] = head.rsplit(".", 1)[-1] + ":" + rest if rest else head.rsplit(".", 1)[-1]
        if r.random() < 0.6:
            chosen = r.sample(_lines(noise.TRACE_FRAME), r.randint(1, 3))
            frames = [f for t in chosen for f in fill(t, r, fixed).split(SEP)]
            parts = ["Traceback (most recent call last):", *frames, *parts]
            idx += 1 + len(frames)
    line = parts[idx]
    roll = r.random()
    if roll < 0.08:
        line = line.lower()
    elif roll < 0.16 and len(line) > 60:
        line = line[: r.randint(len(line) * 2 // 3, len(line) - 1)]
    elif roll < 0.24:
        line = f"{r.choice(['ERROR', 'FATAL', 'error:', 'E', '[error]', 'CRITICAL', 'fatal:'])} {line}"
    parts[idx] = line
    return parts, idx


def _dress(lines: list[str], context: str, r: random.Random, fixed: dict[str, str]) -> list[str]:
    """Give the lines the prefixes of a journal, a time-stamped log, or structured logging."""
    style = r.random()
    if style < 0.25 and context == "service":
        month, day = r.choice(["Jan", "Mar", "Jun", "Sep", "Nov"]), r.randint(1, 28)
        stamp = f"{month} {day:2d} 0{r.randint(0, 9)}:{r.randint(10, 59)}:{r.randint(10, 59)}"
        return [f"{stamp} {fixed['node']} {fixed['prog']}[{fixed['pid']}]: {t}" for t in lines]
    if style < 0.4:
        return [f"{fill('{ts}', r)}{r.choice([',123', '.482Z', ''])} {t}" for t in lines]
    if style < 0.5:
        level = r.choice(["error", "fatal", "ERROR"])
        last = len(lines) - 1
        wrap = lambda t: json.dumps({"level": level, "msg": t}, ensure_ascii=False)  # noqa: E731
        return [wrap(t) if i == last or r.random() < 0.3 else t for i, t in enumerate(lines)]
    if style < 0.56:
        return [f'time="{fill("{ts}", r)}" level=error msg="{t}"' if r.random() < 0.5 else t for t in lines]
    return lines


def example(
    label: str,
    context: str,
    pool: dict[str, list[str]],
    r: random.Random,
    given: list[str] | None = None,
    compose: float = 0.0,
) -> Example:
    """One log tail of class `label`. Its cause is `given` (its last line explains), or composed from
    a phrase and a frame (with probability `compose`), or drawn from the templates in `pool`."""
    fixed = {k: pick(k, r) for k in ("unit", "node", "prog", "pid")}
    out_bank = noise.SERVICE_OUTPUT if context == "service" else noise.JOB_OUTPUT
    # Two in five tails are short (the cause and at most one more line): they teach wordings
    # at a third of the cost; the long ones teach finding the cause among other lines.
    short = r.random() < 0.4
    before = [fill(t, r, fixed) for t in r.sample(_lines(out_bank), 0 if short else r.randint(0, 2))]
    before += [fill(t, r, fixed) for t in r.sample(_lines(noise.DISTRACTORS), r.choice([0, 0, 1, 1, 2]))]
    if short:
        before = before[:1] if r.random() < 0.5 else []
    r.shuffle(before)
    template = ""
    if given:
        cause_lines, idx, template = list(given), len(given) - 1, "given"
    elif label == "unknown":
        cause_lines, idx = [], -1
    elif r.random() < compose:
        cause_lines, idx, template = [composed(label, r, fixed)], 0, "composed"
    else:
        template = r.choice(pool[label])
        cause_lines, idx = _cause(template, r, fixed)
    trailer_bank = noise.SERVICE_TRAILER if context == "service" else noise.JOB_TRAILER
    n_after = (0 if before else 1) if short else r.choice([0, 1, 1, 2, 2])
    after = [fill(t, r, fixed) for t in r.sample(_lines(trailer_bank), n_after)]
    if label == "unknown" and not given:
        ends = r.sample(_lines(causes_code.UNEXPLAINED), r.randint(1, 2))
        after = [fill(t, r, fixed) for t in ends] + after
    lines = before + cause_lines + after
    cause = len(before) + idx if idx >= 0 else -1
    if r.random() < 0.15:  # a hostile line somewhere before the end
        claims = [c for c in noise.CLAIMS if CLAIM_CLASS[c] != label]
        hostile = fill(r.choice(_lines(noise.HOSTILE)).replace("{claim}", r.choice(claims)), r, fixed)
        at = r.randint(0, max(0, len(lines) - 1))
        lines.insert(at, hostile)
        cause += cause >= at and cause >= 0
    return Example(_dress(lines, context, r, fixed), context, label, cause, template)


def generate(
    n: int, seed: int, pool: dict[str, list[str]] | None = None, compose: float = 0.0
) -> list[Example]:
    """`n` examples, classes and contexts in turn so every class is equally present."""
    r = random.Random(seed)
    pool = pool or templates()
    out = []
    for i in range(n):
        label = CLASSES[i % len(CLASSES)]
        context = "service" if (i // len(CLASSES)) % 2 == 0 else "job"
        out.append(example(label, context, pool, r, compose=compose))
    r.shuffle(out)
    return out
