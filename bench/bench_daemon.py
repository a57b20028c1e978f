"""What the daemon costs, and how big its database gets.

    python bench/bench_daemon.py [--seconds 60] [--days 7] [--gpus 8]

1. CPU share and RSS of `llmosd run --simulate examples/demo-timeline.yaml --interval 1`
   (rules engine) over `--seconds`, beside a bare loop measured at the same time on the same
   machine: every second, psutil's host readings plus the same NVML queries through pynvml
   over the C NVML stub (tests/nvml_stub) serving as many GPUs, no snapshot, no decisions, no
   database. Ratio = daemon / bare loop. Both start before the window opens (imports excluded).
2. Database size after `--days` of `--gpus`-GPU samples every 2 s (the default interval),
   written through store.py in hourly batches, with the nightly retention run at each day's end.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from llmosd.config import Retention  # noqa: E402
from llmosd.store import MINUTE, RAW, TENMIN, Store  # noqa: E402

DEMO = ROOT / "examples" / "demo-timeline.yaml"
DEMO_GPUS = 4


def bare_loop(library: str, seconds: float) -> None:
    """The baseline process: host readings + NVML queries once a second."""
    from bench_collect import bare_gpu_loop, bare_host

    from llmosd.telemetry.nvml import Nvml

    nv = Nvml(library)
    gpus = bare_gpu_loop(nv.count())
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t = time.monotonic()
        gpus()
        bare_host()
        time.sleep(max(0.0, 1.0 - (time.monotonic() - t)))
    nv.close()


def watch(procs: dict[str, psutil.Process], seconds: float) -> dict[str, tuple[float, float, float]]:
    """CPU share (% of one core) and RSS (mean, max MiB) of each process over `seconds`."""
    start = {k: p.cpu_times() for k, p in procs.items()}
    rss: dict[str, list[float]] = {k: [] for k in procs}
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        for k, p in procs.items():
            rss[k].append(p.memory_info().rss / 2**20)
        time.sleep(1.0)
    wall = time.monotonic() - t0
    out = {}
    for k, p in procs.items():
        c0, c1 = start[k], p.cpu_times()
        cpu = (c1.user + c1.system - c0.user - c0.system) / wall * 100
        out[k] = (cpu, sum(rss[k]) / len(rss[k]), max(rss[k]))
    return out


def resource_use(seconds: float, work: Path) -> None:
    from nvml_fixture import NvmlStub, fleet

    stub = NvmlStub(work / "stub")
    stub.set(fleet(DEMO_GPUS, util=90, mem_used_mib=60000))
    daemon = subprocess.Popen(
        [sys.executable, "-m", "llmosd", "run", "--simulate", str(DEMO), "--interval", "1",
         "--engine", "rules", "--state-dir", str(work / "state"), "--for", str(seconds + 15)],
        cwd=ROOT, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    bare_argv = [sys.executable, __file__, "--bare", str(stub.library), "--seconds", str(seconds + 15)]
    bare = subprocess.Popen(bare_argv)
    try:
        time.sleep(8)  # both past their imports and first readings
        use = watch({"daemon": psutil.Process(daemon.pid), "bare": psutil.Process(bare.pid)}, seconds)
    finally:
        for p in (daemon, bare):
            p.terminate()
            p.wait(timeout=10)
    (dc, dr, dm), (bc, br, bm) = use["daemon"], use["bare"]
    print(f"resource use over {seconds:.0f} s at 1 s sampling, {DEMO_GPUS} GPUs, {psutil.cpu_count()} cores:")
    print(f"  {'':34}{'CPU % of a core':>16}{'RSS mean MiB':>14}{'RSS max MiB':>13}")
    print(f"  {'llmosd run --simulate (rules)':34}{dc:16.2f}{dr:14.1f}{dm:13.1f}")
    print(f"  {'bare psutil + NVML-stub loop':34}{bc:16.2f}{br:14.1f}{bm:13.1f}")
    print(f"  {'ratio daemon / bare':34}{dc / max(bc, 1e-9):16.2f}{dr / br:14.2f}{dm / bm:13.2f}")


def database_size(days: int, gpus: int, work: Path) -> None:
    store = Store(work / "size.db")
    keep = Retention()
    every = 2.0
    t = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    written = 0
    t_start = time.perf_counter()
    print(f"database after simulated days of {gpus}-GPU samples every {every:.0f} s (retention nightly):")
    print(f"  {'day':>4}{'rows written':>14}{'raw':>10}{'1-min':>9}{'10-min':>9}{'size MiB':>10}")
    for day in range(1, days + 1):
        for _hour in range(24):
            ticks = [t + k * every for k in range(int(3600 / every))]
            host = [(ts, RAW, 20.0, 40.0) for ts in ticks]
            rows = [(ts, RAW, i, 90.0, 60000.0, 65.0 + i, 550.0) for ts in ticks for i in range(gpus)]
            store.insert_samples(host, rows)
            written += len(rows) + len(host)
            t += 3600
        store.retention(datetime.fromtimestamp(t, UTC), keep)
        counts = [store.count("samples", r) for r in (RAW, MINUTE, TENMIN)]
        size = store.size_bytes() / 2**20
        print(f"  {day:4d}{written:14d}{counts[0]:10d}{counts[1]:9d}{counts[2]:9d}{size:10.1f}")
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.vacuum()
    print(f"  after VACUUM: {store.size_bytes() / 2**20:.1f} MiB; without retention every row would stay: "
          f"{written} rows ({time.perf_counter() - t_start:.0f} s to write)")  # fmt: skip
    store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--gpus", type=int, default=8)
    ap.add_argument("--bare", metavar="LIBRARY", help=argparse.SUPPRESS)  # the baseline's own process
    ap.add_argument("--skip-run", action="store_true", help="only the database part")
    args = ap.parse_args()
    if args.bare:
        bare_loop(args.bare, args.seconds)
        return
    with tempfile.TemporaryDirectory(prefix="bench-daemon-") as d:
        if not args.skip_run:
            resource_use(args.seconds, Path(d))
        database_size(args.days, args.gpus, Path(d))


if __name__ == "__main__":
    main()
