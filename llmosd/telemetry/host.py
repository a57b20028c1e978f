"""The host as the snapshot describes it: CPU, memory, load, disks, network, busiest processes.

Disks at or above the policy's full threshold also list their largest
folders. That needs a walk of the file tree, so it is done rarely (once per
`largest_every` seconds per mount) and cheaply: a bounded depth, a bounded
number of entries and seconds, no symlinks followed, no other file system
entered. Sizes from a walk cut short are lower bounds.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psutil

from llmosd.contract import Disk, Folder, Host, HostProcess, NetStats

log = logging.getLogger(__name__)

GIB = float(1 << 30)
MIB = float(1 << 20)
# Read-only images always read 100% full; nothing there can be cleaned.
_SKIP_FS = frozenset({"squashfs", "iso9660", "udf", "erofs"})
_SKIP_UNDER = ("/proc", "/sys", "/dev", "/run", "/snap", "/boot/efi")
_CMD_CHARS = 1000


@dataclass(frozen=True)
class ScanLimits:
    depth: int = 3  # folder depth below the mount that is reported
    entries: int = 200_000
    seconds: float = 2.0
    top: int = 5
    min_gib: float = 0.1
    # A folder is looked into when one child holds at least this share of it,
    # so /var/cache/apt is named rather than /var, but not one shard of a data set.
    split: float = 0.25


def largest_folders(
    mount: str, limits: ScanLimits = ScanLimits(), clock: Callable[[], float] = time.monotonic
) -> list[Folder]:
    """The biggest folders on the file system mounted at `mount`, by blocks used."""
    try:
        root_dev = os.lstat(mount).st_dev
    except OSError as e:
        log.warning("largest folders of %s: %s", mount, e)
        return []
    sizes: dict[str, int] = {}
    children: dict[str, list[str]] = {mount: []}
    stack: list[tuple[str, int, tuple[str, ...]]] = [(mount, 0, ())]
    seen, deadline = 0, clock() + limits.seconds
    while stack and seen < limits.entries and clock() < deadline:
        path, depth, ancestors = stack.pop()
        try:
            with os.scandir(path) as it:
                for entry in it:
                    seen += 1
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue  # removed while we looked
                    if entry.is_dir(follow_symlinks=False):
                        if st.st_dev != root_dev:
                            continue
                        chain = ancestors
                        if depth < limits.depth:
                            chain = (*ancestors, entry.path)
                            sizes[entry.path] = 0
                            children.setdefault(path, []).append(entry.path)
                        stack.append((entry.path, depth + 1, chain))
                    elif not entry.is_symlink():
                        for a in ancestors:
                            sizes[a] += st.st_blocks * 512
        except OSError:
            continue  # an unreadable or vanished folder counts as empty
    return _pick(mount, sizes, children, limits)


def _pick(
    mount: str, sizes: dict[str, int], children: dict[str, list[str]], limits: ScanLimits
) -> list[Folder]:
    frontier, chosen = list(children.get(mount, [])), list[str]()
    while frontier and len(chosen) < limits.top:
        d = max(frontier, key=lambda p: sizes[p])
        frontier.remove(d)
        kids = children.get(d, [])
        if kids and max(sizes[k] for k in kids) >= limits.split * sizes[d] > 0:
            frontier.extend(kids)
        else:
            chosen.append(d)
    out = [Folder(path=p, gib=round(sizes[p] / GIB, 3)) for p in chosen]
    return [f for f in out if f.gib >= limits.min_gib]


class HostCollector:
    """Keep one: CPU use, network rates and the largest-folder scans are measured between passes."""

    def __init__(
        self, proc: Any = psutil, *, clock: Callable[[], float] = time.monotonic,
        disk_usage: Callable[[str], Any] = shutil.disk_usage, full_percent: float = 95.0,
        largest_every: float = 600.0, largest: Callable[[str], list[Folder]] | None = None,
        hostname: str | None = None, top_processes: int = 10,
    ):  # fmt: skip
        self.proc, self.clock, self.disk_usage = proc, clock, disk_usage
        self.full_percent, self.largest_every, self.top = full_percent, largest_every, top_processes
        self.largest = largest or (lambda mount: largest_folders(mount, clock=clock))
        self.hostname = hostname or socket.gethostname()
        self._scans: dict[str, tuple[float, list[Folder]]] = {}
        self._net: tuple[float, tuple[int, int, int]] | None = None
        # A first CPU reading only starts the measurement, for the host and for each process.
        proc.cpu_percent(None)
        for _ in proc.process_iter(["cpu_percent"]):
            pass

    def collect(self) -> Host:
        vm = self.proc.virtual_memory()
        return Host(
            hostname=self.hostname,
            cpu_percent=self.proc.cpu_percent(None),
            mem_percent=vm.percent,
            load1=round(self.proc.getloadavg()[0], 2),
            disks=self._disks(),
            net=self._network(),
            processes=self._processes(),
        )

    def _disks(self) -> list[Disk]:
        out, devices = [], set()
        parts = sorted(self.proc.disk_partitions(all=False), key=lambda p: len(p.mountpoint))
        for p in parts:
            under = any(p.mountpoint == s or p.mountpoint.startswith(s + "/") for s in _SKIP_UNDER)
            if p.fstype in _SKIP_FS or under or p.device in devices:
                continue  # a device mounted twice (bind mounts) is one disk
            devices.add(p.device)
            try:
                u = self.disk_usage(p.mountpoint)
            except OSError as e:
                log.warning("disk %s: %s", p.mountpoint, e)
                continue
            # As df counts: blocks reserved for root are not free for anyone else.
            used = 100.0 * u.used / (u.used + u.free) if u.used + u.free else 0.0
            disk = Disk(mount=p.mountpoint, used_percent=round(used, 1), free_gib=round(u.free / GIB, 1))
            if used >= self.full_percent:
                disk.largest = self._largest(p.mountpoint)
            out.append(disk)
        return out

    def _largest(self, mount: str) -> list[Folder]:
        now = self.clock()
        last = self._scans.get(mount)
        if last is None or now - last[0] >= self.largest_every:
            last = (now, self.largest(mount))
            self._scans[mount] = last
        return last[1]

    def _network(self) -> NetStats | None:
        rx = tx = bad = 0
        for nic, c in self.proc.net_io_counters(pernic=True).items():
            if nic != "lo":
                rx, tx = rx + c.bytes_recv, tx + c.bytes_sent
                bad += c.errin + c.errout + c.dropin + c.dropout
        now, before = self.clock(), self._net
        self._net = (now, (rx, tx, bad))
        if before is None or now <= before[0]:
            return None  # a rate needs two readings
        dt = now - before[0]
        return NetStats(
            rx_mib_s=round(max(rx - before[1][0], 0) / MIB / dt, 3),
            tx_mib_s=round(max(tx - before[1][1], 0) / MIB / dt, 3),
            errors=max(bad - before[1][2], 0),
        )

    def _processes(self) -> list[HostProcess]:
        # Every process costs a read or two; owner and command line only for the ones reported.
        seen = []
        for p in self.proc.process_iter(["cpu_percent", "memory_info"]):
            mem = p.info["memory_info"]
            seen.append((p, p.info["cpu_percent"] or 0.0, mem.rss / MIB if mem else 0.0))
        by_cpu = sorted(seen, key=lambda s: -s[1])[: self.top]
        by_mem = sorted(seen, key=lambda s: -s[2])[: self.top]
        out = {}
        for p, cpu, mem in by_cpu + by_mem:
            try:
                with p.oneshot():
                    user, cmd = p.username(), " ".join(p.cmdline()) or p.name()
            except psutil.NoSuchProcess:
                continue
            except psutil.AccessDenied:
                user, cmd = "", ""
            out[p.pid] = HostProcess(
                pid=p.pid, user=user, cmd=cmd[:_CMD_CHARS], cpu_percent=cpu, mem_mib=round(mem, 1)
            )
        return sorted(out.values(), key=lambda p: (-p.cpu_percent, -p.mem_mib))
