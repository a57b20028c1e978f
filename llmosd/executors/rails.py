"""Safety rails the dispatcher applies after the guard and before any executor.

They read the audit log, not the history a caller hands the guard, so they
hold even when that history is wrong. Automated actors (llm, rules) meet all
of them; a person's command meets none, but what a person does by hand to a
unit or a GPU (start, stop, drain, undrain) pins it: automation leaves a
pinned target alone until a person releases it.

- escalation ladder: when one step was used `max` times in its window on a
  target, the next step of the ladder is proposed instead (to be judged again);
- circuit breaker: no more than `changes_per_hour` changes host-wide, and no
  more than `max_drained_share` of the GPUs drained (at least one may be);
- manual review: a target acted on `review_after.count` times in its window is
  left to a person until released.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from llmosd.audit import AuditLog, is_person, stamp
from llmosd.contract import KINDS, PASSIVE_KINDS, Action, Snapshot, make_action
from llmosd.executors.state import StateFile
from llmosd.policy import Policy, Rung, span

PIN_KINDS = frozenset({"service.start", "service.stop", "gpu.drain", "gpu.undrain"})
HOUR = timedelta(hours=1)
CHANGES = tuple(k for k in KINDS if k not in PASSIVE_KINDS)


@dataclass(frozen=True)
class Pin:
    target: str
    kind: str
    by: str
    at: str


@dataclass(frozen=True)
class Stop:
    """Why the rails refuse an action, and the next step to judge instead, if any."""

    reason: str
    next_step: Action | None = None


class Rails:
    def __init__(self, policy: Policy, audit: AuditLog, state: StateFile):
        self.policy, self.audit, self.state = policy, audit, state

    def _now(self) -> datetime:
        return self.audit.clock()

    # ------------------------------------------------------------ state

    def pins(self) -> dict[str, Pin]:
        return {t: Pin(t, **p) for t, p in self.state.load().get("pins", {}).items()}

    def in_review(self) -> dict[str, str]:
        return dict(self.state.load().get("review", {}))

    def _update(self, section: str, target: str, value: object | None) -> None:
        d = self.state.load()
        part = d.setdefault(section, {})
        if value is None:
            part.pop(target, None)
        else:
            part[target] = value
        self.state.save(d)

    def note(self, action: Action, actor: str, status: str) -> None:
        """After an action: what a person did by hand is pinned."""
        if status == "ok" and is_person(actor) and action.kind in PIN_KINDS:
            at = stamp(self._now())
            self._update("pins", action.target, {"kind": action.kind, "by": actor, "at": at})
            self.audit.event("rails.pin", action.target, actor, f"{action.kind} by hand: pinned")

    def release(self, target: str, by: str) -> bool:
        """A person hands `target` back to automation: its pin and manual review end."""
        had = target in self.pins() or target in self.in_review()
        self._update("pins", target, None)
        self._update("review", target, None)
        self._update("released", target, stamp(self._now()))
        self.audit.event("rails.release", target, by, "handed back to automation" if had else "was not held")
        return had

    # ------------------------------------------------------------ checks

    def check(self, a: Action, snap: Snapshot, actor: str, drained: set[int]) -> Stop | None:
        if a.kind in PASSIVE_KINDS or is_person(actor):
            return None
        pin = self.pins().get(a.target)
        if pin:
            return Stop(f"{a.target} is pinned: {pin.by} did {pin.kind} by hand at {pin.at}; "
                        "automation leaves it until a person releases it")  # fmt: skip
        review = self.in_review().get(a.target)
        if review:
            return Stop(f"{a.target} is in manual review since {review}")
        return self._review(a) or self._breaker(a, snap, drained) or self._ladder(a, snap)

    def _admin(self, message: str) -> Action:
        return make_action("notify", "admin", message=message[:2000])

    def _review(self, a: Action) -> Stop | None:
        rule, now = self.policy.rails.review_after, self._now()
        since = now - rule.window
        released = self.state.load().get("released", {}).get(a.target)
        if released and released > stamp(since):
            since = datetime.fromisoformat(released.replace("Z", "+00:00"))
        n = self.audit.count(since, target=a.target, kinds=CHANGES)
        if n < rule.count:
            return None
        self._update("review", a.target, stamp(now))
        why = f"{a.target} was acted on {n} times since {stamp(since)} (review after {rule.count})"
        self.audit.event("rails.review", a.target, "rules", why + ": left to a person")
        return Stop(f"manual review: {why}", self._admin(f"{why}; automation stopped, please look"))

    def _breaker(self, a: Action, snap: Snapshot, drained: set[int]) -> Stop | None:
        rails = self.policy.rails
        n = self.audit.count(self._now() - HOUR, kinds=CHANGES)
        if n >= rails.changes_per_hour:
            why = f"circuit breaker: {n} changes in the last hour (max {rails.changes_per_hour})"
            return Stop(why, self._admin(why + "; automation paused"))
        if a.kind == "gpu.drain" and snap.gpus:
            now_drained = drained | {g.index for g in snap.gpus if g.drained} | {a.index()}
            limit = max(1, math.floor(rails.max_drained_share * len(snap.gpus)))
            if len(now_drained) > limit:
                why = (f"circuit breaker: draining {a.target} would leave {len(now_drained)} of "
                       f"{len(snap.gpus)} GPUs drained (max {limit})")  # fmt: skip
                return Stop(why, self._admin(why))
        return None

    def _ladder(self, a: Action, snap: Snapshot) -> Stop | None:
        rungs = self.policy.rails.ladders.get(a.kind.split(".", 1)[0], [])
        at = next((i for i, r in enumerate(rungs) if r.kind == a.kind), None)
        if at is None:
            return None
        used = self._used(rungs[at], a.target, snap)
        if used < rungs[at].max:
            return None
        why = f"escalation: {a.kind} used {used} times on {a.target} in {span(rungs[at].window)}"
        for rung in rungs[at + 1 :]:
            if self._used(rung, a.target, snap) < rung.max:
                return Stop(f"{why}; next step {rung.kind}", self._step(rung.kind, a.target, snap, why))
        return Stop(f"{why}; the ladder is exhausted", None)

    def _step_target(self, kind: str, target: str, snap: Snapshot) -> str:
        return {"notify": "admin", "host.reboot": snap.host.hostname}.get(kind, target)

    def _used(self, rung: Rung, target: str, snap: Snapshot) -> int:
        t = self._step_target(rung.kind, target, snap)
        return self.audit.count(self._now() - rung.window, target=t, kinds=(rung.kind,))

    def _step(self, kind: str, target: str, snap: Snapshot, why: str) -> Action:
        if kind == "notify":
            return self._admin(f"{why}; every automatic step for {target} is used up: a person must look")
        return make_action(kind, self._step_target(kind, target, snap))
