"""Simulated GPUs: a YAML timeline of GPU states and injected faults replaces NVML.

Everything built from it says so (`Snapshot.simulated`). The simulator also
stands in for the machine the GPU executors act on (`GpuControl`, and a `run`
that accepts only a GPU reset), so that the daemon's actions change the
simulated state and nothing on the real host is touched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from llmosd.contract import Gpu, GpuProcess, Job, XidEvent
from llmosd.errors import ConfigError, ExecutorError, one_line
from llmosd.executors.runner import Result
from llmosd.policy import parse_duration


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GpuSpec(_Strict):
    count: int = Field(default=1, ge=1, le=256)
    name: str = "Simulated GPU"
    mem_mib: float = Field(default=81559, gt=0)
    power_limit_w: float = Field(default=700, gt=0)
    power_limit_min_w: float = Field(default=200, gt=0)
    idle_temp_c: float = 35.0
    busy_temp_c: float = 65.0
    slowdown_c: float = 90.0  # hardware thermal slowdown above this temperature


class JobSpec(_Strict):
    id: str
    user: str = "sim"
    gpus: list[int] = Field(min_length=1)
    util: float = Field(default=95, ge=0, le=100)
    mem_mib: float = Field(default=60000, ge=0)
    started_ago: timedelta = timedelta(hours=3)  # jobs are judged idle only after policy.jobs.idle_for
    pid: int | None = None  # default: a number no real process is likely to have
    cmd: str = "python train.py"

    _dur = model_validator(mode="before")(lambda cls, v: _durations(v, "started_ago"))


def _durations(v: Any, *keys: str) -> Any:
    if isinstance(v, dict):
        v = dict(v)
        for k in keys:
            if k in v:
                v[k] = parse_duration(v[k])
    return v


class Xid(_Strict):
    at: float = Field(ge=0)
    type: Literal["xid"]
    gpu: int
    xid: int


class Thermal(_Strict):
    at: float = Field(ge=0)
    type: Literal["thermal"]
    gpu: int
    to_c: float = 95.0
    over_s: float = Field(default=10.0, gt=0)  # linear climb from the GPU's temperature at `at`


class Hang(_Strict):
    at: float = Field(ge=0)
    type: Literal["hang"]
    job: str  # its GPUs fall to 0 % while its memory stays held


class Ecc(_Strict):
    at: float = Field(ge=0)
    type: Literal["ecc"]
    gpu: int
    count: int = Field(default=1, ge=1)


class Lost(_Strict):
    at: float = Field(ge=0)
    type: Literal["lost"]
    gpu: int


Event = Annotated[Xid | Thermal | Hang | Ecc | Lost, Field(discriminator="type")]


class Timeline(_Strict):
    name: str = "simulation"
    gpus: GpuSpec = GpuSpec()
    jobs: list[JobSpec] = Field(default_factory=list)
    events: list[Event] = Field(default_factory=list)
    duration_s: float | None = None  # after this the state stays as it is (informative)

    @model_validator(mode="after")
    def _refs(self) -> Timeline:
        n, ids = self.gpus.count, {j.id for j in self.jobs}
        for where, i in [(f"job {j.id}", i) for j in self.jobs for i in j.gpus] + [
            (f"{e.type} event at {e.at}s", e.gpu) for e in self.events if not isinstance(e, Hang)
        ]:
            if not 0 <= i < n:
                raise ValueError(f"{where} names gpu {i}, but there are {n} GPUs (0..{n - 1})")
        for e in self.events:
            if isinstance(e, Hang) and e.job not in ids:
                raise ValueError(f"hang event at {e.at}s names job {e.job!r}, not in the timeline's jobs")
        return self


def load_timeline(path: str | Path) -> Timeline:
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text())
    except OSError as e:
        raise ConfigError(f"{p}: cannot read timeline: {e.strerror or e}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: a timeline is a mapping of keys, got {type(data).__name__}")
    try:
        return Timeline.model_validate(data)
    except ValidationError as e:
        raise ConfigError(one_line(e, str(p))) from None


class Simulator:
    """The timeline's GPUs and jobs at elapsed time t (seconds since `start`)."""

    def __init__(self, timeline: Timeline, start: datetime, source: str = ""):
        self.timeline, self.start, self.source = timeline, start, source
        spec = timeline.gpus
        self.limits = [spec.power_limit_w] * spec.count  # changed by set_power_limit
        self.t = 0.0  # the last time read; the executors' view of the GPUs

    def _pid(self, job: JobSpec, k: int) -> int:
        return job.pid if job.pid is not None else 4_000_000 + 100 * self.timeline.jobs.index(job) + k

    def _past(self, t: float) -> list[Any]:
        return [e for e in self.timeline.events if e.at <= t]

    def _temp(self, i: int, busy: bool, past: list[Any]) -> float:
        spec = self.timeline.gpus
        temp = spec.busy_temp_c if busy else spec.idle_temp_c
        for e in past:
            if isinstance(e, Thermal) and e.gpu == i:
                share = min(1.0, (self.t - e.at) / e.over_s)
                temp = temp + (e.to_c - temp) * share
        if self.limits[i] < spec.power_limit_w:  # a lower power cap cools it below slowdown
            temp = min(temp, spec.slowdown_c - 5)
        return round(temp, 1)

    def gpus(self, t: float) -> list[Gpu]:
        self.t = t
        spec, past = self.timeline.gpus, self._past(t)
        hung = {e.job for e in past if isinstance(e, Hang)}
        out = []
        for i in range(spec.count):
            jobs = [j for j in self.timeline.jobs if i in j.gpus]
            util = max((0.0 if j.id in hung else j.util for j in jobs), default=0.0)
            temp = self._temp(i, util > 0, past)
            procs = [
                GpuProcess(
                    pid=self._pid(j, j.gpus.index(i)), user=j.user, cmd=j.cmd, mem_mib=j.mem_mib, job=j.id
                )
                for j in jobs
            ]
            xids = [
                XidEvent(xid=79 if isinstance(e, Lost) else e.xid, at=self.start + timedelta(seconds=e.at))
                for e in past if isinstance(e, Xid | Lost) and e.gpu == i
            ]  # fmt: skip
            gpu = Gpu(
                index=i, name=spec.name, uuid=f"GPU-sim-{i:04d}", util_percent=util,
                mem_used_mib=sum(p.mem_mib for p in procs), mem_total_mib=spec.mem_mib, temp_c=temp,
                power_w=round(min(self.limits[i], 60 + util / 100 * self.limits[i] * 0.85), 1),
                power_limit_w=self.limits[i], power_limit_min_w=spec.power_limit_min_w,
                power_limit_max_w=spec.power_limit_w,
                ecc_uncorrected=sum(e.count for e in past if isinstance(e, Ecc) and e.gpu == i),
                throttle_reasons=["hw_thermal_slowdown"] if temp > spec.slowdown_c else [],
                xid_events=xids, processes=procs,
            )  # fmt: skip
            if any(isinstance(e, Lost) and e.gpu == i for e in past):
                lost = "GPU is lost (simulated)"
                gpu = Gpu(index=i, name=spec.name, uuid=gpu.uuid, xid_events=xids, error=lost)
            out.append(gpu)
        return out

    def jobs(self) -> list[Job]:
        return [
            Job(id=j.id, user=j.user, state="running", gpus=j.gpus, gpus_wanted=len(j.gpus),
                started_at=self.start - j.started_ago)
            for j in self.timeline.jobs
        ]  # fmt: skip

    def pids(self) -> dict[int, str]:
        return {self._pid(j, k): j.id for j in self.timeline.jobs for k in range(len(j.gpus))}

    # ------------------------------------------------------------ GpuControl for the executors

    def _lost(self, index: int) -> bool:
        return any(isinstance(e, Lost) and e.gpu == index for e in self._past(self.t))

    def processes(self, index: int) -> list[int]:
        return [p.pid for p in self.gpus(self.t)[index].processes]

    def power_limit(self, index: int) -> float:
        return self.limits[index]

    def set_power_limit(self, index: int, watts: float) -> None:
        spec = self.timeline.gpus
        if not spec.power_limit_min_w <= watts <= spec.power_limit_w:
            span = f"{spec.power_limit_min_w:.0f}..{spec.power_limit_w:.0f} W"
            raise ExecutorError(f"gpu:{index}: {watts:.0f} W is outside {span}")
        self.limits[index] = watts

    def alive(self, index: int) -> bool:
        return not self._lost(index)

    def run(
        self, argv: Sequence[str], timeout: float = 60.0, *, env: Mapping[str, str] | None = None
    ) -> Result:
        """The executors' `run` under simulation: a GPU reset succeeds, nothing else runs on this host."""
        args = tuple(str(a) for a in argv)
        if len(args) == 4 and args[1:3] == ("--gpu-reset", "-i"):
            return Result(args, 0, f"GPU {args[3]} reset (simulated)", "")
        raise ExecutorError(f"simulation: not run on this host: {' '.join(args)}")

    @staticmethod
    def send(pid: int, sig: int, *, user: str | None = None, started_before: datetime | None = None) -> None:
        raise ExecutorError(f"simulation: no signal sent to pid {pid}")

    @staticmethod
    def process_alive(pid: int, started_before: datetime | None = None) -> bool:
        return False


def fault_times(timeline: Timeline) -> list[tuple[float, str, str]]:
    """(seconds, type, target) at which each injected fault becomes visible in a reading."""
    spec, out = timeline.gpus, list[tuple[float, str, str]]()
    for e in timeline.events:
        if isinstance(e, Thermal):
            base = spec.busy_temp_c if any(e.gpu in j.gpus for j in timeline.jobs) else spec.idle_temp_c
            if e.to_c <= spec.slowdown_c:
                continue  # warm, never throttled
            share = max(0.0, (spec.slowdown_c - base) / (e.to_c - base))
            out.append((e.at + share * e.over_s, e.type, f"gpu:{e.gpu}"))
        else:
            out.append((e.at, e.type, e.job if isinstance(e, Hang) else f"gpu:{e.gpu}"))
    return sorted(out)
