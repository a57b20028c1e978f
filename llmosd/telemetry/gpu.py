"""Every GPU as the snapshot describes it, read through the NVML adapter.

Xid events come from two places: NVML's event set (a background thread) and
the kernel log (read at each pass, so an Xid is seen even while NVML hangs).
Both are kept for `xid_window`, then dropped: a GPU that recovered is not
flagged forever. NVML is read on a worker thread with a deadline: a hung
driver makes the pass report the last known state with an error, not hang.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import psutil

from llmosd.contract import Gpu, GpuProcess, XidEvent
from llmosd.errors import CollectorError, GpuLostError
from llmosd.telemetry.kmsg import XidSource
from llmosd.telemetry.nvml import Handle, Nvml, XidEventSet

log = logging.getLogger(__name__)
_T = TypeVar("_T")

ProcLookup = Callable[[int], "tuple[str, str] | None"]  # pid -> (user, command line)

# NVML clocks-event reason bits by their snapshot names. The idle bit is left
# out: util_percent already says so, and it is not a reason anyone acts on.
REASONS = {
    0x2: "applications_clocks_setting",
    0x4: "sw_power_cap",
    0x8: "hw_slowdown",
    0x10: "sync_boost",
    0x20: "sw_thermal_slowdown",
    0x40: "hw_thermal_slowdown",
    0x80: "hw_power_brake_slowdown",
    0x100: "display_clock_setting",
}
_IDLE = 0x1
LOST_XID = 79  # what the driver logs for a GPU that fell off the bus
_SAME_EVENT = timedelta(seconds=10)  # NVML and the kernel log report one Xid twice, a moment apart
_MAX_EVENTS = 32  # per GPU: an Xid storm must not grow the snapshot without bound
_CMD_CHARS = 1000


def reason_names(mask: int) -> list[str]:
    """Lower snake-case names of the set bits, known ones first; unknown bits by value."""
    names = [name for bit, name in REASONS.items() if mask & bit]
    unknown = mask & ~(_IDLE | sum(REASONS))
    names += [f"reason_{1 << b:#x}" for b in range(64) if unknown >> b & 1]
    return names


def utcnow() -> datetime:
    return datetime.now(UTC)


class PsutilLookup:
    """pid -> (user, command line) by psutil, remembered per process start.

    A GPU's processes are asked about every tick; the start time in
    /proc/PID/stat (one read) tells whether the PID is still the process we
    looked up before, so psutil is only asked about new ones.
    """

    def __init__(self, proc_root: str = "/proc") -> None:
        self.root = proc_root
        self._seen: dict[tuple[int, bytes], tuple[str, str]] = {}

    def _started(self, pid: int) -> bytes | None:
        try:
            with open(f"{self.root}/{pid}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            return None
        # Field 22 (start time in clock ticks); the command name before ")" may hold spaces.
        fields = stat.rsplit(b")", 1)[-1].split()
        return fields[19] if len(fields) > 19 else None

    def __call__(self, pid: int) -> tuple[str, str] | None:
        started = self._started(pid)
        if started is None:
            return None  # gone, or a PID of another namespace
        key = (pid, started)
        if key not in self._seen:
            try:
                p = psutil.Process(pid)
                who = (p.username(), " ".join(p.cmdline()) or p.name())
            except psutil.Error:
                return None
            if len(self._seen) > 4096:
                self._seen.clear()
            self._seen[key] = who
        return self._seen[key]


@dataclass
class _Card:
    """What stays true while a GPU stays on the bus (read once), and its last good reading."""

    handle: Handle
    key: int
    name: str = ""
    uuid: str | None = None
    pci: str | None = None
    power_range: tuple[float, float] | None = None
    last: Gpu | None = None


@dataclass
class _Xids:
    by_gpu: dict[int, list[XidEvent]] = field(default_factory=dict)
    unplaced: list[tuple[str | int, int, datetime]] = field(default_factory=list)


class GpuCollector:
    def __init__(
        self, nvml: Nvml, *, clock: Callable[[], datetime] = utcnow, proc: ProcLookup | None = None,
        xid_window: timedelta = timedelta(hours=1), kernel_log: XidSource | None = None,
        deadline: float | None = 5.0,
    ):  # fmt: skip
        self.nvml, self.clock, self.xid_window, self.kernel_log = nvml, clock, xid_window, kernel_log
        self.proc: ProcLookup = proc or PsutilLookup()
        self.deadline = deadline
        # Cards and Xids are touched by the reading worker and by collect(): under this lock.
        self._lock = threading.Lock()
        self._cards: dict[int, _Card] = {}
        self._gone: set[int] = set()
        self._xids = _Xids()
        self._hits: deque[tuple[int, int, datetime]] = deque(maxlen=4096)  # from the event thread
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._events: XidEventSet | None = None
        self._jobs: queue.SimpleQueue[Future[list[Gpu]] | None] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None
        self._pending: Future[list[Gpu]] | None = None
        self._complaints: dict[str, str] = {}

    # ------------------------------------------------------------ life cycle

    def start(self) -> None:
        """Watch NVML's Xid event set on a background thread (optional: the kernel log works without)."""
        if self._watcher is not None:
            return
        handles = []
        for i in range(self.nvml.count()):
            try:
                handles.append(self._card(i).handle)
            except CollectorError as e:  # not watched; its Xids still reach the kernel log
                log.warning("NVML Xid events not watched for GPU %d: %s", i, e)
        self._events = self.nvml.xid_events(handles)
        for why in self._events.unwatched:
            log.warning("NVML Xid events not watched for GPU %s", why)
        self._watcher = threading.Thread(target=self._watch, name="nvml-xid", daemon=True)
        self._watcher.start()

    def close(self) -> None:
        self._stop.set()
        if self._worker is not None:
            self._jobs.put(None)
        if self._watcher is not None:
            self._watcher.join(timeout=2.0)
            # Freeing the set under a thread still blocked in it would be a use-after-free.
            if self._events is not None and not self._watcher.is_alive():
                self._events.close()
            self._watcher = None

    def _watch(self) -> None:
        assert self._events is not None
        while not self._stop.is_set():
            try:
                hit = self._events.wait(250)  # also how long close() may wait for this thread
            except CollectorError as e:
                self._complain("event set", str(e))
                self._stop.wait(1.0)
                continue
            if hit is not None:
                self._hits.append((hit.device, hit.xid, self.clock()))

    # ------------------------------------------------------------ one pass

    def collect(self, jobs: Mapping[int, str] | None = None) -> list[Gpu]:
        """All GPUs now; `jobs` maps a pid to the id of the job it belongs to."""
        now = self.clock()
        self._take_kernel_log()
        gpus = self._read_with_deadline()
        self._place_events(now)
        jobs = jobs or {}
        for g in gpus:
            with self._lock:
                g.xid_events = list(self._xids.by_gpu.get(g.index, []))
            for p in g.processes:
                p.job = jobs.get(p.pid)
        return gpus

    def _read_with_deadline(self) -> list[Gpu]:
        if self.deadline is None:
            return self._read_all()
        if self._pending is None or self._pending.done():
            self._pending = Future()
            if self._worker is None:
                self._worker = threading.Thread(target=self._serve, name="nvml-read", daemon=True)
                self._worker.start()
            self._jobs.put(self._pending)
        try:
            return self._pending.result(timeout=self.deadline)
        except FutureTimeout:
            why = f"NVML did not answer within {self.deadline:g} s"
            self._complain("read", why)
            with self._lock:
                cards = sorted(self._cards.items())
            return [Gpu(index=i, name=c.name, uuid=c.uuid, error=why, **_kept(c.last)) for i, c in cards]

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                job.set_result(self._read_all())
            except BaseException as e:  # the caller gets it from the future
                job.set_exception(e)

    def _read_all(self) -> list[Gpu]:
        out = []
        for i in range(self.nvml.count()):
            try:
                g = self._read(i)
                self._gone.discard(i)
            except GpuLostError as e:
                g = self._lost(i, str(e))
            except CollectorError as e:
                card = self._cards.get(i)
                g = Gpu(index=i, name=card.name if card else "", error=str(e))
            out.append(g)
        return out

    def _card(self, index: int) -> _Card:
        card = self._cards.get(index)
        if card is None or index in self._gone:  # a GPU back from the bus gets a new handle
            h, nv = self.nvml.handle(index), self.nvml
            card = _Card(h, nv.handle_key(h), nv.name(h) or "", nv.uuid(h), nv.pci_bus_id(h))
            card.power_range = nv.power_limit_range_w(h)
            with self._lock:
                self._cards[index] = card
        return card

    def _read(self, index: int) -> Gpu:
        card = self._card(index)
        h, nv, errors = card.handle, self.nvml, []

        def ask(fn: Callable[[Handle], _T]) -> _T | None:
            try:
                return fn(h)
            except GpuLostError:
                raise
            except CollectorError as e:
                errors.append(str(e))  # the adapter's message names the query
                return None

        mem = ask(nv.memory_mib)
        reasons = ask(nv.clock_event_reasons)
        remap = ask(nv.row_remap)
        procs = ask(nv.processes)
        g = Gpu(
            index=index, name=card.name, uuid=card.uuid,
            util_percent=ask(nv.utilization),
            mem_used_mib=mem[0] if mem else None,
            mem_total_mib=mem[1] if mem else None,
            temp_c=ask(nv.temperature),
            power_w=ask(nv.power_w),
            power_limit_w=ask(nv.power_limit_w),
            power_limit_min_w=card.power_range[0] if card.power_range else None,
            power_limit_max_w=card.power_range[1] if card.power_range else None,
            ecc_uncorrected=ask(nv.ecc_uncorrected) or 0,
            retired_pages_pending=bool(ask(nv.retired_pages_pending)),
            # A failed remap needs the GPU out of service just as a pending one does.
            remap_pending=bool(remap and any(remap)),
            throttle_reasons=reason_names(reasons) if reasons is not None else [],
            processes=self._processes(procs or []),
            error="; ".join(errors) or None,
        )  # fmt: skip
        card.last = g
        return g

    def _processes(self, procs: list[tuple[int, float]]) -> list[GpuProcess]:
        out = []
        for pid, mib in procs:
            who = self.proc(pid)
            user, cmd = who if who else ("", "")
            out.append(GpuProcess(pid=pid, user=user, cmd=cmd[:_CMD_CHARS], mem_mib=round(mib, 1)))
        return out

    def _lost(self, index: int, why: str) -> Gpu:
        if index not in self._gone:  # an event when it goes, not once per tick while it stays gone
            self._gone.add(index)
            with self._lock:
                self._add(index, LOST_XID, self.clock())
        card = self._cards.get(index)
        return Gpu(index=index, name=card.name if card else "", uuid=card.uuid if card else None,
                   error=f"GPU is lost ({why})")  # fmt: skip

    # ------------------------------------------------------------ Xid events

    def _take_kernel_log(self) -> None:
        if self.kernel_log is None:
            return
        try:
            lines = self.kernel_log.poll()
        except CollectorError as e:
            self._complain("kernel log", str(e))
            return
        self._xids.unplaced.extend((x.pci, x.xid, x.at) for x in lines)

    def _place_events(self, now: datetime) -> None:
        with self._lock:
            self._place_locked(now)

    def _place_locked(self, now: datetime) -> None:
        while self._hits:
            self._xids.unplaced.append(self._hits.popleft())
        by_key = {c.key: i for i, c in self._cards.items()}
        by_pci = {c.pci: i for i, c in self._cards.items() if c.pci}
        keep = []
        for where, xid, at in self._xids.unplaced:
            index = by_pci.get(where) if isinstance(where, str) else by_key.get(where)
            if now - at > self.xid_window:
                continue
            if index is None:
                keep.append((where, xid, at))  # a GPU not read yet; placed once it is
            else:
                self._add(index, xid, at)
        self._xids.unplaced = keep
        for index, events in self._xids.by_gpu.items():
            self._xids.by_gpu[index] = [
                e for e in events if e.at is not None and now - e.at <= self.xid_window
            ]

    def _add(self, index: int, xid: int, at: datetime) -> None:
        events = self._xids.by_gpu.setdefault(index, [])
        if any(e.xid == xid and e.at is not None and abs(e.at - at) <= _SAME_EVENT for e in events):
            return
        if xid == LOST_XID and any(e.xid == LOST_XID for e in events):
            return  # already known to have fallen off the bus within the window
        events.append(XidEvent(xid=xid, at=at))
        events.sort(key=lambda e: e.at or at)
        del events[:-_MAX_EVENTS]

    def _complain(self, source: str, why: str) -> None:
        """Log a source's failure once per distinct message, not once per tick."""
        if self._complaints.get(source) != why:
            self._complaints[source] = why
            log.warning("GPU collector: %s: %s", source, why)


def _kept(last: Gpu | None) -> dict[str, object]:
    """From the last good reading, the facts a hung driver does not make less true."""
    if last is None:
        return {}
    keep = ("mem_total_mib", "processes", "power_limit_min_w", "power_limit_max_w")
    return {k: getattr(last, k) for k in keep}
