"""`llmosd replay` as a user runs it: a real subprocess, real files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from shared import SCENARIOS, need


def llmosd(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "llmosd", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def test_replay_prints_one_line_per_file_in_order(tmp_path: Path) -> None:
    files = [
        need(SCENARIOS / "svc-oom-killed-once.json"),
        need(SCENARIOS / "healthy-busy.json"),
        need(SCENARIOS / "reboot-required-idle-window.json"),
    ]
    p = llmosd("replay", *map(str, files), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    out = [json.loads(line) for line in p.stdout.splitlines()]
    assert [d["scenario"] for d in out] == [
        "svc-oom-killed-once",
        "healthy-busy",
        "reboot-required-idle-window",
    ]
    first = out[0]
    assert set(first) == {"scenario", "engine", "actions", "rationale", "latency_ms"}
    assert first["engine"] == "rules" and first["actions"][0]["kind"] == "service.restart"
    assert first["actions"][0]["verdict"] == "allow" and first["actions"][0]["reasons"]
    assert "ran out of host or GPU memory" in first["rationale"]
    assert out[2]["actions"][0] == {**out[2]["actions"][0], "kind": "host.reboot", "verdict": "approval"}
    assert list(tmp_path.iterdir()) == []  # replay writes nothing


def test_malformed_scenario_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {"id": "b", "now": "2026-11-20T14:03:00Z", "host": {"hostname": "h"}, "gpus": [{"index": "x"}]}
        )
    )
    p = llmosd("replay", str(need(SCENARIOS / "healthy-busy.json")), str(bad))
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.count("\n") == 1 and str(bad) in p.stderr and "gpus[0].index" in p.stderr


def test_policy_typo_is_one_line_and_exit_2(tmp_path: Path) -> None:
    pol = tmp_path / "site.yaml"
    pol.write_text(
        (Path(__file__).parent.parent / "policies" / "default.yaml")
        .read_text()
        .replace("crash_loop:", "crash_lop:")
    )
    p = llmosd("replay", "--policy", str(pol), str(need(SCENARIOS / "healthy-busy.json")))
    assert (
        p.returncode == 2 and p.stderr.count("\n") == 1 and "crash_lop" in p.stderr and str(pol) in p.stderr
    )


def test_usage_error_exit_2() -> None:
    assert llmosd("replay").returncode == 2
    assert llmosd("frobnicate").returncode == 2
    for flag in ("--for", "--interval"):
        p = llmosd("run", flag, "-5")
        assert p.returncode == 2 and f"argument {flag}: '-5' is not above 0" in p.stderr
