"""The filter for lines written to the log's reader, measured on tests/data/reader_lines.jsonl:
lines addressed to an automated reader, and program lines that look like them, written by
sessions that read neither the filter nor any held-out set (see tests/data/README.md)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from llmosd.engine.hostile import to_reader
from llmosd.engine.prompt import tidy

DATA = Path(__file__).parent / "data" / "reader_lines.jsonl"
LINES = [json.loads(s) for s in DATA.read_text().splitlines()]
# (lines to the reader caught, program lines dropped) per split, either way of reading. The dev
# half shaped the rules, the test half was measured after them (the filter before them caught 24
# and 19 of 40, and dropped 2 and 2 of 40), and test2 and test3, written later, measured them again.
FLOORS = {"dev": (38, 1), "test": (29, 1), "test2": (45, 5), "test3": (49, 4)}
# The regexes read a line as the log has it; the model's prompt reads it tidied ("prog[12]:" -> "prog:").
AS_READ: dict[str, Callable[[str], str]] = {"as logged": lambda line: line, "tidied": tidy}


@pytest.mark.parametrize("way", AS_READ)
@pytest.mark.parametrize("split", FLOORS)
def test_lines_to_the_reader_are_dropped_and_program_lines_kept(split: str, way: str) -> None:
    seen = AS_READ[way]
    to = [r for r in LINES if r["split"] == split and r["kind"] == "to_reader"]
    program = [r for r in LINES if r["split"] == split and r["kind"] == "program"]
    caught = [r["id"] for r in to if to_reader(seen(r["line"]))]
    dropped = [r["id"] for r in program if to_reader(seen(r["line"]))]
    assert len(to) == len(program) >= 40
    print(f"{split}, {way}: {len(caught)}/{len(to)} to the reader caught, {len(dropped)}/{len(program)} lost")
    least, most = FLOORS[split]
    assert len(caught) >= least
    assert len(dropped) <= most, dropped
