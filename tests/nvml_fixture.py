"""Builds the NVML stub (tests/nvml_stub/libnvml_stub.c) and writes the GPU states it serves.

nvidia-ml-py loads one NVML library per process, so one stub is built per
test session (or benchmark run) and every test rewrites its data file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

SOURCE = Path(__file__).parent / "nvml_stub" / "libnvml_stub.c"
MIB = 1 << 20

# NVML return codes the tests ask the stub to give.
NOT_SUPPORTED = 3
UNKNOWN = 999
GPU_IS_LOST = 15


@dataclass
class FakeGpu:
    name: str = "NVIDIA H100 80GB HBM3"
    uuid: str = "GPU-00000000-0000-0000-0000-000000000000"
    pci: str = "00000000:3B:00.0"
    util: int = 0
    mem_total_mib: int = 81559
    mem_used_mib: int = 0
    temp: int = 40
    power_w: float = 90.0
    power_limit_w: float = 700.0
    power_min_w: float = 200.0
    power_max_w: float = 700.0
    reasons: int = 0
    ecc: int = 0
    retired: bool = False
    remap: tuple[int, int, int, int] = (0, 0, 0, 0)
    procs: list[tuple[int, int]] = field(default_factory=list)  # (pid, MiB), compute
    gprocs: list[tuple[int, int]] = field(default_factory=list)  # graphics
    fail: dict[str, int] = field(default_factory=dict)  # query -> NVML return code
    hang_ms: int = 0  # its utilisation query first sleeps this long (a stuck driver)

    def lines(self, i: int) -> list[str]:
        mw = lambda w: int(w * 1000)  # noqa: E731
        out = [
            f"gpu {i} name {self.name}", f"gpu {i} uuid {self.uuid}", f"gpu {i} pci {self.pci}",
            f"gpu {i} util {self.util}", f"gpu {i} mem_total {self.mem_total_mib * MIB}",
            f"gpu {i} mem_used {self.mem_used_mib * MIB}", f"gpu {i} temp {self.temp}",
            f"gpu {i} power {mw(self.power_w)}", f"gpu {i} power_limit {mw(self.power_limit_w)}",
            f"gpu {i} power_min {mw(self.power_min_w)}", f"gpu {i} power_max {mw(self.power_max_w)}",
            f"gpu {i} reasons {self.reasons:#x}", f"gpu {i} ecc {self.ecc}",
            f"gpu {i} retired {int(self.retired)}", f"gpu {i} remap {' '.join(map(str, self.remap))}",
            f"gpu {i} hang {self.hang_ms}",
        ]  # fmt: skip
        out += [f"gpu {i} proc {pid} {mib * MIB}" for pid, mib in self.procs]
        out += [f"gpu {i} gproc {pid} {mib * MIB}" for pid, mib in self.gprocs]
        out += [f"fail {i} {what} {code}" for what, code in self.fail.items()]
        return out


def fleet(n: int, **kw: object) -> list[FakeGpu]:
    """n GPUs with distinct UUIDs and PCI bus ids."""
    return [
        FakeGpu(uuid=f"GPU-{i:08x}-0000-0000-0000-000000000000", pci=f"00000000:{0x18 + i:02X}:00.0", **kw)  # type: ignore[arg-type]
        for i in range(n)
    ]


class NvmlStub:
    """A built stub library and the file it reads its GPUs from."""

    def __init__(self, directory: Path):
        if shutil.which("gcc") is None:
            raise RuntimeError("gcc is needed to build the NVML stub")
        directory.mkdir(parents=True, exist_ok=True)
        self.library = directory / "libnvidia-ml.so.1"
        self.data = directory / "gpus.txt"
        subprocess.run(
            [
                "gcc",
                "-shared",
                "-fPIC",
                "-O2",
                "-Wall",
                "-pthread",
                "-o",
                str(self.library),
                str(SOURCE),
                "-ldl",
            ],
            check=True,
        )
        self._gpus: list[FakeGpu] = []
        self._events: list[tuple[int, int, int]] = []  # (seq, gpu, xid)
        self.set([])

    def set(self, gpus: list[FakeGpu]) -> None:
        """Serve these GPUs from now on (Xid events already sent are not sent again)."""
        self._gpus = list(gpus)
        self._write()

    def xid(self, index: int, xid: int) -> None:
        """Make the stub's event set report Xid `xid` on GPU `index`."""
        seq = self._events[-1][0] + 1 if self._events else 1
        self._events.append((seq, index, xid))
        self._write()

    def _write(self) -> None:
        lines = [f"count {len(self._gpus)}"]
        for i, g in enumerate(self._gpus):
            lines += g.lines(i)
        lines += [f"event {seq} {i} {xid}" for seq, i, xid in self._events]
        tmp = self.data.with_suffix(".tmp")
        tmp.write_text("\n".join(lines) + "\n")
        os.replace(tmp, self.data)  # the stub re-reads a file it sees replaced
