"""The hand-written training tails (llmosd/data/written_tails.jsonl): what `llmosd train` reads
beside the generated corpus, kept apart from the held-out sets that measure the adapter."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from test_textclass_heldout import FLOORS, cases  # the held-out sets the adapter is measured on

from llmosd.engine.prompt import tidy
from llmosd.errors import UsageError
from llmosd.train.corpus import CLASSES
from llmosd.train.written import load_written, written_examples


def same(line: str) -> str:
    """A line as the judge reads it, with numbers and case ignored: two lines that differ only in a
    pid, a port or a count say the same thing."""
    return re.sub(r"\d+", "0", tidy(line)).lower()


def test_the_tails_cover_every_class_in_both_contexts() -> None:
    tails = load_written()
    per_class = Counter(e.label for e in tails)
    assert set(per_class) == set(CLASSES) and min(per_class.values()) >= 20
    assert {e.context for e in tails} == {"service", "job"}
    assert len(written_examples(2)) == 2 * len(tails) and written_examples(0) == []


def test_no_tail_says_a_line_of_a_held_out_set() -> None:
    """Training on a held-out line, even with other numbers, would inflate what the held-out test
    measures. A line said under several classes, by the held-out sets and the training tails
    together, tells no class (a traceback's header, a unit's closing line, a solver's progress
    line): a tail may share those."""
    said = [(same(line), e.label, line) for e in load_written() for line in e.lines if len(tidy(line)) >= 16]
    held: dict[str, set[str]] = {}
    for case in (c for name in FLOORS for c in cases(name)):
        for line in case["lines"]:
            held.setdefault(same(line), set()).add(case["class"])
    for key, label, _ in said:
        if key in held:
            held[key].add(label)
    assert [f"{label}: {line}" for key, label, line in said if len(held.get(key, ())) == 1] == []


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ({"class": "disk_full"}, r"bad\.jsonl:2: \(top\): .*'disk_full' is not one of"),
        ({"cause": 7}, r"bad\.jsonl:2: \(top\): .*cause 7 is not the index of one of the 2 lines"),
        ({"context": "cron"}, r"bad\.jsonl:2: context: "),
        ({"id": "t1"}, r"bad\.jsonl:2: id 't1' is used twice"),
    ],
)
def test_a_bad_tail_is_refused_naming_its_line(tmp_path: Path, bad: dict, says: str) -> None:
    good = {"id": "t1", "context": "job", "lines": ["loading", "OSError: [Errno 13] denied"],
            "class": "permission", "cause": 1}  # fmt: skip
    f = tmp_path / "bad.jsonl"
    f.write_text(json.dumps(good) + "\n" + json.dumps({**good, "id": "t2", **bad}) + "\n")
    with pytest.raises(UsageError, match=says):
        load_written(f)
