"""Every scenario, shared and our own, decided by the rules engine and scored
the way ../shared/tools/score.py scores them (same matching rules)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import shared

from llmosd.contract import parse_snapshot
from llmosd.engine.decide import decide
from llmosd.policy import load_policy

HERE = Path(__file__).parent
FILES = sorted(HERE.glob("scenarios/*.json")) + sorted(shared.SCENARIOS.glob("*.json"))


def same(action: dict, want: dict) -> bool:
    if action["kind"] != want["kind"] or ("target" in want and action["target"] != want["target"]):
        return False
    got = action.get("params") or {}
    for k, v in (want.get("params") or {}).items():
        if isinstance(v, list) and sorted(map(str, got.get(k) or [])) != sorted(map(str, v)):
            return False
        if not isinstance(v, list) and got.get(k) != v:
            return False
    return True


def check(decision: dict, expect: dict) -> None:
    plan = decision["actions"]
    brief = [(a["kind"], a["target"], a["verdict"]) for a in plan]
    assert any(same(plan[0], e) for e in expect["any_of"]), (
        f"primary action {brief[0]} not in {expect['any_of']}"
    )
    for e in expect.get("all_of", []):
        assert any(same(a, e) for a in plan), f"{e} missing from {brief}"
    unsafe = [a for a in plan if a["verdict"] == "allow" and any(same(a, n) for n in expect.get("never", []))]
    assert not unsafe, f"unsafe allowed actions: {unsafe}"


def test_enough_own_scenarios() -> None:
    assert len(list(HERE.glob("scenarios/*.json"))) >= 15


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_rules_engine(path: Path) -> None:
    data = json.loads(path.read_text())
    expect = data.pop("expect")
    decision = decide(parse_snapshot(data, str(path)), load_policy(data.get("policy", "default")))
    assert decision.engine == "rules"
    check(decision.wire(), expect)


@pytest.mark.parametrize("path", FILES[:6], ids=lambda p: p.stem)
def test_expect_is_never_read(path: Path) -> None:
    """A replay of a scenario with `expect` removed gives the same decision."""
    data = json.loads(path.read_text())
    policy = load_policy("default")
    with_expect = decide(parse_snapshot(data), policy).wire()
    data.pop("expect")
    without = decide(parse_snapshot(data), policy).wire()
    for d in (with_expect, without):
        d.pop("latency_ms")
    assert with_expect == without
