"""The guard: every rule with a pass and a refusal, and property tests that no
illegal target is ever allowed."""

from __future__ import annotations

import functools
import json
import string
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from shared import SCENARIOS, need

from llmosd.contract import KINDS, HistoryEntry, Snapshot, make_action, parse_snapshot
from llmosd.errors import ContractError
from llmosd.guard import judge
from llmosd.policy import Policy, load_policy

POLICY = load_policy("default")


def snap(name: str = "healthy-busy", **changes: Any) -> Snapshot:
    data = json.loads(need(SCENARIOS / f"{name}.json").read_text())
    data.pop("expect")
    for path, value in changes.items():
        *keys, last = path.split("__")
        node: Any = data
        for k in keys:
            node = node[int(k)] if k.isdigit() else node[k]
        node[int(last) if last.isdigit() else last] = value
    return parse_snapshot(data)


def verdict(
    kind: str, target: str = "", s: Snapshot | None = None, policy: Policy = POLICY, **kw: Any
) -> str:
    params = kw.pop("params", {})
    return one(make_action(kind, target, **params), s or snap(), policy, **kw).verdict


def one(action: Any, s: Snapshot, policy: Policy = POLICY, **kw: Any) -> Any:
    return judge([action], s, policy, resolve=kw.pop("resolve", lambda p: p), **kw)[0]


def restarts(unit: str, n: int, s: Snapshot, ago: timedelta = timedelta(minutes=2)) -> list[HistoryEntry]:
    act = {"kind": "service.restart", "target": unit}
    return [HistoryEntry(at=s.now - ago, action=act) for _ in range(n)]


# ------------------------------------------------------------ kind allowed


def test_kind_not_allowed_by_policy_is_denied() -> None:
    strict = POLICY.model_copy(update={"allowed_kinds": ["noop", "notify", "gpu.drain"]})
    assert verdict("gpu.drain", "gpu:3", policy=strict) == "allow"
    j = one(make_action("gpu.reset", "gpu:3"), snap(), strict)
    assert j.verdict == "deny" and "not allowed by policy" in j.reasons[0]


# ------------------------------------------------------------ services


def test_service_must_be_watched() -> None:
    assert verdict("service.restart", "vllm.service") == "allow"
    assert verdict("service.restart", "sshd.service") == "deny"


def test_restart_rate_limit_from_history() -> None:
    s = snap()
    assert (
        one(make_action("service.restart", "vllm.service"), s, history=restarts("vllm.service", 2, s)).verdict
        == "allow"
    )
    j = one(make_action("service.restart", "vllm.service"), s, history=restarts("vllm.service", 3, s))
    assert j.verdict == "deny" and "rate limit" in j.reasons[0]
    old = restarts("vllm.service", 3, s, ago=timedelta(minutes=30))
    assert one(make_action("service.restart", "vllm.service"), s, history=old).verdict == "allow"


def test_rate_limit_counts_earlier_actions_of_the_same_plan() -> None:
    plan = [make_action("service.restart", "vllm.service")] * 4
    verdicts = [j.verdict for j in judge(plan, snap(), POLICY)]
    assert verdicts == ["allow", "allow", "allow", "deny"]


def test_host_wide_circuit_breaker() -> None:
    s = snap()
    drain = {"kind": "gpu.drain", "target": "gpu:3"}
    busy = [HistoryEntry(at=s.now - timedelta(minutes=5), action=drain) for _ in range(30)]
    j = one(make_action("service.restart", "vllm.service"), s, history=busy)
    assert j.verdict == "deny" and "host-wide" in j.reasons[0]
    assert one(make_action("notify", "admin"), s, history=busy).verdict == "allow"


# ------------------------------------------------------------ jobs


def queued(**job: Any) -> Snapshot:
    s = snap("queue-place-on-free-gpu")
    return s.model_copy(
        update={"jobs": [j.model_copy(update=job) if j.state == "queued" else j for j in s.jobs]}
    )


def test_job_start_on_free_gpu() -> None:
    assert verdict("job.start", "j-121", queued(), params={"gpus": [3]}) == "allow"


@pytest.mark.parametrize(
    ("gpus", "setup", "why"),
    [
        ([0], {}, "has processes"),
        ([3], {"gpus__3__drained": True}, "drained"),
        ([3], {"gpus__3__xid_events": [{"xid": 79, "at": "2026-11-20T14:00:00Z"}]}, "hardware Xid"),
        ([3], {"gpus__3__mem_total_mib": 16000}, "job wants"),
        ([3, 2], {}, "distinct GPUs"),
        ([9], {}, "does not exist"),
    ],
)
def test_job_start_refused(gpus: list[int], setup: dict[str, Any], why: str) -> None:
    s = snap("queue-place-on-free-gpu", **setup)
    j = one(make_action("job.start", "j-121", gpus=gpus), s)
    assert j.verdict == "deny" and any(why in r for r in j.reasons), j.reasons


def test_job_start_refused_on_gpu_of_running_job_and_twice_in_one_plan() -> None:
    s = snap("queue-place-on-free-gpu", gpus__2__processes=[])  # gpu 2 still belongs to running j-102
    assert one(make_action("job.start", "j-121", gpus=[2]), s).verdict == "deny"
    two = [make_action("job.start", "j-121", gpus=[3]), make_action("job.start", "j-121", gpus=[3])]
    assert [j.verdict for j in judge(two, queued(), POLICY)] == ["allow", "deny"]


def test_job_start_refused_for_unknown_or_running_job() -> None:
    assert verdict("job.start", "j-999", queued(), params={"gpus": [3]}) == "deny"
    assert verdict("job.start", "j-101", queued(), params={"gpus": [3]}) == "deny"


def test_job_stop_and_requeue_need_the_right_state() -> None:
    assert verdict("job.stop", "j-101") == "allow"
    fail = snap("gpu-xid94-contained-ecc")
    assert verdict("job.stop", "j-150", fail) == "deny"
    assert verdict("job.requeue", "j-150", fail) == "allow"
    assert verdict("job.requeue", "j-93", snap("orphan-process-after-job")) == "deny"  # finished


# ------------------------------------------------------------ GPUs


def test_drain_and_undrain() -> None:
    assert verdict("gpu.drain", "gpu:3") == "allow"
    drained = snap(gpus__3__drained=True)
    assert verdict("gpu.drain", "gpu:3", drained) == "deny"
    assert verdict("gpu.undrain", "gpu:3", drained) == "allow"
    assert verdict("gpu.undrain", "gpu:3") == "deny"
    faulty = snap(gpus__3__drained=True, gpus__3__ecc_uncorrected=2)
    assert verdict("gpu.undrain", "gpu:3", faulty) == "deny"


def test_reset_only_without_processes() -> None:
    assert verdict("gpu.reset", "gpu:3") == "allow"
    j = one(make_action("gpu.reset", "gpu:0"), snap())
    assert j.verdict == "deny" and "processes on it" in j.reasons[0]
    assert verdict("gpu.reset", "gpu:7") == "deny"


def test_reset_rate_limited() -> None:
    s = snap()
    past = [HistoryEntry(at=s.now - timedelta(minutes=20), action={"kind": "gpu.reset", "target": "gpu:3"})]
    assert one(make_action("gpu.reset", "gpu:3"), s, history=past).verdict == "deny"


def test_power_limit_bounds() -> None:
    assert verdict("gpu.set_power_limit", "gpu:2", params={"watts": 600}) == "allow"
    assert verdict("gpu.set_power_limit", "gpu:2", params={"watts": 900}) == "deny"  # above 700 W
    assert verdict("gpu.set_power_limit", "gpu:2", params={"watts": 100}) == "deny"  # below the floor
    with_min = snap(gpus__2__power_limit_min_w=200.0)
    assert verdict("gpu.set_power_limit", "gpu:2", with_min, params={"watts": 250}) == "allow"
    assert verdict("gpu.set_power_limit", "gpu:2", with_min, params={"watts": 150}) == "deny"


# ------------------------------------------------------------ processes


def test_kill_rules() -> None:
    orphan = snap("orphan-process-after-job")
    assert verdict("process.kill", "pid:7781", orphan) == "allow"
    assert verdict("process.kill", "pid:4412", orphan) == "deny"  # running job j-101
    assert verdict("process.kill", "pid:31337", orphan) == "deny"  # unknown pid
    as_root = snap("orphan-process-after-job", gpus__0__processes__0__user="root")
    assert verdict("process.kill", "pid:7781", as_root) == "deny"
    no_job = snap("orphan-process-after-job", gpus__0__processes__0__job=None)
    assert verdict("process.kill", "pid:7781", no_job) == "approval"


# ------------------------------------------------------------ disks


def test_cleanup_only_under_disposable_paths() -> None:
    assert verdict("disk.cleanup", "/var/cache/apt") == "allow"
    assert verdict("disk.cleanup", "/var/cache/apt/archives") == "allow"
    assert verdict("disk.cleanup", "/home/alice/checkpoints") == "deny"
    assert verdict("disk.cleanup", "/var/cache/apt/../../lib") == "deny"
    assert verdict("disk.cleanup", "/var/cache/aptitude") == "deny"  # a prefix is not a parent
    assert verdict("disk.cleanup", "/") == "deny"


def test_cleanup_resolves_symlinks_out_of_disposable(tmp_path: Path) -> None:
    cache, home = tmp_path / "cache", tmp_path / "home"
    cache.mkdir()
    home.mkdir()
    (cache / "old").mkdir()
    (cache / "escape").symlink_to(home)
    policy = POLICY.model_copy(update={"disks": POLICY.disks.model_copy(update={"disposable": [str(cache)]})})
    import os

    real = os.path.realpath
    assert (
        one(make_action("disk.cleanup", str(cache / "old")), snap(), policy, resolve=real).verdict == "allow"
    )
    j = one(make_action("disk.cleanup", str(cache / "escape")), snap(), policy, resolve=real)
    assert j.verdict == "deny"


# ------------------------------------------------------------ updates and reboots


def test_update_apply_needs_window_and_no_jobs() -> None:
    idle = snap("update-in-window-idle")
    assert verdict("update.apply", "all", idle) == "allow"
    assert verdict("update.apply", "openssl", idle) == "allow"
    assert verdict("update.apply", "zlib", idle) == "deny"  # nothing pending for it
    closed = snap("update-in-window-idle", host__in_maintenance_window=False)
    assert "maintenance window" in one(make_action("update.apply", "all"), closed).reasons[0]
    busy = snap("update-security-while-busy", host__in_maintenance_window=True)
    j = one(make_action("update.apply", "all"), busy)
    assert j.verdict == "deny" and "jobs are running" in j.reasons[0]


def test_update_defer_needs_a_pending_update() -> None:
    s = snap("update-security-while-busy")
    assert verdict("update.defer", "openssl", s) == "allow"
    assert verdict("update.defer", "all", s) == "allow"
    assert verdict("update.defer", "all") == "deny"  # healthy-busy has no updates


def test_reboot_needs_window_idle_host_and_approval() -> None:
    idle = snap("reboot-required-idle-window")
    j = one(make_action("host.reboot", ""), idle)
    assert j.verdict == "approval" and j.action.target == "gpu-07"
    assert verdict("host.reboot", "other-host", idle) == "deny"
    assert (
        verdict(
            "host.reboot", "gpu-07", snap("reboot-required-idle-window", host__in_maintenance_window=False)
        )
        == "deny"
    )
    assert verdict("host.reboot", "gpu-07") == "deny"  # healthy-busy: jobs and processes


# ------------------------------------------------------------ modes, approvals, confidence


def test_autonomy_modes() -> None:
    restart = make_action("service.restart", "vllm.service")
    assert one(restart, snap(), mode="autonomous").verdict == "allow"
    assert one(restart, snap(), mode="supervised").verdict == "approval"
    assert one(restart, snap(), mode="observe").verdict == "deny"
    assert one(make_action("notify", "admin"), snap(), mode="observe").verdict == "allow"


def test_confidence_gate() -> None:
    restart = make_action("service.restart", "vllm.service")
    assert one(restart, snap(), confidence=0.9).verdict == "allow"
    j = one(restart, snap(), confidence=0.2)
    assert j.verdict == "approval" and "confidence" in j.reasons[0]


def test_policy_approval_kinds() -> None:
    asks = POLICY.model_copy(update={"approval": POLICY.approval.model_copy(update={"kinds": ["gpu.drain"]})})
    assert verdict("gpu.drain", "gpu:3", policy=asks) == "approval"


# ------------------------------------------------------------ properties


@functools.cache
def base() -> Snapshot:
    return snap()  # healthy-busy: jobs running, GPUs 0-2 busy, GPU 3 idle


DISPOSABLE = POLICY.disks.disposable
text = st.text(string.ascii_letters + string.digits + "-_.:/@ ;$`|&'\"", min_size=0, max_size=40)


def _lexically_disposable(path: str) -> bool:
    import posixpath

    p = posixpath.normpath(path)
    return any(p == r or p.startswith(r + "/") for r in DISPOSABLE)


@settings(max_examples=400, deadline=None)
@given(kind=st.sampled_from([k for k in KINDS if k not in ("noop", "notify")]), target=text)
def test_no_illegal_target_is_ever_allowed(kind: str, target: str) -> None:
    """Random targets either fail validation or name nothing this host has: never `allow`."""
    assume(
        target not in ("all", "", "openssl")
        and not (kind == "disk.cleanup" and _lexically_disposable(target))
    )
    params: dict[str, Any] = {"gpus": [3]} if kind == "job.start" else {}
    params |= {"watts": 300} if kind == "gpu.set_power_limit" else {}
    try:
        action = make_action(kind, target, **params)
    except ContractError:
        return
    assume(not (kind.startswith("gpu.") and action.target in {"gpu:0", "gpu:1", "gpu:2", "gpu:3"}))
    assume(not (kind.startswith("service.") and base().service(action.target)))
    assume(not (kind.startswith("job.") and base().job(action.target)))
    assert one(action, base()).verdict != "allow"


@settings(max_examples=200, deadline=None)
@given(index=st.integers(0, 3), plan_len=st.integers(1, 3))
def test_busy_gpus_are_never_reset(index: int, plan_len: int) -> None:
    plan = [make_action("gpu.reset", f"gpu:{index}")] * plan_len
    verdicts = [j.verdict for j in judge(plan, base(), POLICY)]
    if base().gpus[index].processes:
        assert set(verdicts) == {"deny"}
    else:
        assert verdicts[0] == "allow" and set(verdicts[1:]) <= {"deny"}


@settings(max_examples=200, deadline=None)
@given(
    parts=st.lists(st.sampled_from(["..", ".", "home", "etc", "var", "cache", "apt", "tmp", "x"]), max_size=8)
)
def test_cleanup_allowed_only_inside_disposable(parts: list[str]) -> None:
    path = "/" + "/".join(parts)
    j = one(make_action("disk.cleanup", path), base())
    assert (j.verdict == "allow") == _lexically_disposable(path)
