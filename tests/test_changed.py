"""What makes the daemon decide before its regular interval."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from llmosd.contract import Disk, Gpu, GpuProcess, Host, Job, Service, Snapshot, XidEvent
from llmosd.policy import load_policy
from llmosd.snapshot import changed

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
POLICY = load_policy("default")


def snap(**kw: object) -> Snapshot:
    base: dict[str, object] = {
        "id": "s", "now": NOW, "host": Host(hostname="h", disks=[Disk(mount="/", used_percent=50)]),
        "gpus": [Gpu(index=0, util_percent=90, processes=[GpuProcess(pid=1, job="j", mem_mib=10)])],
        "jobs": [Job(id="j", state="running", gpus=[0])],
        "services": [Service(unit="a.service", state="active")],
    }  # fmt: skip
    return Snapshot.model_validate({**base, **kw})


def test_nothing_changed_means_no_decision() -> None:
    assert changed(snap(), snap(), POLICY) == []
    assert [c.what for c in changed(None, snap(), POLICY)] == ["first snapshot"]


def test_each_kind_of_change_is_named() -> None:
    prev = snap()
    cases: dict[str, dict[str, Any]] = {
        "xid 79 on gpu:0": {"gpus": [Gpu(index=0, util_percent=90, xid_events=[XidEvent(xid=79, at=NOW)])]},
        "error on gpu:0": {"gpus": [Gpu(index=0, error="GPU is lost")]},
        "throttle hw_thermal_slowdown on gpu:0": {
            "gpus": [Gpu(index=0, util_percent=90, throttle_reasons=["hw_thermal_slowdown"])]
        },
        "uncorrected ECC on gpu:0": {"gpus": [Gpu(index=0, util_percent=90, ecc_uncorrected=2)]},
        "service a.service failed": {"services": [Service(unit="a.service", state="failed")]},
        "job j running -> failed": {"jobs": [Job(id="j", state="failed", gpus=[0])]},
        "job q appeared (queued)": {
            "jobs": [Job(id="j", state="running", gpus=[0]), Job(id="q", state="queued")]
        },
        "job j went idle": {"gpus": [Gpu(index=0, util_percent=0)]},
        "disk / passed 95%": {"host": Host(hostname="h", disks=[Disk(mount="/", used_percent=97)])},
    }
    for expected, kw in cases.items():
        found = changed(prev, snap(**kw), POLICY)
        assert any(expected in c.what for c in found), expected
        assert all(c.target for c in found)  # stored with the event: what it happened to


def test_an_old_xid_is_not_news_again() -> None:
    hot = {"gpus": [Gpu(index=0, util_percent=90, xid_events=[XidEvent(xid=79, at=NOW)])]}
    assert changed(snap(**hot), snap(**hot), POLICY) == []
