"""The dispatcher: the one door from a judged action to the machine.

It carries out a `Judged` action only when the guard allowed it, or when the
guard asked for a person and a person's unexpired approval (`Grant`) comes
with it; `host.reboot` and the policy's approval kinds always need one. Then
the safety rails (rails.py) may still refuse, proposing the next step of an
escalation ladder. Otherwise an intent is written (and synced) to the audit
log, the area's executor runs, a check reads the machine back, and the
outcome is written. `reconcile` answers, at start-up, intents a killed
daemon left without outcome, by checking the machine; nothing is run again.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal, Protocol

from llmosd.audit import AuditLog, Context, Record, is_person, stamp
from llmosd.contract import PASSIVE_KINDS, Action, Judged, Mode, Snapshot, parse_action
from llmosd.errors import ExecutorError
from llmosd.executors import runner
from llmosd.executors.disk import DiskArea
from llmosd.executors.gpu import GpuArea, GpuControl
from llmosd.executors.jobs import JobArea, Placement
from llmosd.executors.process import Alive, ProcessArea
from llmosd.executors.rails import Pin, Rails
from llmosd.executors.rollback import Releases
from llmosd.executors.runner import Run, SendSignal
from llmosd.executors.services import ServiceArea
from llmosd.executors.state import StateFile
from llmosd.executors.supervise import HealthSpec, Supervisor
from llmosd.executors.systemd import Systemd, available
from llmosd.executors.updates import UpdateArea
from llmosd.policy import Policy

log = logging.getLogger(__name__)
Notify = Callable[[str, str], None]
Status = Literal["ok", "failed", "refused"]


class Area(Protocol):
    kinds: frozenset[str]

    def do(self, a: Action, snap: Snapshot) -> str: ...

    def check(self, a: Action, snap: Snapshot, since: datetime) -> tuple[bool | None, str]:
        """Read the machine back: True done, False not done, None cannot tell."""
        ...


@dataclass(frozen=True)
class Grant:
    """A person's approval of one action, valid until `expires`."""

    action: Action
    by: str
    at: datetime
    expires: datetime

    @classmethod
    def give(cls, action: Action, by: str, at: datetime, policy: Policy) -> Grant:
        """An approval given now, open for the policy's `approval.expires`."""
        return cls(action, by, at, at + policy.approval.expires)


@dataclass(frozen=True)
class Outcome:
    status: Status
    detail: str
    intent: int | None  # the audit record of the intent; None when nothing ran
    record: int | None  # the audit record of the outcome or refusal
    duration_ms: float
    next_step: Action | None = None  # an escalation to judge with the guard, then execute


class NotifyArea:
    """Messages for people, kept where `llmosctl` and the daemon's notifier read them."""

    kinds = frozenset({"notify"})

    def __init__(self, path: Path, deliver: Notify | None):
        self.path, self.deliver = path, deliver

    def do(self, a: Action, snap: Snapshot) -> str:
        message = getattr(a.params, "message", "") or "(no message)"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as f:
            f.write(json.dumps({"at": stamp(snap.now), "to": a.target, "message": message}) + "\n")
        if self.deliver:
            self.deliver(a.target, message)
        return f"message for {a.target} queued"

    def check(self, a: Action, snap: Snapshot, since: datetime) -> tuple[bool | None, str]:
        return None, "a message cannot be read back once delivered"


class Executors:
    def __init__(
        self, *, audit: AuditLog, policy: Policy, state_dir: Path, run: Run = runner.run,
        send: SendSignal = runner.send_signal, alive: Alive = runner.process_alive,
        nvml: GpuControl | None = None, supervisor: Supervisor | None = None,
        systemd: Systemd | Literal["auto"] | None = "auto", releases: Path | None = None,
        health: Mapping[str, HealthSpec] | None = None, notify: Notify | None = None,
        grace: float = 10.0, nvidia_smi: tuple[str, ...] = ("nvidia-smi",),
        journalctl: tuple[str, ...] = ("journalctl",), apt_get: tuple[str, ...] = ("apt-get",),
    ):  # fmt: skip
        self.audit, self.policy = audit, policy
        self.mode: Mode = policy.autonomy  # the daemon sets it when an admin changes the mode
        sd = (Systemd(run) if available() else None) if systemd == "auto" else systemd
        self.placement = Placement(state_dir / "placement.json")
        self.rails = Rails(policy, audit, StateFile(state_dir / "rails.json"))
        self.updates = UpdateArea(run, state_dir / "deferred.json", sd or Systemd(run), apt_get=apt_get)
        self.disk = DiskArea(policy, run, journalctl=journalctl)
        areas: list[Area] = [
            ServiceArea(
                systemd=sd, supervisor=supervisor, releases=Releases(releases) if releases else None,
                health=health or {}, run=run,
            ),
            JobArea(self.placement, send, alive, grace),
            GpuArea(self.placement, nvml, run, nvidia_smi),
            ProcessArea(send, alive, grace),
            self.disk,
            self.updates,
            NotifyArea(state_dir / "notifications.jsonl", notify),
        ]  # fmt: skip
        self.areas = {k: area for area in areas for k in area.kinds}

    def set_policy(self, policy: Policy) -> None:
        self.policy = self.rails.policy = self.disk.policy = policy

    @property
    def drained(self) -> set[int]:
        return self.placement.drained

    def pins(self) -> dict[str, Pin]:
        return self.rails.pins()

    def in_review(self) -> dict[str, str]:
        return self.rails.in_review()

    def release(self, target: str, by: str) -> bool:
        if not is_person(by):
            raise ExecutorError("only a person can release a pinned target or end a manual review")
        return self.rails.release(target, by)

    # ------------------------------------------------------------ the door

    def _gate(self, judged: Judged, grant: Grant | None) -> str | None:
        a = judged.action
        if judged.verdict == "deny":
            return "denied by the guard: " + "; ".join(judged.reasons)
        if a.kind in PASSIVE_KINDS:
            return None
        if self.mode == "observe":
            return "observe mode: decided and logged, not acted on"
        needs_person = (
            judged.verdict == "approval" or self.mode == "supervised"
            or a.kind in self.policy.approval.kinds or a.kind == "host.reboot"
        )  # fmt: skip
        if not needs_person:
            return None
        if grant is None:
            return "waits for a person's approval"
        if grant.action.key() != a.key():
            return f"the approval is for {grant.action.kind} {grant.action.target}, not this action"
        if not is_person(grant.by):
            return f"an approval must come from a person, not {grant.by}"
        if self.audit.clock() >= grant.expires:
            return f"the approval by {grant.by} expired at {stamp(grant.expires)}"
        return None

    def execute(
        self, judged: Judged, snapshot: Snapshot, ctx: Context, grant: Grant | None = None
    ) -> Outcome:
        if not isinstance(judged, Judged):
            raise ExecutorError("only an action judged by the guard can be executed")
        t0, a = time.monotonic(), judged.action

        def ms() -> float:
            return (time.monotonic() - t0) * 1000

        if a.kind == "noop":
            return Outcome("ok", "nothing to do", None, None, ms())
        why, step = self._gate(judged, grant), None
        if why is None:
            stop = self.rails.check(a, snapshot, ctx.actor, self.placement.drained)
            why, step = (stop.reason, stop.next_step) if stop else (None, None)
        if why is not None:
            return Outcome("refused", why, None, self.audit.refused(judged, ctx, why), ms(), step)
        approved = f"approved by {grant.by} at {stamp(grant.at)}" if grant else ""
        since = self.audit.clock()
        intent = self.audit.intent(judged, ctx, detail=approved)
        status: Status = "failed"
        try:
            area = self.areas[a.kind]
            did = area.do(a, snapshot)
            ok, seen = area.check(a, snapshot, since)
            status, detail = ("failed" if ok is False else "ok"), f"{did}; check: {seen}"
        except ExecutorError as e:
            detail = str(e)
        except Exception as e:  # recorded, not hidden: the outcome row says what broke
            log.exception("executor for %s %s crashed", a.kind, a.target)
            detail = f"executor crashed: {type(e).__name__}: {e}"
        record = self.audit.outcome(intent, status, detail, ms())
        self.rails.note(a, ctx.actor, status)
        return Outcome(status, detail, intent, record, ms())

    # ------------------------------------------------------------ start-up

    def reconcile(self, snapshot: Snapshot) -> list[int]:
        """Record what became of intents a killed daemon left open, judged by `snapshot` and the machine."""
        words = {True: "reconciled_done", False: "reconciled_not_done", None: "reconciled_unknown"}

        def check(rec: Record) -> tuple[str, str]:
            a = parse_action(rec.action, f"audit record {rec.seq}")
            since = datetime.fromisoformat(rec.at.replace("Z", "+00:00"))
            ok, seen = self.areas[a.kind].check(a, snapshot, since)
            return words[ok], seen

        return self.audit.reconcile(check)
