"""The host collector on this machine's real psutil, and the largest-folder walk on real files."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections import namedtuple
from pathlib import Path
from typing import Any

import psutil
import pytest

from llmosd.contract import Folder, Host
from llmosd.telemetry.host import GIB, HostCollector, ScanLimits, largest_folders

Usage = namedtuple("Usage", "total used free")
Part = namedtuple("Part", "device mountpoint fstype opts")
Nic = namedtuple("Nic", "bytes_sent bytes_recv packets_sent packets_recv errin errout dropin dropout")


class Ticks:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Described:
    """psutil, with the disks and network of a described machine instead of this one's."""

    def __init__(self, parts: list[Part] | None = None, nics: dict[str, Nic] | None = None):
        self.parts, self.nics = parts, nics

    def __getattr__(self, name: str) -> Any:
        return getattr(psutil, name)

    def disk_partitions(self, all: bool = False) -> list[Any]:
        return self.parts if self.parts is not None else psutil.disk_partitions(all)

    def net_io_counters(self, pernic: bool = False) -> Any:
        if self.nics is not None:
            return self.nics
        return psutil.net_io_counters(pernic=True) if pernic else psutil.net_io_counters()


def test_real_readings_are_plausible() -> None:
    burner = subprocess.Popen(["/bin/sh", "-c", "while :; do :; done"], user="nobody")
    try:
        c = HostCollector()
        time.sleep(0.6)
        host = c.collect()
    finally:
        burner.kill()
        burner.wait()
    assert host.hostname == socket.gethostname()
    assert host.cpu_percent is not None and 0 < host.cpu_percent <= 100  # the burner keeps a core busy
    assert host.mem_percent is not None and 0 < host.mem_percent < 100
    assert host.load1 is not None and host.load1 >= 0
    root = next(d for d in host.disks if d.mount == "/")
    real = shutil.disk_usage("/")
    assert abs(root.free_gib - real.free / GIB) < 1.0  # type: ignore[operator]
    assert 0 < root.used_percent < 100
    busy = next(p for p in host.processes if p.pid == burner.pid)
    assert (busy.user, busy.cmd) == ("nobody", "/bin/sh -c while :; do :; done")
    assert busy.cpu_percent > 20 and busy.mem_mib > 1
    assert len(host.processes) <= 20 and host.net is None  # a rate needs a second reading
    assert c.collect().net is not None
    assert Host.model_validate_json(host.model_dump_json()) == host


def test_network_rates_between_two_readings() -> None:
    clock = Ticks()
    nics = {"lo": Nic(9, 9, 0, 0, 0, 0, 0, 0), "eth0": Nic(0, 0, 0, 0, 0, 0, 0, 0)}
    proc = Described(nics=nics)
    c = HostCollector(proc, clock=clock)
    assert c.collect().net is None
    clock.t += 2.0
    proc.nics = {
        "lo": Nic(10**12, 10**12, 0, 0, 0, 0, 0, 0),
        "eth0": Nic(4 << 20, 10 << 20, 0, 0, 1, 0, 2, 0),
    }
    net = c.collect().net
    assert net is not None and (net.rx_mib_s, net.tx_mib_s, net.errors) == (
        5.0,
        2.0,
        3,
    )  # loopback not counted


def test_disks_as_df_counts_them_and_which_mounts_count() -> None:
    parts = [
        Part("/dev/nvme0n1p2", "/", "ext4", "rw"),
        Part("/dev/nvme0n1p2", "/srv/bind", "ext4", "rw"),  # the same device again
        Part("/dev/loop3", "/snap/core/1", "squashfs", "ro"),  # always 100%: an image
        Part("/dev/nvme0n1p1", "/boot/efi", "vfat", "rw"),
        Part("/dev/md0", "/data", "xfs", "rw"),
    ]
    usage = {"/": Usage(100 * GIB, 40 * GIB, 50 * GIB), "/data": Usage(10 * GIB, 9.9 * GIB, 0.1 * GIB)}
    c = HostCollector(
        Described(parts), disk_usage=lambda m: usage[m], largest=lambda m: [Folder(path=m + "/x", gib=1)]
    )
    disks = {d.mount: d for d in c.collect().disks}
    assert set(disks) == {"/", "/data"}
    # 40 used of 90 anyone may use: root's reserve is not free space for jobs.
    assert (disks["/"].used_percent, disks["/"].free_gib, disks["/"].largest) == (44.4, 50.0, [])
    assert (disks["/data"].used_percent, disks["/data"].largest) == (99.0, [Folder(path="/data/x", gib=1)])


def test_largest_folders_are_scanned_rarely() -> None:
    clock, scans = Ticks(), []
    full = {"/": Usage(100, 97, 3)}

    def scan(mount: str) -> list[Folder]:
        scans.append(mount)
        return [Folder(path="/var/log/journal", gib=31.5)]

    c = HostCollector(Described([Part("/dev/vda", "/", "ext4", "rw")]), clock=clock, disk_usage=full.get,
                      largest=scan, largest_every=600)  # fmt: skip
    for _ in range(3):
        assert c.collect().disks[0].largest == [Folder(path="/var/log/journal", gib=31.5)]
        clock.t += 100
    assert scans == ["/"]
    clock.t += 400
    c.collect()
    assert scans == ["/", "/"]


def write(path: Path, mib: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        for _ in range(mib):
            f.write(b"\1" * (1 << 20))


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "mnt"
    write(root / "home/alice/checkpoints/step-1000.pt", 30)
    write(root / "home/bob/notes.txt", 2)
    write(root / "var/cache/apt/archives/big.deb", 10)
    write(root / "var/log/syslog", 1)
    for i in range(20):
        write(root / f"data/ds/shard-{i:03d}.tar", 1)
    outside = tmp_path / "outside"
    write(outside / "huge.bin", 40)
    (root / "home/alice/link").symlink_to(outside)  # never followed
    return root


def test_largest_folders_name_what_fills_the_disk(tree: Path) -> None:
    got = largest_folders(str(tree), ScanLimits(min_gib=0, top=3))
    assert [f.path for f in got] == [
        f"{tree}/home/alice/checkpoints",
        f"{tree}/data/ds",
        f"{tree}/var/cache/apt",
    ]
    assert [round(f.gib * 1024) for f in got] == [30, 20, 10]


def test_largest_folders_walk_is_bounded(tree: Path) -> None:
    some = largest_folders(str(tree), ScanLimits(min_gib=0, entries=4))
    assert sum(f.gib for f in some) < 61 / 1024  # cut short: lower bounds, not everything
    assert largest_folders(str(tree / "missing")) == []


def test_largest_folders_of_the_real_root_stay_on_its_file_system() -> None:
    got = largest_folders("/", ScanLimits(min_gib=0, entries=20_000, top=10))
    assert got and all(f.path.startswith("/") for f in got)
    assert not [f for f in got if f.path.split("/")[1] in ("proc", "sys")]
    assert os.lstat("/proc").st_dev != os.lstat("/").st_dev
