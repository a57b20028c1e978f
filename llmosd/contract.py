"""The shared words of CONTRACT.md as pydantic models.

`Snapshot` is the incident scenario (one frozen moment of one host),
`Decision` is what `llmosd replay` prints, `Command` is a parsed admin
request; the action catalog lives in `catalog.py` and is re-exported here.
Input models ignore unknown fields: the contract lets producers add them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from llmosd.catalog import (
    ACTION,
    KINDS,
    PASSIVE_KINDS,
    Action,
    Instant,
    iso,
    make_action,
    parse_action,
    subject_tag,
)
from llmosd.errors import ContractError, one_line

__all__ = ["ACTION", "KINDS", "PASSIVE_KINDS", "Action", "Instant", "iso", "make_action", "parse_action",
           "subject_tag"]  # fmt: skip


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


class NetStats(_In):
    rx_mib_s: float = 0.0
    tx_mib_s: float = 0.0
    errors: int = 0  # receive and send errors and drops since the previous reading


class HostProcess(_In):
    pid: int
    user: str = ""
    cmd: str = ""  # untrusted text, like a journal line
    cpu_percent: float = 0.0
    mem_mib: float = 0.0


class Host(_In):
    hostname: str
    cpu_percent: float | None = None
    mem_percent: float | None = None
    load1: float | None = None
    disks: list[Disk] = Field(default_factory=list)
    in_maintenance_window: bool = False
    reboot_required: bool = False
    # Live collectors only (scenarios may leave them out): the busiest processes by CPU and memory.
    net: NetStats | None = None
    processes: list[HostProcess] = Field(default_factory=list)


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
    reader: str | None = None  # model | pattern: what read fault_class

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
COMMAND: TypeAdapter[Command] = TypeAdapter(Command)


def parse_command(data: Any, where: str = "command") -> Command:
    try:
        return COMMAND.validate_python(data)
    except ValidationError as e:
        raise ContractError(one_line(e, where)) from None


def command_wire(cmd: Command) -> dict[str, Any]:
    if isinstance(cmd, ActCommand):
        return {"intent": "act", "action": cmd.action.wire()}
    return cmd.model_dump(mode="json")
