"""Collector cost per tick: the GPU collector over 1, 8 and 64 stub GPUs, and the host collector.

    python bench/bench_collect.py [--ticks 200] [--gpus 1,8,64]
    python bench/bench_collect.py --real     # on a GPU server: its own driver, one JSON line per GPU too

The GPUs are served by the C NVML stub the tests build (tests/nvml_stub),
under the real nvidia-ml-py; every GPU runs two processes of its own (real
ones, on this machine), so the owner and command-line lookups are paid as
on a busy server. The
stub itself costs a stat() per NVML call, in both columns alike.

Baseline, measured in the same run on the same GPUs: a bare loop that makes
the same NVML queries through pynvml directly (the bench is the one place
outside telemetry/nvml.py that does) and asks psutil for each process's
owner and command line, with no error handling, no snapshot models, no Xid
bookkeeping and no worker thread (it only skips a query that fails). The ratio is collector / baseline. The
collector remembers each process's owner until its PID is reused, which the
bare loop does not; the last columns, a bare loop of the NVML queries alone
(no process owners), show the collector's cost over NVML itself.
The host line compares HostCollector.collect with the bare psutil calls it
makes (CPU, memory, load, disk usage, network, the process table).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pynvml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from nvml_fixture import NvmlStub, fleet

from llmosd.telemetry.gpu import GpuCollector
from llmosd.telemetry.host import HostCollector
from llmosd.telemetry.nvml import Nvml


def per_tick(fn: Callable[[], object], ticks: int) -> tuple[float, float]:
    """Median and 95th percentile of one call, in milliseconds, after a few warm-up calls."""
    for _ in range(3):
        fn()
    times = []
    for _ in range(ticks):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def bare_gpu_loop(n: int, owners: bool = True) -> Callable[[], object]:
    handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(n)]
    nv = pynvml

    def q(fn: Callable[..., Any], *a: object) -> Any:
        try:  # a real GPU leaves some queries unsupported; the bare loop must not stop there
            return fn(*a)
        except pynvml.NVMLError:
            return None

    def tick() -> object:
        out = []
        for h in handles:
            procs = [
                *(q(nv.nvmlDeviceGetComputeRunningProcesses, h) or []),
                *(q(nv.nvmlDeviceGetGraphicsRunningProcesses, h) or []),
            ]
            who = []
            for p in procs if owners else ():
                with contextlib.suppress(psutil.Error):
                    who.append((psutil.Process(p.pid).username(), psutil.Process(p.pid).cmdline()))
            out.append((
                q(nv.nvmlDeviceGetUtilizationRates, h), q(nv.nvmlDeviceGetMemoryInfo, h),
                q(nv.nvmlDeviceGetTemperature, h, nv.NVML_TEMPERATURE_GPU), q(nv.nvmlDeviceGetPowerUsage, h),
                q(nv.nvmlDeviceGetEnforcedPowerLimit, h), q(nv.nvmlDeviceGetCurrentClocksEventReasons, h),
                q(nv.nvmlDeviceGetTotalEccErrors, h, nv.NVML_MEMORY_ERROR_TYPE_UNCORRECTED, 0),  # volatile
                q(nv.nvmlDeviceGetRetiredPagesPendingStatus, h), q(nv.nvmlDeviceGetRemappedRows, h), who,
            ))  # fmt: skip
        return out

    return tick


def compare(label: str, nv: Nvml, n: int, ticks: int) -> None:
    collector = GpuCollector(nv)
    try:
        med, p95 = per_tick(collector.collect, ticks)
    finally:
        collector.close()
    base, _ = per_tick(bare_gpu_loop(n), ticks)
    floor, _ = per_tick(bare_gpu_loop(n, owners=False), ticks)
    cells = (med, p95, base, med / base, floor, med / floor)
    print(row(label, *(f"{c:.2f}" for c in cells)))


def bare_host() -> object:
    return (
        psutil.cpu_percent(None), psutil.virtual_memory(), os.getloadavg(),
        [shutil.disk_usage(p.mountpoint) for p in psutil.disk_partitions()],
        psutil.net_io_counters(pernic=True),
        [p.info for p in psutil.process_iter(["cpu_percent", "memory_info"])],
    )  # fmt: skip


def row(label: str, *cells: str) -> str:
    widths = (10, 9, 13, 7, 11, 7)
    return f"{label:26}" + "".join(f"{c:>{w}}" for c, w in zip(cells, widths, strict=False))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--ticks", type=int, default=200)
    ap.add_argument("--gpus", default="1,8,64")
    ap.add_argument("--real", action="store_true", help="this machine's own driver and GPUs, not the stub")
    args = ap.parse_args()
    header = row("", "median ms", "p95 ms", "baseline ms", "ratio", "NVML only", "ratio")
    if args.real:
        nv = Nvml()
        collector = GpuCollector(nv)
        for g in collector.collect():
            print(g.model_dump_json())
        collector.close()
        print(header)
        compare(f"GPU collector, {nv.count()} real", nv, nv.count(), args.ticks)
        nv.close()
        return
    sizes = [int(x) for x in args.gpus.split(",")]
    helpers = [subprocess.Popen(["sleep", "600"]) for _ in range(2 * max(sizes))]
    workdir = Path(tempfile.mkdtemp(prefix="bench-collect-"))
    try:
        stub = NvmlStub(workdir)
        nv = Nvml(stub.library)
        print(header)
        for n in sizes:
            gpus = fleet(n, util=90, mem_used_mib=60000)
            for i, fake in enumerate(gpus):
                fake.procs, fake.gprocs = [(helpers[2 * i].pid, 30000)], [(helpers[2 * i + 1].pid, 200)]
            stub.set(gpus)
            compare(f"GPU collector, {n} GPUs", nv, n, args.ticks)
        host = HostCollector()
        med, p95 = per_tick(host.collect, max(args.ticks // 4, 10))
        base, _ = per_tick(bare_host, max(args.ticks // 4, 10))
        host_cells = (med, p95, base, med / base)
        print(row(f"host collector, {len(psutil.pids())} procs", *(f"{c:.2f}" for c in host_cells)))
        nv.close()
    finally:
        for h in helpers:
            h.kill()
            h.wait()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
