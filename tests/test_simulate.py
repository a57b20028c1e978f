"""The GPU timeline simulator: the demo's faults appear when the timeline says, bad timelines are refused."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from llmosd.errors import ConfigError, ExecutorError
from llmosd.telemetry.simulate import Simulator, fault_times, load_timeline

DEMO = Path(__file__).parent.parent / "examples" / "demo-timeline.yaml"
START = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def sim() -> Simulator:
    return Simulator(load_timeline(DEMO), START)


def test_demo_starts_healthy_then_shows_each_fault_on_time() -> None:
    s = sim()
    healthy = s.gpus(0)
    assert len(healthy) == 4
    assert all(not g.xid_events and not g.throttle_reasons and g.error is None for g in healthy)
    assert {t: kind for t, kind, _ in fault_times(s.timeline)} == {5: "hang", 10: "xid", 20: "thermal"}
    assert s.gpus(4.9)[3].util_percent == 90 and s.gpus(5.0)[3].util_percent == 0
    assert s.gpus(5.0)[3].mem_used_mib == 40000  # a hung job still holds its memory
    assert not s.gpus(9.9)[2].xid_events
    at = datetime(2026, 11, 20, 12, 0, 10, tzinfo=UTC)
    assert [(e.xid, e.at) for e in s.gpus(10.0)[2].xid_events] == [(79, at)]
    assert s.gpus(19.9)[1].throttle_reasons == []
    assert s.gpus(20.5)[1].throttle_reasons == ["hw_thermal_slowdown"]
    hot = s.gpus(20.5)[1].temp_c
    assert hot is not None and hot > 90


def test_jobs_started_long_enough_ago_to_be_judged_idle() -> None:
    jobs = {j.id: j for j in sim().jobs()}
    stuck = jobs["stuck-7"]
    assert stuck.state == "running" and stuck.gpus == [3]
    assert stuck.started_at is not None and (START - stuck.started_at).total_seconds() == 3 * 3600


def test_lowering_the_power_cap_ends_the_slowdown() -> None:
    s = sim()
    assert s.gpus(25)[1].throttle_reasons
    s.set_power_limit(1, 595)
    g = s.gpus(25)[1]
    assert g.power_limit_w == 595 and not g.throttle_reasons
    with pytest.raises(ExecutorError):
        s.set_power_limit(1, 50)


def test_simulated_run_resets_gpus_and_nothing_else() -> None:
    s = sim()
    assert s.run(["nvidia-smi", "--gpu-reset", "-i", "2"]).rc == 0
    with pytest.raises(ExecutorError, match="simulation"):
        s.run(["systemctl", "restart", "sshd"])


def test_lost_gpu_and_ecc(tmp_path: Path) -> None:
    f = tmp_path / "t.yaml"
    f.write_text(
        "gpus: {count: 2}\nevents:\n  - {at: 1, type: lost, gpu: 0}\n"
        "  - {at: 2, type: ecc, gpu: 1, count: 3}\n"
    )
    s = Simulator(load_timeline(f), START)
    g0, g1 = s.gpus(3)
    assert g0.error and [e.xid for e in g0.xid_events] == [79] and not s.alive(0)
    assert g1.ecc_uncorrected == 3


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("gpus: {count: 2}\nevents: [{at: 1, type: xid, gpu: 5, xid: 79}]\n", "gpu 5"),
        ("events: [{at: 1, type: boom}]\n", "events[0]"),
        ("gpus: {count: 1, colour: red}\n", "gpus.colour"),
        ("events: [{at: 1, type: hang, job: nobody}]\n", "nobody"),
    ],
)
def test_bad_timeline_names_the_place(tmp_path: Path, text: str, where: str) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_timeline(f)
    assert str(f) in str(e.value) and where in str(e.value)
