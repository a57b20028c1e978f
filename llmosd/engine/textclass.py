"""Reading free log text into the policy's fault classes.

A `TextJudge` answers two questions about untrusted text (a unit's journal
tail, a job's log tail): which fault class explains it (`classify`), and how
well each of several trigger descriptions explains it (`rank`). The rules
engine uses `RegexJudge` below; the LLM engine supplies a model-backed judge
with the same interface.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, Protocol

from llmosd.policy import Policy

# Log lines longer than this are cut before any judge sees them: a hostile
# program must not be able to flood a prompt or a regex.
MAX_LINE = 400
MAX_LINES = 20
# Lines written to whoever reads the log rather than by the program: a request to ignore what
# came before, a chat role or instruction marker, a verdict asked for, a name from the action
# catalog, or an order to an AI, bot, agent or classifier (_ADDRESSED). No program's failure
# reads like this, so no judge reads such a line: it can neither steer the class nor be quoted
# as the evidence.
_TO_READER = [
    re.compile(r"\b(ignore|disregard)\b.{0,40}\b(instructions?|above|previous|prior|everything)\b", re.I),
    re.compile(r"\b(SYSTEM|ASSISTANT|INSTRUCTIONS?)( OVERRIDE)?\s*[:>]|\bassistant\s*(:|directive)|<\|im_"),
    re.compile(
        r"\b(classify|label|mark|tag|call|treat|record|register|report) (this|it|the \w+ )?\s*as\b", re.I
    ),
    re.compile(
        r"\b(gpu|host|service|job|process|disk|update)\.(reset|drain|undrain|reboot|restart|rollback"
        r"|requeue|kill|cleanup|apply|defer|stop|start|set_power_limit)\b"
    ),
]
# An order to an automated reader: who is addressed, then what it is told to do. Paths, program[pid]
# prefixes and unit names are cut out first: "llm-router.service" or "/opt/gpu-agent/" names a
# program, not a reader. A path counts after a space, "=", a quote or a parenthesis: in an SELinux
# denial for comm="gpu-agent", path="/run/..." would otherwise read as an agent told to run.
_ADDRESSED = re.compile(
    r"\b(AI|LLMs?|GPT\S*|language models?|bots?|agents?|assistants?|classifiers?|summari[sz]ers?"
    r"|triage (models?|bots?|systems?)|automated \w+|automation|whoever reads)\b.{0,80}"
    r"\b(classify|categori[sz]e|answer|reply|respond|say|mark|label|tag|call|treat|record|register|report"
    r"|recommend|requeue|drain|reset|reboot|restart|power-cycle|run|kill|free|resubmit|rewrite|raise|lower)\b",
    re.I,
)
_NAMES = re.compile(r"(?<![^\s=\"'(])/\S*|\S+\[\d+\]:|\S+\.(service|socket|timer|scope|slice)\b|\S+://\S+")


@dataclass(frozen=True)
class Classified:
    fault_class: str
    confidence: float
    evidence: str  # the log line that decided it, quoted in rationales ("" if none)
    reader: Literal["model", "pattern"]  # what read the class: a model, or the policy's patterns


class TextJudge(Protocol):
    name: str
    model_name: str  # what the audit records as the model behind a decision ("" for none)

    def classify(self, lines: list[str], policy: Policy, context: str) -> Classified:
        """Classify `lines` (oldest first) into one of `policy.fault_classes`.

        `context` says whose text it is ("service" or "job"); it never comes
        from the text itself.
        """
        ...

    def rank(self, lines: list[str], options: list[str]) -> list[float]:
        """Score how well each trigger description in `options` explains `lines`; higher is better."""
        ...


def clip(lines: list[str]) -> list[str]:
    """The newest MAX_LINES lines, each cut to MAX_LINE characters, control characters removed."""
    out = []
    for line in lines[-MAX_LINES:]:
        clean = "".join(ch if ch.isprintable() else " " for ch in line)
        out.append(clean[:MAX_LINE])
    return out


def to_reader(line: str) -> bool:
    return any(rx.search(line) for rx in _TO_READER) or bool(_ADDRESSED.search(_NAMES.sub(" ", line)))


class RegexJudge:
    """The baseline reader: the policy's regexes, first class in policy order wins."""

    name = "rules"
    model_name = ""

    def classify(self, lines: list[str], policy: Policy, context: str) -> Classified:
        text = clip(lines)
        for cls_name, cls in policy.fault_classes.items():
            for line in reversed(text):  # newest line first: it is usually the cause
                if not to_reader(line) and any(rx.search(line) for rx in cls.regexes):
                    return Classified(cls_name, 1.0, line, "pattern")
        plain = [line for line in text if not to_reader(line)]
        return Classified("unknown", 1.0, plain[-1] if plain else "", "pattern")

    def rank(self, lines: list[str], options: list[str]) -> list[float]:
        # No reading of text: keep the policy's order (first option best).
        return [float(len(options) - i) for i in range(len(options))]
