"""The shared words of CONTRACT.md as pydantic models.

`Snapshot` is the incident scenario (one frozen moment of one host), `Action`
is the catalog as a discriminated union on `kind` with per-kind target and
params validation, `Decision` is what `llmosd replay` prints, `Command` is a
parsed admin request. Input models ignore unknown fields (the contract lets
producers add fields); actions and their params are strict, because an action
is something we might carry out.
"""

from __future__ import annotations

import json
import posixpath
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from llmosd.errors import ContractError, one_line


def _utc(v: datetime) -> datetime:
    # Naive times in input are read as UTC so every comparison is between instants.
    return v.replace(tzinfo=UTC) if v.tzinfo is None else v


Instant = Annotated[datetime, AfterValidator(_utc)]


def iso(t: datetime) -> str:
    """ISO 8601 with a trailing Z for UTC, as the scenarios write it."""
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


class _In(BaseModel):
    """Telemetry read from elsewhere: unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


# ---------------------------------------------------------------- snapshot


class Folder(_In):
    path: str
    gib: float = 0.0


class Disk(_In):
    mount: str
    used_percent: float = 0.0
    free_gib: float | None = None
    largest: list[Folder] = Field(default_factory=list)


class Host(_In):
    hostname: str
    cpu_percent: float | None = None
    mem_percent: float | None = None
    load1: float | None = None
    disks: list[Disk] = Field(default_factory=list)
    in_maintenance_window: bool = False
    reboot_required: bool = False


class XidEvent(_In):
    xid: int
    at: Instant | None = None


class GpuProcess(_In):
    pid: int
    user: str = ""
    cmd: str = ""
    mem_mib: float = 0.0
    job: str | None = None


class Gpu(_In):
    index: int
    name: str = ""
    uuid: str | None = None
    util_percent: float | None = None
    mem_used_mib: float | None = None
    mem_total_mib: float | None = None
    temp_c: float | None = None
    power_w: float | None = None
    power_limit_w: float | None = None
    power_limit_min_w: float | None = None
    power_limit_max_w: float | None = None
    ecc_uncorrected: int = 0
    retired_pages_pending: bool = False
    remap_pending: bool = False
    throttle_reasons: list[str] = Field(default_factory=list)
    xid_events: list[XidEvent] = Field(default_factory=list)
    drained: bool = False
    processes: list[GpuProcess] = Field(default_factory=list)
    # Set by a collector when this GPU could not be read (lost, NVML error):
    # the rest of the snapshot is still good.
    error: str | None = None


class Service(_In):
    unit: str
    state: str = "unknown"
    exit_status: int | None = None
    restarts_10m: int = 0
    restarts_1h: int = 0
    updated_at: Instant | None = None
    journal_tail: list[str] = Field(default_factory=list)
    error: str | None = None


JobState = Literal["queued", "running", "finished", "failed"]


class Job(_In):
    id: str
    user: str = ""
    state: JobState
    gpus: list[int] = Field(default_factory=list)
    gpus_wanted: int = 1
    mem_mib_wanted: float = 0.0
    priority: str = "normal"
    submitted_at: Instant | None = None
    started_at: Instant | None = None
    finished_at: Instant | None = None
    gpu_util_avg_1h: float | None = None
    exit_code: int | None = None
    retries: int = 0
    log_tail: list[str] = Field(default_factory=list)


class Update(_In):
    kind: str = "apt"
    package: str
    from_: str | None = Field(default=None, alias="from")
    to: str | None = None
    security: bool = False
    needs_reboot: bool = False


class HistoryAction(_In):
    # History is a record of what happened, so it is read loosely: an old
    # record of a kind this version does not know must not make a scenario unreadable.
    kind: str
    target: str = ""
    params: dict[str, Any] = Field(default_factory=dict)


class HistoryEntry(_In):
    at: Instant
    action: HistoryAction
    outcome: str = "ok"
    actor: str | None = None


class Snapshot(_In):
    id: str
    now: Instant
    policy: str = "default"
    host: Host
    gpus: list[Gpu] = Field(default_factory=list)
    services: list[Service] = Field(default_factory=list)
    jobs: list[Job] = Field(default_factory=list)
    updates: list[Update] = Field(default_factory=list)
    history: list[HistoryEntry] = Field(default_factory=list)
    # True when the GPU part comes from a simulated timeline, never real NVML.
    simulated: bool = False

    @field_validator("gpus", "services", "jobs", "updates", "history", mode="before")
    @classmethod
    def _null_is_empty(cls, v: Any) -> Any:
        return [] if v is None else v

    def gpu(self, index: int) -> Gpu | None:
        return next((g for g in self.gpus if g.index == index), None)

    def job(self, job_id: str) -> Job | None:
        return next((j for j in self.jobs if j.id == job_id), None)

    def service(self, unit: str) -> Service | None:
        return next((s for s in self.services if s.unit == unit), None)


def load_snapshot(path: str | Path) -> Snapshot:
    """Read one scenario file; any problem is a ContractError naming the file and field."""
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except OSError as e:
        raise ContractError(f"{p}: cannot read: {e.strerror or e}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ContractError(f"{p}: not valid JSON: {e}") from None
    return parse_snapshot(data, where=str(p))


def parse_snapshot(data: Any, where: str = "scenario") -> Snapshot:
    if not isinstance(data, dict):
        raise ContractError(f"{where}: a scenario is a JSON object, got {type(data).__name__}")
    try:
        return Snapshot.model_validate(data)
    except ValidationError as e:
        raise ContractError(one_line(e, where)) from None


# ---------------------------------------------------------------- actions

_UNIT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9:_.@\\-]{0,240}\.(service|socket|timer|target|mount|path)$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,31}$")  # POSIX-portable user names
_JOB = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
_PKG = re.compile(r"^(all|[a-z0-9][a-z0-9+.:_-]{0,127})$")
_HOST = re.compile(r"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
_SIGNALS = {"SIGTERM", "SIGINT", "SIGKILL", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"}


def _matching(rx: re.Pattern[str], what: str) -> AfterValidator:
    def check(v: str) -> str:
        if not rx.match(v):
            raise ValueError(f"not a valid {what}: {v!r}")
        return v

    return AfterValidator(check)


def _indexed(prefix: str, minimum: int) -> AfterValidator:
    rx = re.compile(rf"^{prefix}:(0|[1-9][0-9]{{0,8}})$")

    def check(v: str) -> str:
        m = rx.match(v)
        if not m or int(m.group(1)) < minimum:
            raise ValueError(f"target must look like {prefix}:N (N >= {minimum}), got {v!r}")
        return v

    return AfterValidator(check)


def _abs_path(v: str) -> str:
    if "\x00" in v or not v.startswith("/"):
        raise ValueError(f"not an absolute path: {v!r}")
    # Lexical normalisation here; the guard also resolves symlinks on the real disk.
    return posixpath.normpath(v).replace("//", "/")


UnitName = Annotated[str, _matching(_UNIT, "unit name")]
Recipient = Annotated[str, _matching(_NAME, "user name")]
JobId = Annotated[str, _matching(_JOB, "job id")]
Package = Annotated[str, _matching(_PKG, "package name")]
GpuTarget = Annotated[str, _indexed("gpu", 0)]
PidTarget = Annotated[str, _indexed("pid", 2)]
AbsPath = Annotated[str, AfterValidator(_abs_path)]


def _hostname_or_self(v: str) -> str:
    # "" means "this host": an admin's "reboot the machine" leaves it to the daemon.
    if v and not _HOST.match(v):
        raise ValueError(f"not a valid hostname: {v!r}")
    return v


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NoParams(_Params):
    pass


class NotifyParams(_Params):
    message: str = Field(default="", max_length=2000)


class RollbackParams(_Params):
    to: str | None = Field(default=None, max_length=200)


class StartParams(_Params):
    gpus: list[Annotated[int, Field(ge=0)]] = Field(min_length=1, max_length=64)


class SignalParams(_Params):
    signal: str | None = None

    @field_validator("signal")
    @classmethod
    def _known_signal(cls, v: str | None) -> str | None:
        if v is None:
            return v
        name = v.upper() if v.upper().startswith("SIG") else "SIG" + v.upper()
        if name not in _SIGNALS:
            raise ValueError(f"signal {v!r} is not one of {sorted(_SIGNALS)}")
        return name


class PowerParams(_Params):
    watts: float = Field(gt=0, le=5000)


class DeferParams(_Params):
    until: Instant | None = None


class _Action(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def key(self) -> tuple[str, str]:
        """Two actions are the same when kind and target are equal (CONTRACT §1)."""
        return (self.kind, self.target)  # type: ignore[attr-defined]

    def wire(self) -> dict[str, Any]:
        return {
            "kind": self.kind,  # type: ignore[attr-defined]
            "target": self.target,  # type: ignore[attr-defined]
            "params": self.params.model_dump(mode="json", exclude_none=True),  # type: ignore[attr-defined]
        }

    def index(self) -> int:
        """The number in a `gpu:N` or `pid:N` target."""
        return int(self.target.split(":", 1)[1])  # type: ignore[attr-defined]


class Noop(_Action):
    kind: Literal["noop"]
    target: Literal[""] = ""
    params: NoParams = NoParams()


class Notify(_Action):
    kind: Literal["notify"]
    target: Recipient
    params: NotifyParams = NotifyParams()


class ServiceControl(_Action):
    kind: Literal["service.start", "service.stop", "service.restart"]
    target: UnitName
    params: NoParams = NoParams()


class ServiceRollback(_Action):
    kind: Literal["service.rollback"]
    target: UnitName
    params: RollbackParams = RollbackParams()


class JobStart(_Action):
    kind: Literal["job.start"]
    target: JobId
    params: StartParams


class JobStop(_Action):
    kind: Literal["job.stop"]
    target: JobId
    params: SignalParams = SignalParams()


class JobRequeue(_Action):
    kind: Literal["job.requeue"]
    target: JobId
    params: NoParams = NoParams()


class GpuControl(_Action):
    kind: Literal["gpu.drain", "gpu.undrain", "gpu.reset"]
    target: GpuTarget
    params: NoParams = NoParams()


class GpuPowerLimit(_Action):
    kind: Literal["gpu.set_power_limit"]
    target: GpuTarget
    params: PowerParams


class ProcessKill(_Action):
    kind: Literal["process.kill"]
    target: PidTarget
    params: SignalParams = SignalParams()


class DiskCleanup(_Action):
    kind: Literal["disk.cleanup"]
    target: AbsPath
    params: NoParams = NoParams()


class UpdateApply(_Action):
    kind: Literal["update.apply"]
    target: Package
    params: NoParams = NoParams()


class UpdateDefer(_Action):
    kind: Literal["update.defer"]
    target: Package
    params: DeferParams = DeferParams()


class HostReboot(_Action):
    kind: Literal["host.reboot"]
    target: Annotated[str, AfterValidator(_hostname_or_self)] = ""
    params: NoParams = NoParams()


Action = Annotated[
    Noop
    | Notify
    | ServiceControl
    | ServiceRollback
    | JobStart
    | JobStop
    | JobRequeue
    | GpuControl
    | GpuPowerLimit
    | ProcessKill
    | DiskCleanup
    | UpdateApply
    | UpdateDefer
    | HostReboot,
    Field(discriminator="kind"),
]

ACTION = TypeAdapter(Action)
KINDS: tuple[str, ...] = (
    "noop", "notify", "service.start", "service.stop", "service.restart", "service.rollback",
    "job.start", "job.stop", "job.requeue", "gpu.drain", "gpu.undrain", "gpu.reset",
    "gpu.set_power_limit", "process.kill", "disk.cleanup", "update.apply", "update.defer", "host.reboot",
)  # fmt: skip
# Kinds that change nothing on the machine: no approval or autonomy gate applies.
PASSIVE_KINDS = frozenset({"noop", "notify"})


def make_action(kind: str, target: str = "", where: str = "action", **params: Any) -> Action:
    return parse_action({"kind": kind, "target": target, "params": params}, where)


def parse_action(data: Any, where: str = "action") -> Action:
    """Validate an action from any source; an unknown kind or illegal target is a ContractError."""
    if isinstance(data, dict) and data.get("kind") not in KINDS:
        raise ContractError(f"{where}: unknown action kind {data.get('kind')!r}")
    if isinstance(data, dict) and data.get("params") is None:
        data = {k: v for k, v in data.items() if k != "params"}
    try:
        return ACTION.validate_python(data)
    except ValidationError as e:
        raise ContractError(one_line(e, where)) from None


# ---------------------------------------------------------------- decision

Verdict = Literal["allow", "deny", "approval"]


class Judged(BaseModel):
    """One planned action with the guard's verdict."""

    action: Action
    verdict: Verdict
    reasons: list[str] = Field(default_factory=list)

    def wire(self) -> dict[str, Any]:
        return {**self.action.wire(), "verdict": self.verdict, "reasons": self.reasons}


class Decision(BaseModel):
    scenario: str
    engine: Literal["llm", "rules"]
    actions: list[Judged]
    rationale: str
    latency_ms: float
    # Extra facts for the audit log and `--compare`; not part of the printed contract.
    confidence: float | None = None
    fault_class: str | None = None

    def wire(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "engine": self.engine,
            "actions": [j.wire() for j in self.actions],
            "rationale": self.rationale,
            "latency_ms": round(self.latency_ms, 1),
        }


# ---------------------------------------------------------------- commands

QueryTopic = Literal["status", "gpus", "jobs", "services", "updates", "audit"]
Mode = Literal["observe", "supervised", "autonomous"]


class ActCommand(BaseModel):
    intent: Literal["act"]
    action: Action


class QueryCommand(BaseModel):
    intent: Literal["query"]
    topic: QueryTopic
    target: str = Field(default="", max_length=200)


class ExplainCommand(BaseModel):
    intent: Literal["explain"]
    target: str = Field(max_length=300)
    since: Instant | None = None


class AutonomyCommand(BaseModel):
    intent: Literal["autonomy"]
    mode: Mode
    until: Instant | None = None


class UnknownCommand(BaseModel):
    intent: Literal["unknown"]


Command = Annotated[
    ActCommand | QueryCommand | ExplainCommand | AutonomyCommand | UnknownCommand,
    Field(discriminator="intent"),
]
COMMAND = TypeAdapter(Command)


def parse_command(data: Any, where: str = "command") -> Command:
    try:
        return COMMAND.validate_python(data)
    except ValidationError as e:
        raise ContractError(one_line(e, where)) from None


def command_wire(cmd: Command) -> dict[str, Any]:
    if isinstance(cmd, ActCommand):
        return {"intent": "act", "action": cmd.action.wire()}
    return cmd.model_dump(mode="json")
