"""Reading free log text into the policy's fault classes.

A `TextJudge` answers two questions about untrusted text (a unit's journal
tail, a job's log tail): which fault class explains it (`classify`), and how
well each of several trigger descriptions explains it (`rank`). The rules
engine uses `RegexJudge` below; the LLM engine supplies a model-backed judge
with the same interface.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from llmosd.engine.hostile import to_reader
from llmosd.policy import Policy

# Log lines longer than this are cut before any judge sees them: a hostile
# program must not be able to flood a prompt or a regex.
MAX_LINE = 400
MAX_LINES = 20


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
    return [printable(line)[:MAX_LINE] for line in lines[-MAX_LINES:]]


def printable(line: str) -> str:
    """`line` with each character Python would not print (ESC, NUL, tab, bidi overrides) made a space."""
    return "".join(ch if ch.isprintable() else " " for ch in line)


class RegexJudge:
    """The baseline reader: the policy's regexes, first class in policy order wins."""

    name = "rules"
    model_name = ""

    def classify(self, lines: list[str], policy: Policy, context: str) -> Classified:
        plain = [line for line in clip(lines) if not to_reader(line)]
        for cls_name, cls in policy.fault_classes.items():
            for line in reversed(plain):  # newest line first: it is usually the cause
                if any(rx.search(line) for rx in cls.regexes):
                    return Classified(cls_name, 1.0, line, "pattern")
        return Classified("unknown", 1.0, plain[-1] if plain else "", "pattern")

    def rank(self, lines: list[str], options: list[str]) -> list[float]:
        # No reading of text: keep the policy's order (first option best).
        return [float(len(options) - i) for i in range(len(options))]
