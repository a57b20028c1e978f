"""NVML through nvidia-ml-py: the only module that imports pynvml.

Every getter returns a plain value, or None where this GPU or driver cannot
answer that question (NOT_SUPPORTED, or a function the driver lacks); a lost
GPU raises GpuLostError, any other NVML failure a CollectorError naming the
query. Nothing here keeps GPU state: that is the collector's business.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pynvml

from llmosd.errors import CollectorError, GpuLostError

Handle = Any  # an NVML device handle (a ctypes pointer); opaque outside this module
MIB = float(1 << 20)
_T = TypeVar("_T")

# A driver too old for a query answers FUNCTION_NOT_FOUND; nvidia-ml-py turns
# that into a mismatch error for its unversioned process queries.
_UNANSWERABLE = (
    pynvml.NVMLError_NotSupported,
    pynvml.NVMLError_FunctionNotFound,
    pynvml.NVMLLibraryMismatchError,
)


def _ask(what: str, fn: Callable[..., _T], *args: Any) -> _T | None:
    try:
        return fn(*args)
    except _UNANSWERABLE:
        return None
    except pynvml.NVMLError_GpuIsLost:
        raise GpuLostError(f"{what}: GPU is lost") from None
    except pynvml.NVMLError as e:
        raise CollectorError(f"NVML {what}: {e}") from None


def normal_pci(bus_id: str) -> str:
    """`00000000:3B:00.0` (NVML) and `0000:3b:00` (kernel log) both become `0000:3b:00`."""
    parts = bus_id.strip().lower().split(".")[0].split(":")
    if len(parts) != 3:
        return bus_id.strip().lower()
    domain, bus, dev = parts
    try:
        return f"{int(domain, 16):04x}:{int(bus, 16):02x}:{int(dev, 16):02x}"
    except ValueError:
        return bus_id.strip().lower()


@dataclass(frozen=True)
class XidHit:
    """One Xid reported by NVML's event set."""

    device: int  # handle_key() of the GPU
    xid: int


class Nvml:
    """An initialised NVML; `library` points at a specific libnvidia-ml.so (a test stub, a driver path)."""

    def __init__(self, library: str | Path | None = None):
        if library is not None:
            _load(Path(library))
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as e:
            raise CollectorError(f"NVML cannot start: {e}") from None
        self._open = True

    def close(self) -> None:
        if self._open:
            self._open = False
            _ask("shutdown", pynvml.nvmlShutdown)

    def count(self) -> int:
        return _ask("device count", pynvml.nvmlDeviceGetCount) or 0

    def handle(self, index: int) -> Handle:
        h = _ask(f"handle of GPU {index}", pynvml.nvmlDeviceGetHandleByIndex, index)
        if h is None:
            raise CollectorError(f"NVML handle of GPU {index}: not available")
        return h

    @staticmethod
    def handle_key(h: Handle) -> int:
        """A number that identifies the GPU behind a handle (events name their GPU by handle)."""
        return ctypes.cast(h, ctypes.c_void_p).value or 0

    # ------------------------------------------------------------ what does not change

    def name(self, h: Handle) -> str | None:
        return _ask("name", pynvml.nvmlDeviceGetName, h)

    def uuid(self, h: Handle) -> str | None:
        return _ask("uuid", pynvml.nvmlDeviceGetUUID, h)

    def pci_bus_id(self, h: Handle) -> str | None:
        info = _ask("pci info", pynvml.nvmlDeviceGetPciInfo, h)
        if info is None:
            return None
        bus = info.busId
        return normal_pci(bus.decode() if isinstance(bus, bytes) else str(bus))

    def power_limit_range_w(self, h: Handle) -> tuple[float, float] | None:
        r = _ask("power limit constraints", pynvml.nvmlDeviceGetPowerManagementLimitConstraints, h)
        return None if r is None else (r[0] / 1000.0, r[1] / 1000.0)

    # ------------------------------------------------------------ what changes every tick

    def utilization(self, h: Handle) -> float | None:
        u = _ask("utilization", pynvml.nvmlDeviceGetUtilizationRates, h)
        return None if u is None else float(u.gpu)

    def memory_mib(self, h: Handle) -> tuple[float, float] | None:
        """(used, total) in MiB."""
        m = _ask("memory", pynvml.nvmlDeviceGetMemoryInfo, h)
        return None if m is None else (m.used / MIB, m.total / MIB)

    def temperature(self, h: Handle) -> float | None:
        t = _ask("temperature", pynvml.nvmlDeviceGetTemperature, h, pynvml.NVML_TEMPERATURE_GPU)
        return None if t is None else float(t)

    def power_w(self, h: Handle) -> float | None:
        mw = _ask("power usage", pynvml.nvmlDeviceGetPowerUsage, h)
        return None if mw is None else mw / 1000.0

    def power_limit_w(self, h: Handle) -> float | None:
        mw = _ask("power limit", pynvml.nvmlDeviceGetEnforcedPowerLimit, h)
        return None if mw is None else mw / 1000.0

    def set_power_limit_w(self, h: Handle, watts: float) -> None:
        """Cap the board's power (needs root). Unlike a query, an unsupported cap is an error: the
        caller asked for a change that did not happen."""
        try:
            pynvml.nvmlDeviceSetPowerManagementLimit(h, round(watts * 1000))
        except pynvml.NVMLError_GpuIsLost:
            raise GpuLostError("set power limit: GPU is lost") from None
        except pynvml.NVMLError as e:
            raise CollectorError(f"NVML set power limit to {watts:.0f} W: {e}") from None

    def clock_event_reasons(self, h: Handle) -> int | None:
        r = _ask("clock event reasons", pynvml.nvmlDeviceGetCurrentClocksEventReasons, h)
        if r is None:  # drivers before 535 know the same bitmask by its older name
            r = _ask("clock throttle reasons", pynvml.nvmlDeviceGetCurrentClocksThrottleReasons, h)
        return r

    def ecc_uncorrected(self, h: Handle) -> int | None:
        # Volatile: since the last driver load, so a repaired and reset GPU reads clean again.
        return _ask(
            "uncorrected ECC errors", pynvml.nvmlDeviceGetTotalEccErrors, h,
            pynvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED, pynvml.NVML_VOLATILE_ECC,
        )  # fmt: skip

    def retired_pages_pending(self, h: Handle) -> bool | None:
        p = _ask("retired pages pending", pynvml.nvmlDeviceGetRetiredPagesPendingStatus, h)
        return None if p is None else bool(p)

    def row_remap(self, h: Handle) -> tuple[bool, bool] | None:
        """(a remap waits for a reset, a remap failed)."""
        r = _ask("remapped rows", pynvml.nvmlDeviceGetRemappedRows, h)
        return None if r is None else (bool(r[2]), bool(r[3]))

    def processes(self, h: Handle) -> list[tuple[int, float]] | None:
        """(pid, MiB) of compute and graphics processes; a pid in both is listed once."""
        compute = _ask("compute processes", pynvml.nvmlDeviceGetComputeRunningProcesses, h)
        graphics = _ask("graphics processes", pynvml.nvmlDeviceGetGraphicsRunningProcesses, h)
        if compute is None and graphics is None:
            return None
        seen: dict[int, float] = {}
        for p in [*(compute or ()), *(graphics or ())]:
            mib = (p.usedGpuMemory or 0) / MIB
            seen[int(p.pid)] = max(seen.get(int(p.pid), 0.0), mib)
        return list(seen.items())

    # ------------------------------------------------------------ events

    def xid_events(self, handles: Sequence[Handle]) -> XidEventSet:
        return XidEventSet(handles)


class XidEventSet:
    """NVML's event set for Xid critical errors on the given GPUs (those that support it)."""

    def __init__(self, handles: Sequence[Handle]):
        s = _ask("event set", pynvml.nvmlEventSetCreate)
        if s is None:
            raise CollectorError("NVML event sets are not supported here")
        self._set: Any = s
        self.watched, self.unwatched = 0, []
        for h in handles:
            try:
                pynvml.nvmlDeviceRegisterEvents(h, pynvml.nvmlEventTypeXidCriticalError, s)
            except pynvml.NVMLError as e:  # unsupported or lost: the kernel log still reports its Xids
                self.unwatched.append(f"{Nvml.handle_key(h):#x}: {e}")
                continue
            self.watched += 1

    def wait(self, timeout_ms: int) -> XidHit | None:
        """The next Xid, or None when `timeout_ms` passed without one."""
        try:
            data = pynvml.nvmlEventSetWait(self._set, timeout_ms)
        except pynvml.NVMLError_Timeout:
            return None
        except pynvml.NVMLError_GpuIsLost:
            raise GpuLostError("event wait: GPU is lost") from None
        except pynvml.NVMLError as e:
            raise CollectorError(f"NVML event wait: {e}") from None
        if not data.eventType & pynvml.nvmlEventTypeXidCriticalError:
            return None
        return XidHit(Nvml.handle_key(data.device), int(data.eventData))

    def close(self) -> None:
        if self._set is not None:
            s, self._set = self._set, None
            _ask("event set free", pynvml.nvmlEventSetFree, s)


def _load(path: Path) -> None:
    """Make nvidia-ml-py use the library at `path` (it loads one library per process)."""
    lib = pynvml.nvmlLib
    if lib is None:
        try:
            pynvml.nvmlLib = ctypes.CDLL(str(path))
        except OSError as e:
            raise CollectorError(f"NVML library {path}: {e}") from None
    elif Path(getattr(lib, "_name", "")) != path:
        raise CollectorError(f"NVML is already loaded from {lib._name}; cannot switch to {path}")
