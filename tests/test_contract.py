"""The contract types: what a scenario, an action and a command accept and refuse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmosd.contract import (
    command_wire,
    load_snapshot,
    make_action,
    parse_action,
    parse_command,
    parse_snapshot,
)
from llmosd.errors import ContractError

MINIMAL = {"id": "m", "now": "2026-11-20T14:03:00Z", "host": {"hostname": "h1"}}


def test_minimal_scenario_and_unknown_fields_ignored() -> None:
    s = parse_snapshot({**MINIMAL, "gpus": None, "future_field": {"x": 1}, "expect": {"any_of": []}})
    assert s.gpus == [] and s.host.hostname == "h1" and s.now.tzinfo is not None


def test_naive_times_read_as_utc() -> None:
    s = parse_snapshot({**MINIMAL, "now": "2026-11-20T14:03:00"})
    offset = s.now.utcoffset()
    assert offset is not None and offset.total_seconds() == 0


@pytest.mark.parametrize(
    ("data", "place"),
    [
        ({**MINIMAL, "gpus": [{"index": "zero"}]}, "gpus[0].index"),
        ({**MINIMAL, "now": "yesterday"}, "now"),
        ({"id": "m", "now": "2026-11-20T14:03:00Z"}, "host"),
        ({**MINIMAL, "jobs": [{"id": "j", "state": "paused"}]}, "jobs[0].state"),
    ],
)
def test_wrong_types_name_the_field_and_file(data: dict, place: str, tmp_path: Path) -> None:
    f = tmp_path / "case.json"
    f.write_text(json.dumps(data))
    with pytest.raises(ContractError) as e:
        load_snapshot(f)
    msg = str(e.value)
    assert "\n" not in msg and str(f) in msg and place in msg


def test_unreadable_and_non_object_files(tmp_path: Path) -> None:
    f = tmp_path / "x.json"
    f.write_text("[1, 2]")
    with pytest.raises(ContractError, match="JSON object"):
        load_snapshot(f)
    f.write_text("{not json")
    with pytest.raises(ContractError, match="not valid JSON"):
        load_snapshot(f)
    with pytest.raises(ContractError, match="cannot read"):
        load_snapshot(tmp_path / "missing.json")


@pytest.mark.parametrize(
    ("kind", "target", "params"),
    [
        ("noop", "", {}),
        ("notify", "alice", {"message": "hi"}),
        ("service.restart", "vllm.service", {}),
        ("service.rollback", "inference-api.service", {"to": "1.4.2"}),
        ("job.start", "j-1", {"gpus": [0, 3]}),
        ("job.stop", "j-1", {"signal": "term"}),
        ("gpu.drain", "gpu:12", {}),
        ("gpu.set_power_limit", "gpu:0", {"watts": 300}),
        ("process.kill", "pid:4411", {"signal": "SIGKILL"}),
        ("disk.cleanup", "/var/cache/apt", {}),
        ("update.apply", "all", {}),
        ("update.defer", "openssl", {"until": "2026-11-23T00:00:00Z"}),
        ("host.reboot", "gpu-07.example.org", {}),
    ],
)
def test_legal_actions_round_trip(kind: str, target: str, params: dict) -> None:
    a = make_action(kind, target, **params)
    assert parse_action(a.wire()) == a
    assert a.wire()["kind"] == kind


@pytest.mark.parametrize(
    ("kind", "target", "params"),
    [
        ("gpu.drain", "3", {}),
        ("gpu.reset", "gpu:-1", {}),
        ("process.kill", "pid:1", {}),
        ("process.kill", "pid:abc", {}),
        ("service.restart", "nginx", {}),
        ("service.restart", "nginx.service; reboot", {}),
        ("disk.cleanup", "var/cache", {}),
        ("job.start", "j-1", {}),
        ("job.start", "j-1", {"gpus": []}),
        ("gpu.set_power_limit", "gpu:0", {"watts": -5}),
        ("job.stop", "j-1", {"signal": "SIGSEGV"}),
        ("notify", "root; rm -rf /", {}),
        ("noop", "x", {}),
        ("gpu.drain", "gpu:1", {"force": True}),
        ("host.reboot", "bad host", {}),
        ("update.apply", "Bad Package", {}),
        ("shell.exec", "rm -rf /", {}),
    ],
)
def test_illegal_actions_are_refused_with_the_place(kind: str, target: str, params: dict) -> None:
    with pytest.raises(ContractError) as e:
        make_action(kind, target, where="plan[0]", **params)
    assert str(e.value).startswith("plan[0]:") and "\n" not in str(e.value)


def test_disk_targets_are_normalised() -> None:
    assert make_action("disk.cleanup", "/var/cache/apt/../../../etc").target == "/etc"


def test_commands() -> None:
    cmd = parse_command({"intent": "act", "action": {"kind": "gpu.drain", "target": "gpu:3"}})
    assert command_wire(cmd) == {
        "intent": "act",
        "action": {"kind": "gpu.drain", "target": "gpu:3", "params": {}},
    }
    assert command_wire(parse_command({"intent": "query", "topic": "gpus"}))["target"] == ""
    auto = parse_command({"intent": "autonomy", "mode": "observe", "until": "2026-11-21T00:00:00Z"})
    assert command_wire(auto)["until"] == "2026-11-21T00:00:00Z"
    with pytest.raises(ContractError):
        parse_command({"intent": "query", "topic": "weather"})
    with pytest.raises(ContractError):
        parse_command({"intent": "act", "action": {"kind": "shell", "target": "ls"}})
