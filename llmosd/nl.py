"""Plain language to one `Command` (CONTRACT §4).

The model makes a closed choice: which of `LABELS` a text asks for, read off
one forward pass as the probability of each label's first token (nl_model.py,
a LoRA fine-tuned on phrasings from nl_train.py). Everything a command acts
on (GPU numbers, PIDs, job ids, units, paths, packages, watts, times) is read
from the text by nl_slots.py. A label whose slots are missing, a low-confidence
choice, shell syntax, or a result that is not a valid Command all give
`{"intent": "unknown"}`: nothing is guessed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from llmosd import nl_slots as s
from llmosd.contract import Command, UnknownCommand, parse_command
from llmosd.errors import ContractError

# The label words the model chooses between (each starts with a distinct token) and what they mean.
LABELS: dict[str, str] = {
    "restart": "restart a service (or requeue a job)",
    "start": "start a service, or place a job on named GPUs",
    "stop": "stop a service, a job, or a process",
    "rollback": "return a service to its previous release",
    "requeue": "put a job back into the queue",
    "kill": "signal a process (or stop a job hard)",
    "drain": "no new work on a GPU",
    "undrain": "a GPU takes work again",
    "reset": "reset a GPU",
    "power": "change a GPU's power limit",
    "cleanup": "clean disposable files under a path",
    "upgrade": "install pending updates",
    "defer": "postpone pending updates",
    "reboot": "reboot the machine",
    "notify": "tell a person something",
    "status": "overall state of the machine and the daemon",
    "gpus": "show GPUs",
    "jobs": "show jobs",
    "services": "show services",
    "updates": "show pending updates",
    "audit": "show the audit log",
    "explain": "why did the daemon do something",
    "observe": "stop acting; only watch and log",
    "supervised": "every change waits for approval",
    "autonomous": "act on its own again",
    "unknown": "not an llmosd command: shell, file edits, chit-chat, anything outside the catalog",
}
UNKNOWN: Command = UnknownCommand(intent="unknown")
MIN_CONFIDENCE = 0.5


class Labeler(Protocol):
    """Scores LABELS for each text: one dict of label -> probability per text."""

    def rank(self, texts: list[str]) -> list[dict[str, float]]: ...


@dataclass(frozen=True)
class Parsed:
    command: Command
    label: str
    confidence: float


def _act(kind: str, target: str | None, **params: Any) -> dict[str, Any] | None:
    if target is None or any(v is None for v in params.values()):
        return None
    return {"intent": "act", "action": {"kind": kind, "target": target, "params": params}}


def _job_or_unit(text: str, job_kind: str, unit_kind: str, **job_params: Any) -> dict[str, Any] | None:
    job = s.job(text)
    if job is not None:
        return _act(job_kind, job, **job_params)
    if s.mentions_jobs(text):  # about jobs, but none named: a name here is no unit
        return None
    return _act(unit_kind, s.unit(text))


def _gpu(kind: str, text: str, **params: Any) -> dict[str, Any] | None:
    # A command is one action: of "drain gpu 3 and gpu 2" none is done, rather than gpu 3 alone.
    named = s.gpus_named(text)
    return _act(kind, f"gpu:{named.pop()}" if len(named) == 1 else None, **params)


def _stop(text: str, now: datetime) -> dict[str, Any] | None:
    pid = s.pid(text)
    if pid is not None and s.job(text) is None:
        return _act("process.kill", f"pid:{pid}", signal="SIGTERM")
    return _job_or_unit(text, "job.stop", "service.stop")


def _kill(text: str, now: datetime) -> dict[str, Any] | None:
    pid = s.pid(text)
    if pid is not None:
        return _act("process.kill", f"pid:{pid}")
    return _job_or_unit(text, "job.stop", "service.stop")


def _start(text: str, now: datetime) -> dict[str, Any] | None:
    job = s.job(text)
    if job is not None:
        gpus = s.gpu_list(text)
        return _act("job.start", job, gpus=gpus or None)
    return _act("service.start", s.unit(text))


def _power(text: str, now: datetime) -> dict[str, Any] | None:
    g = s.gpu(text)
    return _gpu("gpu.set_power_limit", text, watts=s.watts(text, g))


def _updates(kind: str) -> Callable[[str, datetime], dict[str, Any] | None]:
    def build(text: str, now: datetime) -> dict[str, Any] | None:
        named = s.packages(text)
        if len(named) > 1:
            return None  # one command, one package (or all)
        pkg = named[0] if named else "all"
        if kind == "update.defer":
            until = s.until(text, now)
            return _act(kind, pkg, **({"until": until.isoformat()} if until else {}))
        return _act(kind, pkg)

    return build


def _notify(text: str, now: datetime) -> dict[str, Any] | None:
    who = s.recipient(text)
    return _act("notify", who, message=s.message(text))


def _query(topic: str) -> Callable[[str, datetime], dict[str, Any] | None]:
    def build(text: str, now: datetime) -> dict[str, Any] | None:
        target: str | None = None
        if topic == "gpus":
            g = s.gpu(text)
            target = None if g is None else f"gpu:{g}"
        elif topic == "jobs":
            target = s.job(text) or s.user(text) or next(iter(s.names(text)), "").lower()
        elif topic == "services":
            target = s.unit(text)
        elif topic == "updates":
            target = s.package(text)
        elif topic == "audit":
            target = s.explain_target(text)
            if target and s.since(text, now):
                # A query has no time window (CONTRACT §4); explain has one and reads the same records.
                return _explain(text, now)
        return {"intent": "query", "topic": topic, "target": target or ""}

    return build


def _explain(text: str, now: datetime) -> dict[str, Any] | None:
    target = s.explain_target(text)
    if target is None:
        return None
    since = s.since(text, now)
    return {"intent": "explain", "target": target, "since": since.isoformat() if since else None}


def _mode(mode: str) -> Callable[[str, datetime], dict[str, Any] | None]:
    def build(text: str, now: datetime) -> dict[str, Any] | None:
        if not s.names_mode(mode, text):
            return None
        until = s.until(text, now)
        return {"intent": "autonomy", "mode": mode, "until": until.isoformat() if until else None}

    return build


BUILD: dict[str, Callable[[str, datetime], dict[str, Any] | None]] = {
    "restart": lambda t, n: _job_or_unit(t, "job.requeue", "service.restart"),
    "start": _start,
    "stop": _stop,
    "rollback": lambda t, n: _act("service.rollback", s.unit(t)),
    "requeue": lambda t, n: _act("job.requeue", s.job(t)),
    "kill": _kill,
    "drain": lambda t, n: _gpu("gpu.drain", t),
    "undrain": lambda t, n: _gpu("gpu.undrain", t),
    "reset": lambda t, n: _gpu("gpu.reset", t),
    "power": _power,
    "cleanup": lambda t, n: _act("disk.cleanup", s.path(t)),
    "upgrade": _updates("update.apply"),
    "defer": _updates("update.defer"),
    "reboot": lambda t, n: _act("host.reboot", s.host(t)),
    "notify": _notify,
    **{topic: _query(topic) for topic in ("status", "gpus", "jobs", "services", "updates", "audit")},
    "explain": _explain,
    **{mode: _mode(mode) for mode in ("observe", "supervised", "autonomous")},
    "unknown": lambda t, n: None,
}
assert set(BUILD) == set(LABELS)


def command_for(label: str, text: str, now: datetime) -> Command:
    """The Command a label stands for, with its slots read from `text`; `unknown` if any is missing."""
    data = BUILD[label](text, now)
    if data is None:
        return UNKNOWN
    try:
        return parse_command(data)
    except ContractError:
        return UNKNOWN


def parse_all(
    items: Iterable[tuple[str, datetime | None]], labeler: Labeler, *, min_confidence: float = MIN_CONFIDENCE
) -> Iterator[Parsed]:
    """Parse many (text, now) pairs with one model pass per batch; `now` None means the local clock."""
    batch = list(items)
    clean = [(" ".join(text.split())[:2000], now) for text, now in batch]
    asked = [i for i, (text, _) in enumerate(clean) if text and not s.looks_like_shell(text)]
    scores = dict(zip(asked, labeler.rank([clean[i][0] for i in asked]), strict=True))
    for i, (text, now) in enumerate(clean):
        if i not in scores:
            yield Parsed(UNKNOWN, "unknown", 1.0)
            continue
        label, p = max(scores[i].items(), key=lambda kv: kv[1])
        if p < min_confidence:
            yield Parsed(UNKNOWN, label, p)
            continue
        yield Parsed(command_for(label, text, now or datetime.now(UTC).astimezone()), label, p)


def parse(text: str, now: datetime | None, labeler: Labeler) -> Command:
    return next(parse_all([(text, now)], labeler)).command


def read_now(value: Any, where: str) -> datetime | None:
    """A case's clock: an ISO time (a zone is kept; none means UTC), or None for the local clock."""
    if value is None:
        return None
    try:
        t = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ContractError(f"{where}: now: not an ISO time: {value!r}") from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def read_cases(path: str | Path) -> list[tuple[str, datetime | None]]:
    """Lines of `{"text": ..., "now": ...}`; any bad line is a ContractError naming file and line."""
    p = Path(path)
    try:
        lines = p.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ContractError(f"{p}: cannot read: {e}") from None
    cases = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{p}:{n}"
        try:
            case = json.loads(line)
        except json.JSONDecodeError as e:
            raise ContractError(f"{where}: not valid JSON: {e.msg}") from None
        if not isinstance(case, dict) or not isinstance(case.get("text"), str):
            raise ContractError(f"{where}: a case is an object with a string field text")
        cases.append((case["text"], read_now(case.get("now"), where)))
    return cases
