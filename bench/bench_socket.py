"""Admin socket under load: many concurrent `status` clients while the daemon loop decides.

    python bench/bench_socket.py [--clients 500] [--requests 10] [--procs 4]

A server (llmosd.server) answers `status` from what a loop thread last
decided: that thread runs the rules engine and the guard on a real scenario
as fast as it can, as the daemon's tick would. Clients live in separate
processes (so they do not share the server's interpreter lock), open a
connection per request as llmosctl does, and all start together.
Prints p50/p99 latency, throughput, dropped requests (no valid answer), the
loop's tick rate before and during the load, and the p50 ratio against one
client alone measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import tempfile
import threading
import time
from pathlib import Path

from llmosd.contract import load_snapshot
from llmosd.engine.decide import decide
from llmosd.policy import load_policy
from llmosd.protocol import StatusView
from llmosd.server import Server

SCENARIO = Path(__file__).resolve().parents[2] / "shared" / "scenarios" / "dev" / "svc-oom-killed-once.json"
REQUEST = b'{"op": "status"}\n'


class LoopBackend:
    """The daemon loop's stand-in: decides over and over; `status` reads its latest result."""

    def __init__(self) -> None:
        self.snap = load_snapshot(SCENARIO)
        self.policy = load_policy(self.snap.policy)
        self.ticks = 0
        self.last = self.snap.now
        self.stop = threading.Event()

    def loop(self) -> None:
        while not self.stop.is_set():
            decide(self.snap, self.policy)
            self.ticks += 1
            time.sleep(0.001)  # the daemon's loop sleeps between ticks too

    def status(self) -> StatusView:
        s = self.snap
        failed = sum(v.state == "failed" for v in s.services)
        return StatusView(hostname=s.host.hostname, now=s.now, mode="autonomous", gpus=len(s.gpus),
                          services_failed=failed, last_tick=self.last)  # fmt: skip


async def _client(path: str, n: int, out: list[float], dropped: list[int]) -> None:
    for _ in range(n):
        t0 = time.perf_counter()
        try:
            r, w = await asyncio.open_unix_connection(path)
            w.write(REQUEST)
            await w.drain()
            line = await asyncio.wait_for(r.readline(), 30)
            w.close()
            if not json.loads(line).get("ok"):
                raise ValueError(line)
            out.append(time.perf_counter() - t0)
        except (OSError, ValueError, TimeoutError):
            dropped.append(1)


def _proc(path: str, clients: int, n: int, go: mp.synchronize.Event, q: mp.Queue) -> None:
    lat: list[float] = []
    dropped: list[int] = []

    async def main() -> None:
        go.wait()
        await asyncio.gather(*(_client(path, n, lat, dropped) for _ in range(clients)))

    asyncio.run(main())
    q.put((lat, len(dropped)))


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))] * 1000 if xs else float("nan")


def _load(path: str, share: list[int], requests: int, backend: LoopBackend) -> tuple[list, float, float]:
    """Start one process per entry of `share` with that many clients; all begin at once."""
    ctx = mp.get_context("fork")
    go, q = ctx.Event(), ctx.Queue()
    ps = [ctx.Process(target=_proc, args=(path, k, requests, go, q)) for k in share]
    for p in ps:
        p.start()
    time.sleep(0.5)
    t0, ticks0 = time.perf_counter(), backend.ticks
    go.set()
    results = [q.get() for _ in ps]
    wall = time.perf_counter() - t0
    for p in ps:
        p.join()
    return results, wall, (backend.ticks - ticks0) / wall


def run(clients: int, requests: int, procs: int) -> None:
    backend = LoopBackend()
    loop = threading.Thread(target=backend.loop, daemon=True)
    loop.start()
    with tempfile.TemporaryDirectory() as d, Server(Path(d) / "s.sock", backend, max_clients=4096) as srv:  # type: ignore[arg-type]
        path = str(srv.path)
        # Baseline: one client alone, from its own process, same server, same loop running.
        ([solo], _, _) = _load(path, [1], 200, backend)
        t0, ticks0 = time.perf_counter(), backend.ticks
        time.sleep(1.0)
        idle_rate = (backend.ticks - ticks0) / (time.perf_counter() - t0)
        share = [clients // procs + (i < clients % procs) for i in range(procs)]
        results, wall, load_rate = _load(path, share, requests, backend)
    backend.stop.set()
    lat = [x for r in results for x in r[0]]
    dropped = sum(r[1] for r in results)
    total = clients * requests
    print(
        f"clients {clients} x {requests} status requests ({procs} client processes), connection per request"
    )
    print(f"answered {len(lat)}/{total}, dropped {dropped}")
    print(f"latency p50 {pct(lat, 50):.1f} ms  p99 {pct(lat, 99):.1f} ms  max {max(lat) * 1000:.1f} ms")
    print(f"throughput {len(lat) / wall:.0f} req/s over {wall:.2f} s")
    print(f"one client alone: p50 {pct(solo[0], 50):.2f} ms  p99 {pct(solo[0], 99):.2f} ms  "
          f"-> p50 ratio under load {pct(lat, 50) / pct(solo[0], 50):.0f}x")  # fmt: skip
    print(f"daemon loop (rules engine + guard, back to back): {idle_rate:.0f} ticks/s before, "
          f"{load_rate:.0f} ticks/s under load")  # fmt: skip


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=500)
    ap.add_argument("--requests", type=int, default=10)
    ap.add_argument("--procs", type=int, default=4)
    a = ap.parse_args()
    run(a.clients, a.requests, a.procs)
