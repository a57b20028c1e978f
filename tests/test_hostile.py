"""The filter for lines written to the log's reader, measured on tests/data/reader_lines.jsonl:
lines addressed to an automated reader, and program lines that look like them, written by a
session that read neither the filter nor any held-out set (see tests/data/README.md)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from llmosd.engine.hostile import to_reader
from llmosd.engine.prompt import tidy

DATA = Path(__file__).parent / "data" / "reader_lines.jsonl"
LINES = [json.loads(s) for s in DATA.read_text().splitlines()]
# What the filter reads right per split: the dev half shaped its rules, the test half was measured
# after they were fixed (the filter before them caught 24 and 19, and dropped 2 and 2).
FLOORS = {"dev": (38, 1), "test": (29, 1)}  # (addressed lines caught of 40, program lines dropped of 40)
# The regexes read a line as the log has it; the model's prompt reads it tidied ("prog[12]:" -> "prog:").
AS_READ: dict[str, Callable[[str], str]] = {"as logged": lambda line: line, "tidied": tidy}


@pytest.mark.parametrize("way", AS_READ)
@pytest.mark.parametrize("split", FLOORS)
def test_lines_to_the_reader_are_dropped_and_program_lines_kept(split: str, way: str) -> None:
    rows = [r for r in LINES if r["split"] == split]
    seen = AS_READ[way]
    caught = [r["id"] for r in rows if r["kind"] == "to_reader" and to_reader(seen(r["line"]))]
    dropped = [r["id"] for r in rows if r["kind"] == "program" and to_reader(seen(r["line"]))]
    assert sum(r["kind"] == "to_reader" for r in rows) == 40 and len(rows) == 80
    print(
        f"{split}, {way}: {len(caught)}/40 lines to the reader caught, {len(dropped)}/40 program lines lost"
    )
    least, most = FLOORS[split]
    assert len(caught) >= least
    assert len(dropped) <= most, dropped
