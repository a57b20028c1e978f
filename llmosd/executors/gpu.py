"""GPU actions. Drain and undrain change llmosd's own placement state only;
power limits go through the NVML adapter (`telemetry/nvml.py`, passed in as
`nvml`); a reset runs `nvidia-smi --gpu-reset` (NVML has no reset call) and
only after NVML has been asked again that no process is on the GPU."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from llmosd.contract import Action, Snapshot
from llmosd.errors import ExecutorError, LlmosdError
from llmosd.executors.jobs import Placement
from llmosd.executors.runner import Run


class GpuControl(Protocol):
    """What the executors need from the NVML adapter; errors are raised as CollectorError or ExecutorError."""

    def processes(self, index: int) -> list[int]: ...
    def power_limit(self, index: int) -> float: ...
    def set_power_limit(self, index: int, watts: float) -> None: ...
    def alive(self, index: int) -> bool: ...


class NvmlLike(Protocol):
    """The part of `telemetry.nvml.Nvml` that `NvmlControl` uses."""

    def handle(self, index: int) -> Any: ...
    def name(self, h: Any) -> str | None: ...
    def processes(self, h: Any) -> list[tuple[int, float]] | None: ...
    def power_limit_w(self, h: Any) -> float | None: ...
    def set_power_limit_w(self, h: Any, watts: float) -> None: ...


class NvmlControl:
    """`GpuControl` over the NVML adapter. A question NVML cannot answer is an ExecutorError, so an
    unknown process list never passes for an empty one."""

    def __init__(self, nvml: NvmlLike):
        self.nvml = nvml

    def _handle(self, index: int) -> Any:
        try:
            return self.nvml.handle(index)
        except LlmosdError as e:
            raise ExecutorError(f"gpu:{index}: {e}") from None

    def processes(self, index: int) -> list[int]:
        procs = self.nvml.processes(self._handle(index))
        if procs is None:
            raise ExecutorError(f"gpu:{index}: NVML cannot list its processes")
        return [pid for pid, _ in procs]

    def power_limit(self, index: int) -> float:
        w = self.nvml.power_limit_w(self._handle(index))
        if w is None:
            raise ExecutorError(f"gpu:{index}: NVML cannot read its power limit")
        return w

    def set_power_limit(self, index: int, watts: float) -> None:
        try:
            self.nvml.set_power_limit_w(self._handle(index), watts)
        except LlmosdError as e:
            raise ExecutorError(f"gpu:{index}: {e}") from None

    def alive(self, index: int) -> bool:
        try:
            return self.nvml.name(self.nvml.handle(index)) is not None
        except LlmosdError:
            return False


class GpuArea:
    kinds = frozenset({"gpu.drain", "gpu.undrain", "gpu.reset", "gpu.set_power_limit"})

    def __init__(
        self, placement: Placement, nvml: GpuControl | None, run: Run,
        nvidia_smi: Sequence[str] = ("nvidia-smi",),
    ):  # fmt: skip
        self.placement, self.nvml, self.run, self.nvidia_smi = placement, nvml, run, tuple(nvidia_smi)

    def _nvml(self) -> GpuControl:
        if self.nvml is None:
            raise ExecutorError("NVML is not available on this host")
        return self.nvml

    def do(self, a: Action, snap: Snapshot) -> str:
        i = a.index()
        if a.kind in ("gpu.drain", "gpu.undrain"):
            self.placement.set_drained(i, a.kind == "gpu.drain")
            drain = a.kind == "gpu.drain"
            return f"{a.target} " + ("drained: no new work goes there" if drain else "takes work again")
        nv = self._nvml()
        if a.kind == "gpu.set_power_limit":
            watts = float(getattr(a.params, "watts", 0))
            before = nv.power_limit(i)
            nv.set_power_limit(i, watts)
            return f"{a.target} power limit {before:.0f} W -> {watts:.0f} W"
        # The snapshot may be seconds old: a process could have started since. Ask again, now.
        busy = nv.processes(i)
        if busy:
            pids = ", ".join(map(str, busy))
            raise ExecutorError(f"{a.target} has processes on it now (pid {pids}): not reset")
        r = self.run([*self.nvidia_smi, "--gpu-reset", "-i", str(i)], timeout=120)
        if not r.ok:
            raise ExecutorError(r.why())
        return f"{a.target} reset"

    def check(self, a: Action, snap: Snapshot, since: datetime) -> tuple[bool | None, str]:
        i = a.index()
        if a.kind in ("gpu.drain", "gpu.undrain"):
            want = a.kind == "gpu.drain"
            ok = (i in self.placement.drained) == want
            return ok, f"{a.target} is {'drained' if i in self.placement.drained else 'in service'}"
        nv = self._nvml()
        if a.kind == "gpu.set_power_limit":
            now, want_w = nv.power_limit(i), float(getattr(a.params, "watts", 0))
            return abs(now - want_w) < 1.0, f"{a.target} power limit is {now:.0f} W"
        ok = nv.alive(i)
        return ok, f"{a.target} {'answers NVML' if ok else 'does not answer NVML'}"
