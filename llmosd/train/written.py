"""Hand-written log tails: part of `llmosd train`'s corpus, beside the generated ones.

The generator's templates say each class in a few hundred wordings; real
programs say it in many more, and an adapter trained on templates alone reads
writing it has not seen far worse than the templates it has. These tails were
written by hand in other programs and wordings, so the adapter learns the
classes from prose that no template produced.

`llmosd/data/written_tails.jsonl` holds one JSON object a line: `id`,
`context` (service | job), `lines` (oldest first), `class` and `cause` (the
index of the line that decides the class; -1 for `unknown`). None shares a
line with the held-out sets in tests/data: tests/test_written_tails.py checks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from llmosd.errors import UsageError, one_line
from llmosd.train.corpus import CLASSES, Example

WRITTEN = Path(__file__).resolve().parent.parent / "data" / "written_tails.jsonl"


class Tail(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str = Field(min_length=1)
    context: Literal["service", "job"]
    lines: list[str] = Field(min_length=1, max_length=40)
    label: str = Field(alias="class")
    cause: int

    @model_validator(mode="after")
    def _cause_names_a_line(self) -> Tail:
        if self.label not in CLASSES:
            raise ValueError(f"class {self.label!r} is not one of {', '.join(CLASSES)}")
        if self.label == "unknown" and self.cause != -1:
            raise ValueError("an unknown tail has no cause line: cause must be -1")
        if self.label != "unknown" and not 0 <= self.cause < len(self.lines):
            raise ValueError(f"cause {self.cause} is not the index of one of the {len(self.lines)} lines")
        return self


def load_written(path: Path = WRITTEN) -> list[Example]:
    """The tails as corpus examples; a bad line is refused as `file:line: field: reason`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise UsageError(f"{path}: cannot read the written tails: {e.strerror}") from None
    out: list[Example] = []
    seen: set[str] = set()
    for n, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            tail = Tail.model_validate_json(raw)
        except ValidationError as e:
            raise UsageError(one_line(e, f"{path}:{n}")) from None
        if tail.id in seen:
            raise UsageError(f"{path}:{n}: id {tail.id!r} is used twice")
        seen.add(tail.id)
        out.append(Example(tail.lines, tail.context, tail.label, tail.cause, template=""))
    return out


def written_examples(copies: int, path: Path = WRITTEN) -> list[tuple[Example, bool]]:
    """Each tail `copies` times, as approved (example, approved) pairs for `lora.train`'s extra."""
    return [(e, True) for e in load_written(path) for _ in range(copies)] if copies > 0 else []
