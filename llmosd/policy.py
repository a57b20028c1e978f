"""policies/*.yaml → a validated `Policy`.

Every key is checked (`extra="forbid"`), so a typo is refused at load time
with the file, the key and the reason. The rules engine, the LLM engine and
the guard read the same tables.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from llmosd.contract import KINDS, Mode
from llmosd.errors import ConfigError, one_line

POLICY_DIR = Path(__file__).resolve().parent.parent / "policies"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(v: Any) -> timedelta:
    if isinstance(v, timedelta):
        return v
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", str(v))
    if not m:
        raise ValueError(f"not a duration like 10m, 1h or 7d: {v!r}")
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])


def span(d: timedelta) -> str:
    """A duration as the policy writes it: 10m, 1h, 7d (the largest whole unit)."""
    s = int(d.total_seconds())
    for unit, n in (("d", 86400), ("h", 3600), ("m", 60)):
        if s % n == 0 and s >= n:
            return f"{s // n}{unit}"
    return f"{s}s"


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


ServiceOutcome = Literal["restart", "notify_admin", "rollback_if_updated"]
JobOutcome = Literal["requeue", "notify_owner"]


class FaultClass(_Strict):
    description: str
    service: ServiceOutcome
    job: JobOutcome
    patterns: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _patterns_compile(self) -> FaultClass:
        for p in self.patterns:
            try:
                re.compile(p)
            except re.error as e:
                raise ValueError(f"pattern {p!r} is not a valid regex: {e}") from None
        return self

    @cached_property
    def regexes(self) -> list[re.Pattern[str]]:
        return [re.compile(p, re.IGNORECASE) for p in self.patterns]


class Approval(_Strict):
    kinds: list[str] = Field(default_factory=lambda: ["host.reboot"])
    expires: Duration = timedelta(hours=1)
    min_confidence: float = Field(default=0.5, ge=0, le=1)


class CrashLoop(_Strict):
    count: int = Field(default=3, ge=1)
    window: Duration = timedelta(minutes=10)


class Services(_Strict):
    crash_loop: CrashLoop = CrashLoop()
    rollback_within: Duration = timedelta(hours=1)


class GpuPolicy(_Strict):
    xid_hardware: list[int]
    xid_notify_admin: list[int]
    xid_application: list[int]
    xid_contained: list[int]
    xid_window: Duration = timedelta(hours=1)
    thermal_reasons: list[str] = Field(default_factory=lambda: ["hw_thermal_slowdown"])
    power_step_percent: float = Field(default=15, gt=0, lt=100)
    power_floor_percent: float = Field(default=50, gt=0, le=100)


class Jobs(_Strict):
    idle_util_percent: float = 0
    idle_for: Duration = timedelta(hours=2)
    orphan_after: Duration = timedelta(minutes=10)
    max_retries: int = Field(default=1, ge=0)
    priorities: list[str] = Field(default_factory=lambda: ["urgent", "high", "normal", "low"])

    def rank(self, priority: str) -> int:
        """Lower is sooner; an unknown priority counts as the lowest."""
        return self.priorities.index(priority) if priority in self.priorities else len(self.priorities)


class Disks(_Strict):
    full_percent: float = Field(default=95, gt=0, le=100)
    disposable: list[str] = Field(default_factory=list)
    # disk.cleanup leaves files younger than this (a running program may still use them).
    min_age: Duration = timedelta(days=1)
    # What `journalctl --vacuum-size` keeps when the target is the journal.
    journal_keep: str = Field(default="500M", pattern=r"^[0-9]+[KMGT]?$")

    @model_validator(mode="after")
    def _absolute(self) -> Disks:
        bad = [p for p in self.disposable if not p.startswith("/") or p.rstrip("/") == ""]
        if bad:
            raise ValueError(f"disposable paths must be absolute and not '/': {bad}")
        return self


Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_DAYS: list[Day] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class Window(_Strict):
    days: list[Day] = Field(default_factory=lambda: list(_DAYS))
    start: time
    end: time

    def contains(self, t: datetime) -> bool:
        """Whether local time `t` is inside; a window may run past midnight."""
        day, clock = _DAYS[t.weekday()], t.time().replace(tzinfo=None)
        if self.start <= self.end:
            return day in self.days and self.start <= clock < self.end
        started_yesterday = _DAYS[(t.weekday() - 1) % 7] in self.days and clock < self.end
        return (day in self.days and clock >= self.start) or started_yesterday

    def next_start(self, t: datetime) -> datetime:
        """The next moment at or after `t` when the window opens."""
        for ahead in range(8):
            day = (t + timedelta(days=ahead)).replace(
                hour=self.start.hour, minute=self.start.minute, second=0, microsecond=0
            )
            if day >= t and _DAYS[day.weekday()] in self.days:
                return day
        return t + timedelta(days=7)


class Updates(_Strict):
    window: Window = Window(start=time(2), end=time(6))


class RateLimit(_Strict):
    kind: str
    per: Literal["target", "host"] = "target"
    max: int = Field(ge=0)
    window: Duration

    @model_validator(mode="after")
    def _known_kind(self) -> RateLimit:
        if self.kind != "*" and self.kind not in KINDS:
            raise ValueError(f"rate limit names unknown action kind {self.kind!r}")
        return self


class Rung(_Strict):
    kind: str
    max: int = Field(default=1, ge=1)
    window: Duration = timedelta(hours=1)


class Review(_Strict):
    count: int = Field(default=6, ge=1)
    window: Duration = timedelta(days=7)


class Rails(_Strict):
    """Executor-side safety rails; they hold even when the history given to the guard is wrong."""

    max_drained_share: float = Field(default=0.5, gt=0, le=1)
    changes_per_hour: int = Field(default=20, ge=0)
    review_after: Review = Review()
    # Per family (the part of the kind before the dot): the steps tried in order on one target.
    ladders: dict[str, list[Rung]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_kinds(self) -> Rails:
        bad = sorted({r.kind for rungs in self.ladders.values() for r in rungs} - set(KINDS))
        if bad:
            raise ValueError(f"ladders name unknown action kinds {bad}")
        return self


class Policy(_Strict):
    name: str = "default"
    autonomy: Mode = "autonomous"
    allowed_kinds: list[str] = Field(default_factory=lambda: list(KINDS))
    approval: Approval = Approval()
    services: Services = Services()
    fault_classes: dict[str, FaultClass]
    gpu: GpuPolicy
    jobs: Jobs = Jobs()
    disks: Disks = Disks()
    updates: Updates = Updates()
    rate_limits: list[RateLimit] = Field(default_factory=list)
    rails: Rails = Rails()

    @model_validator(mode="after")
    def _consistent(self) -> Policy:
        unknown = sorted(set(self.allowed_kinds + self.approval.kinds) - set(KINDS))
        if unknown:
            raise ValueError(f"unknown action kinds {unknown}")
        if "unknown" not in self.fault_classes:
            raise ValueError("fault_classes must include 'unknown' (the class of unexplained failures)")
        return self

    def xid_class(self, xid: int) -> str | None:
        for name in ("hardware", "application", "contained"):
            if xid in getattr(self.gpu, f"xid_{name}"):
                return name
        return None


def load_policy(name_or_path: str | Path = "default", policy_dir: Path | None = None) -> Policy:
    """Load a policy by name (from `policy_dir`, default the shipped `policies/`) or path."""
    p = Path(name_or_path)
    if p.suffix not in (".yaml", ".yml"):
        p = (policy_dir or POLICY_DIR) / f"{name_or_path}.yaml"
    try:
        data = yaml.safe_load(p.read_text())
    except OSError as e:
        raise ConfigError(f"{p}: cannot read policy: {e.strerror or e}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{p}:{line}: not valid YAML: {getattr(e, 'problem', e)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: a policy is a mapping of keys, got {type(data).__name__}")
    data.setdefault("name", p.stem)
    try:
        return Policy.model_validate(data)
    except ValidationError as e:
        raise ConfigError(one_line(e, str(p))) from None


class PolicyHolder:
    """Keeps the last good policy: a reload that fails leaves the old one in force."""

    def __init__(self, source: str | Path, policy_dir: Path | None = None):
        self.source, self.policy_dir = source, policy_dir
        self.policy = load_policy(source, policy_dir)

    def reload(self) -> str | None:
        """Reload; returns None on success, else the one-line reason the old policy stays."""
        try:
            self.policy = load_policy(self.source, self.policy_dir)
        except ConfigError as e:
            return str(e)
        return None
