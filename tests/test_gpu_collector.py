"""The GPU collector over the real nvidia-ml-py, on a stub libnvidia-ml built from C for this session."""

from __future__ import annotations

import ctypes.util
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from nvml_fixture import GPU_IS_LOST, NOT_SUPPORTED, UNKNOWN, FakeGpu, NvmlStub, fleet

from llmosd.contract import Gpu
from llmosd.errors import CollectorError
from llmosd.telemetry.gpu import GpuCollector, PsutilLookup, reason_names
from llmosd.telemetry.kmsg import KmsgReader
from llmosd.telemetry.nvml import Nvml, normal_pci

T0 = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def stub(tmp_path_factory: pytest.TempPathFactory) -> NvmlStub:
    return NvmlStub(tmp_path_factory.mktemp("nvml"))


@pytest.fixture
def nvml(stub: NvmlStub) -> Iterator[Nvml]:
    stub.set([])
    nv = Nvml(stub.library)
    yield nv
    nv.close()


class Clock:
    def __init__(self, t: datetime = T0):
        self.t = t

    def __call__(self) -> datetime:
        return self.t


def kmsg_file(tmp_path: Path, *lines: str) -> Path:
    p = tmp_path / "kmsg"
    p.write_text("".join(line + "\n" for line in lines))
    return p


def until(cond, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "condition not met in time"
        time.sleep(0.02)


def test_reads_every_gpu_in_snapshot_units(stub: NvmlStub, nvml: Nvml) -> None:
    gpus = fleet(4, util=97, mem_used_mib=71234, temp=67, power_w=612.5, power_limit_w=700)
    gpus[3] = FakeGpu(name="NVIDIA A100-SXM4-40GB", pci="00000000:AF:00.0", util=3, mem_total_mib=40960,
                      temp=31, power_w=55, power_limit_w=400, power_min_w=100, power_max_w=400)  # fmt: skip
    stub.set(gpus)
    got = GpuCollector(nvml, deadline=None).collect()
    assert [g.index for g in got] == [0, 1, 2, 3]
    h100 = got[0]
    assert (h100.name, h100.util_percent, h100.mem_used_mib, h100.mem_total_mib) == (
        "NVIDIA H100 80GB HBM3", 97, 71234, 81559,
    )  # fmt: skip
    assert (h100.temp_c, h100.power_w, h100.power_limit_w) == (67, 612.5, 700)
    assert (h100.power_limit_min_w, h100.power_limit_max_w) == (200, 700)
    assert h100.uuid == "GPU-00000000-0000-0000-0000-000000000000"
    assert h100.error is None and h100.xid_events == [] and h100.throttle_reasons == []
    a100 = got[3]
    assert (a100.name, a100.util_percent, a100.mem_total_mib, a100.power_limit_min_w) == (
        "NVIDIA A100-SXM4-40GB", 3, 40960, 100,
    )  # fmt: skip
    assert not any(g.drained for g in got)  # placement state is the daemon's, not NVML's


def test_health_fields(stub: NvmlStub, nvml: Nvml) -> None:
    gpus = fleet(4)
    gpus[0].ecc = 2
    gpus[1].retired = True
    gpus[2].remap = (0, 1, 1, 0)  # one row waits for a reset
    gpus[3].remap = (0, 0, 0, 1)  # a remap failed
    stub.set(gpus)
    got = GpuCollector(nvml, deadline=None).collect()
    assert [g.ecc_uncorrected for g in got] == [2, 0, 0, 0]
    assert [g.retired_pages_pending for g in got] == [False, True, False, False]
    assert [g.remap_pending for g in got] == [False, False, True, True]


def test_throttle_reasons_are_named_from_the_bitmask(stub: NvmlStub, nvml: Nvml) -> None:
    assert reason_names(0x1 | 0x8 | 0x40 | 0x1000) == ["hw_slowdown", "hw_thermal_slowdown", "reason_0x1000"]
    assert reason_names(0x1) == []  # idle alone is not a reason to act on
    stub.set([*fleet(2, reasons=0x4), FakeGpu(pci="00000000:5E:00.0", reasons=0x20 | 0x40 | 0x80)])
    got = GpuCollector(nvml, deadline=None).collect()
    assert got[0].throttle_reasons == ["sw_power_cap"]
    assert got[2].throttle_reasons == [
        "sw_thermal_slowdown",
        "hw_thermal_slowdown",
        "hw_power_brake_slowdown",
    ]


def test_unsupported_queries_become_missing_fields_not_errors(stub: NvmlStub, nvml: Nvml) -> None:
    gpus = fleet(2, temp=50, power_w=300)
    unsupported = ("temp", "power", "power_limit", "constraints", "reasons", "ecc", "retired", "remap",
                   "procs", "gprocs")  # fmt: skip
    gpus[1].fail = dict.fromkeys(unsupported, NOT_SUPPORTED)
    stub.set(gpus)
    full, bare = GpuCollector(nvml, deadline=None).collect()
    assert bare.error is None
    assert (bare.temp_c, bare.power_w, bare.power_limit_w, bare.power_limit_min_w) == (None, None, None, None)
    assert (bare.ecc_uncorrected, bare.retired_pages_pending, bare.remap_pending) == (0, False, False)
    assert bare.throttle_reasons == [] and bare.processes == []
    assert bare.mem_total_mib == 81559  # what it does support is still read
    assert (full.temp_c, full.power_w) == (50, 300)


def test_an_nvml_failure_marks_that_gpu_and_names_the_query(stub: NvmlStub, nvml: Nvml) -> None:
    gpus = fleet(3, temp=55)
    gpus[1].fail = {"temp": UNKNOWN}
    stub.set(gpus)
    got = GpuCollector(nvml, deadline=None).collect()
    assert got[1].error == "NVML temperature: Unknown Error"
    assert got[1].temp_c is None and got[1].mem_total_mib == 81559
    assert got[0].error is None and got[2].temp_c == 55


def test_lost_gpu_is_an_error_and_one_event_while_others_are_read(stub: NvmlStub, nvml: Nvml) -> None:
    clock = Clock()
    gpus = fleet(3, util=80)
    stub.set(gpus)
    c = GpuCollector(nvml, clock=clock, deadline=None)
    assert all(g.error is None for g in c.collect())
    gpus[1].fail = {"*": GPU_IS_LOST}
    stub.set(gpus)
    clock.t += timedelta(minutes=1)
    got = c.collect()
    assert got[1].error is not None and "lost" in got[1].error
    assert [(e.xid, e.at) for e in got[1].xid_events] == [(79, clock.t)]
    assert got[1].name == "NVIDIA H100 80GB HBM3"  # still says which card it was
    assert got[0].util_percent == 80 and got[2].util_percent == 80 and got[0].error is None
    clock.t += timedelta(minutes=1)
    assert len(c.collect()[1].xid_events) == 1  # still lost: no new event every tick
    gpus[1].fail = {}
    stub.set(gpus)
    back = c.collect()[1]
    assert back.error is None and back.util_percent == 80
    clock.t += timedelta(hours=1, minutes=1)
    assert c.collect()[1].xid_events == []  # recovered and aged out


def test_gpu_lost_before_it_was_ever_read(stub: NvmlStub, nvml: Nvml) -> None:
    gpus = fleet(2)
    gpus[0].fail = {"*": GPU_IS_LOST, "handle": GPU_IS_LOST}
    stub.set(gpus)
    c = GpuCollector(nvml, clock=Clock(), deadline=None)
    lost, fine = c.collect()
    assert lost.error is not None and "lost" in lost.error and [e.xid for e in lost.xid_events] == [79]
    assert fine.error is None


def test_xid_from_nvml_event_set(stub: NvmlStub, nvml: Nvml) -> None:
    stub.set(fleet(3))
    c = GpuCollector(nvml, deadline=None)
    c.start()
    try:
        stub.xid(2, 48)
        until(lambda: c.collect()[2].xid_events != [])
        got = c.collect()
        assert [e.xid for e in got[2].xid_events] == [48]
        assert got[0].xid_events == [] and got[1].xid_events == []
    finally:
        c.close()


def test_xid_from_kernel_log_reaches_the_gpu_by_pci_bus(stub: NvmlStub, nvml: Nvml, tmp_path: Path) -> None:
    boot = T0.timestamp() - 1000.0
    log = kmsg_file(
        tmp_path,
        "4,900,995000000,-;NVRM: Xid (PCI:0000:19:00): 79, pid=4411, GPU has fallen off the bus.",
        " SUBSYSTEM=pci",
        "4,901,996000000,-;NVRM: GPU at PCI:0000:19:00: GPU-1",
        # Written from user space (facility 1): a forgery, not the driver.
        "12,902,997000000,-;NVRM: Xid (PCI:0000:18:00): 48, pid=1, DBE",
    )
    stub.set(fleet(3))
    c = GpuCollector(nvml, clock=Clock(), kernel_log=KmsgReader(str(log), boot_time=boot), deadline=None)
    got = c.collect()
    assert [(e.xid, e.at) for e in got[1].xid_events] == [(79, T0 - timedelta(seconds=5))]
    assert got[0].xid_events == [] and got[2].xid_events == []


def test_same_xid_from_both_sources_is_one_event(stub: NvmlStub, nvml: Nvml, tmp_path: Path) -> None:
    stub.set(fleet(2))
    log = tmp_path / "kmsg"
    log.write_text("")
    # Kernel stamps on the same clock as the collector's: one Xid seen twice is one event.
    reader = KmsgReader(str(log), boot_time=time.time() - 100.0)
    c = GpuCollector(nvml, kernel_log=reader)
    c.start()
    try:
        stub.xid(0, 94)
        until(lambda: c.collect()[0].xid_events != [])
        with log.open("a") as f:
            f.write("3,7,100000000,-;NVRM: Xid (PCI:0000:18:00): 94, pid=7, Contained: SM (0x1).\n")
        got = c.collect()
        assert [e.xid for e in got[0].xid_events] == [94]
    finally:
        c.close()


def test_xid_events_age_out_after_the_window(stub: NvmlStub, nvml: Nvml, tmp_path: Path) -> None:
    clock = Clock()
    boot = T0.timestamp() - 7200.0
    log = kmsg_file(
        tmp_path,
        "4,1,100000000,-;NVRM: Xid (PCI:0000:18:00): 63, pid=1, row remapping",  # 118 min before T0
        "4,2,7140000000,-;NVRM: Xid (PCI:0000:18:00): 31, pid=2, MMU Fault",  # 1 min before T0
    )
    stub.set(fleet(1))
    c = GpuCollector(nvml, clock=clock, xid_window=timedelta(minutes=30),
                     kernel_log=KmsgReader(str(log), boot_time=boot), deadline=None)  # fmt: skip
    assert [e.xid for e in c.collect()[0].xid_events] == [31]
    clock.t += timedelta(minutes=28)
    assert [e.xid for e in c.collect()[0].xid_events] == [31]
    clock.t += timedelta(minutes=5)
    assert c.collect()[0].xid_events == []


def test_processes_with_owner_command_and_job(stub: NvmlStub, nvml: Nvml) -> None:
    child = subprocess.Popen(["sleep", "30"], user="nobody")
    try:
        me, gone = os.getpid(), 4_000_000  # above pid_max: no such process
        gpus = fleet(2)
        gpus[0].procs = [(child.pid, 70000), (gone, 10)]
        gpus[0].gprocs = [(child.pid, 100), (me, 300)]
        stub.set(gpus)
        got = GpuCollector(nvml, deadline=None).collect(jobs={child.pid: "j-17"})
        procs = {p.pid: p for p in got[0].processes}
        assert set(procs) == {child.pid, gone, me}  # one entry per pid, compute and graphics together
        assert (procs[child.pid].user, procs[child.pid].cmd) == ("nobody", "sleep 30")
        assert (procs[child.pid].mem_mib, procs[child.pid].job) == (70000, "j-17")
        assert procs[me].cmd.startswith(sys.executable.rsplit("/", 1)[-1]) or "python" in procs[me].cmd
        assert procs[me].job is None
        assert (procs[gone].user, procs[gone].cmd, procs[gone].mem_mib) == ("", "", 10)
        assert got[1].processes == []
    finally:
        child.kill()
        child.wait()


def test_a_hung_driver_gives_last_state_with_an_error_and_kernel_xids(
    stub: NvmlStub, nvml: Nvml, tmp_path: Path
) -> None:
    gpus = fleet(2, procs=[(os.getpid(), 1000)])
    stub.set(gpus)
    log = tmp_path / "kmsg"
    log.write_text("")
    c = GpuCollector(nvml, kernel_log=KmsgReader(str(log), boot_time=time.time() - 50.0), deadline=0.3)
    try:
        assert c.collect()[0].error is None
        gpus[0].hang_ms = 1500
        stub.set(gpus)
        log.write_text("4,3,49000000,-;NVRM: Xid (PCI:0000:19:00): 79, pid=0, GPU has fallen off the bus.\n")
        start = time.monotonic()
        stuck = c.collect()
        assert time.monotonic() - start < 1.0
        assert all(g.error is not None and "did not answer" in g.error for g in stuck)
        assert [e.xid for e in stuck[1].xid_events] == [79]  # the kernel log still speaks
        assert stuck[0].mem_total_mib == 81559 and [p.pid for p in stuck[0].processes] == [os.getpid()]
        gpus[0].hang_ms = 0
        stub.set(gpus)
        until(lambda: c.collect()[0].error is None)
    finally:
        c.close()


@pytest.mark.skipif(
    ctypes.util.find_library("nvidia-ml") is not None, reason="this machine has an NVIDIA driver"
)
def test_nvml_that_cannot_start_is_a_collector_error() -> None:
    # In a fresh interpreter, so the real library is looked for (and is missing here).
    code = (
        "from llmosd.telemetry.nvml import Nvml\n"
        "try:\n    Nvml()\nexcept Exception as e:\n    print(type(e).__name__, e)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.startswith("CollectorError NVML cannot start")


def test_library_switch_is_refused(stub: NvmlStub, nvml: Nvml, tmp_path: Path) -> None:
    with pytest.raises(CollectorError, match="already loaded"):
        Nvml(tmp_path / "other" / "libnvidia-ml.so.1")


def test_pci_ids_from_nvml_and_kernel_agree() -> None:
    assert normal_pci("00000000:3B:00.0") == normal_pci("0000:3b:00") == "0000:3b:00"
    assert normal_pci("00000001:05:1F.0") == "0001:05:1f"


def test_snapshot_form_round_trips(stub: NvmlStub, nvml: Nvml) -> None:
    stub.set(fleet(2, reasons=0x40, procs=[(os.getpid(), 5)]))
    for g in GpuCollector(nvml, deadline=None).collect():
        assert Gpu.model_validate_json(g.model_dump_json()) == g


def test_owner_lookup_forgets_a_process_that_ended() -> None:
    lookup = PsutilLookup()
    child = subprocess.Popen(["sleep", "30"], user="nobody")
    try:
        assert lookup(child.pid) == ("nobody", "sleep 30")
        assert lookup(child.pid) == ("nobody", "sleep 30")  # from memory this time
    finally:
        child.kill()
        child.wait()
    assert lookup(child.pid) is None  # its PID is free now: no stale owner is reported


def test_power_cap_through_the_executors_nvml_control(stub: NvmlStub, nvml: Nvml) -> None:
    from llmosd.errors import ExecutorError
    from llmosd.executors.gpu import NvmlControl

    stub.set(fleet(2, power_limit_w=700, power_min_w=200, power_max_w=700))
    control = NvmlControl(nvml)
    control.set_power_limit(1, 450)
    assert (control.power_limit(1), control.power_limit(0)) == (450, 700)
    with pytest.raises(ExecutorError, match=r"gpu:0: .*900 W"):
        control.set_power_limit(0, 900)  # above the board's maximum: refused by NVML, nothing changes
    assert control.power_limit(0) == 700
    stub.set([FakeGpu(fail={"set_power_limit": NOT_SUPPORTED})])
    with pytest.raises(ExecutorError, match="gpu:0"):
        control.set_power_limit(0, 300)
