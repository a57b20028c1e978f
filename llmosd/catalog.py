"""The action catalog of CONTRACT.md §1: every change llmosd can make.

`Action` is a discriminated union on `kind`; each member validates its own
target form (`gpu:N`, `pid:N`, unit names, absolute paths, package names) and
its params strictly, because an action is something we might carry out. An
unknown kind or an illegal target is a `ContractError` naming the place.
"""

from __future__ import annotations

import posixpath
import re
from datetime import UTC, datetime
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


_UNIT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9:_.@\\-]{0,240}\.(service|socket|timer|target|mount|path)$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,31}$")  # POSIX-portable user names
_JOB = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
_PKG = re.compile(r"^(all|[a-z0-9][a-z0-9+.:_-]{0,127})$")
_HOST = re.compile(
    r"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
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

ACTION: TypeAdapter[Action] = TypeAdapter(Action)
KINDS: tuple[str, ...] = (
    "noop", "notify", "service.start", "service.stop", "service.restart", "service.rollback",
    "job.start", "job.stop", "job.requeue", "gpu.drain", "gpu.undrain", "gpu.reset",
    "gpu.set_power_limit", "process.kill", "disk.cleanup", "update.apply", "update.defer", "host.reboot",
)  # fmt: skip
# Kinds that change nothing on the machine: no approval or autonomy gate applies.
PASSIVE_KINDS = frozenset({"noop", "notify"})


def make_action(kind: str, target: str = "", where: str = "action", **params: Any) -> Action:
    return parse_action({"kind": kind, "target": target, "params": params}, where)


def subject_tag(about: str) -> str:
    """What opens the message of a notification the engine sends about `about` (a job, unit or GPU):
    its target is the person told, so the engine (was this job answered?) and `explain` find it by this."""
    return f"[{about}]"


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
