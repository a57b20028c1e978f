"""systemd units (and services llmosd supervises itself) as the snapshot describes them.

One `systemctl show` reads every unit per pass. Restart counts over 10
minutes and an hour need history that systemd does not keep: the collector
remembers when each unit's restart counter (NRestarts) went up, and on first
sight of a unit asks the journal when its automatic restarts of the last hour
were scheduled. Journal tails are read only for units that are down or
restarting, and again only when their state changes.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from llmosd.contract import Service
from llmosd.errors import ExecutorError
from llmosd.executors import runner, systemd
from llmosd.executors.runner import Run

log = logging.getLogger(__name__)

PROPS = ("Id", "LoadState", "ActiveState", "SubState", "Result", "ExecMainCode", "ExecMainStatus",
         "NRestarts", "StateChangeTimestampMonotonic")  # fmt: skip
RESTART_SCHEDULED = "5eb03494b6584870a536b337290809b3"  # journal MESSAGE_ID of an automatic restart
CLD_EXITED = 1  # ExecMainCode: 1 exited, 2 killed, 3 dumped core
_LINE_CHARS = 500
_HOUR = timedelta(hours=1)


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_show(text: str) -> list[dict[str, str]]:
    """`systemctl show` output for several units: one key=value block each, blank-line separated."""
    blocks = []
    for chunk in text.strip("\n").split("\n\n"):
        props = dict(line.split("=", 1) for line in chunk.splitlines() if "=" in line)
        if props:
            blocks.append(props)
    return blocks


def exit_status(props: dict[str, str]) -> int | None:
    """The main process's status as a shell reports it: a signal N is 128+N; None if it did not end."""
    code, status = props.get("ExecMainCode", "0"), props.get("ExecMainStatus", "0")
    if not (code.isdigit() and status.isdigit()) or int(code) == 0:
        return None
    return int(status) if int(code) == CLD_EXITED else 128 + int(status)


@dataclass
class _Seen:
    count: int
    restarts: deque[datetime] = field(default_factory=deque)
    tail_key: tuple[str, str, int] | None = None
    tail: list[str] = field(default_factory=list)


class ServiceCollector:
    """Keep one: restart counts over time come from what it saw before."""

    def __init__(
        self, run: Run = runner.run, *, clock: Callable[[], datetime] = utcnow, journal_lines: int = 20,
        systemctl: Sequence[str] = ("systemctl",), journalctl: Sequence[str] = ("journalctl",),
        supervised: Callable[[], list[Service]] | None = None, has_systemd: bool | None = None,
    ):  # fmt: skip
        self.run, self.clock, self.lines = run, clock, journal_lines
        self.systemctl, self.journalctl = tuple(systemctl), tuple(journalctl)
        self.supervised = supervised
        self.has_systemd = systemd.available() if has_systemd is None else has_systemd
        self._seen: dict[str, _Seen] = {}

    def collect(self, units: Sequence[str]) -> list[Service]:
        """Each unit once, in the order given; one that cannot be read has its `error` set."""
        own = {s.unit: s for s in self.supervised()} if self.supervised else {}
        rest = [u for u in dict.fromkeys(units) if u not in own]
        if not self.has_systemd:
            why = "systemd is not running here and llmosd does not supervise this service"
            got = {u: Service(unit=u, error=why) for u in rest}
        else:
            got = self._systemd(rest)
        return [own.get(u) or got[u] for u in dict.fromkeys(units)]

    def _systemd(self, units: list[str]) -> dict[str, Service]:
        if not units:
            return {}
        try:
            blocks = self._show(units)
        except ExecutorError:
            # One bad name fails the whole call: ask one by one so the others are still read.
            out = {}
            for u in units:
                try:
                    out[u] = self._service(u, self._show([u])[0])
                except (ExecutorError, IndexError) as e:
                    out[u] = Service(unit=u, error=f"systemctl show: {e or 'no answer'}")
            return out
        if len(blocks) != len(units):
            why = f"systemctl show answered {len(blocks)} units for {len(units)}"
            return {u: Service(unit=u, error=why) for u in units}
        return {u: self._service(u, b) for u, b in zip(units, blocks, strict=True)}

    def _show(self, units: list[str]) -> list[dict[str, str]]:
        argv = [*self.systemctl, "show", f"--property={','.join(PROPS)}", "--", *units]
        r = self.run(argv, timeout=20)  # a missing systemctl is an ExecutorError too
        if not r.ok:
            raise ExecutorError(r.why())
        return parse_show(r.stdout)

    def _service(self, unit: str, props: dict[str, str]) -> Service:
        if props.get("LoadState") == "not-found":
            return Service(unit=unit, error="no such unit")
        state = props.get("ActiveState") or "unknown"
        now, count = self.clock(), int(props.get("NRestarts", "0") or 0)
        seen = self._seen.get(unit)
        if seen is None:
            seen = self._seen[unit] = _Seen(count, deque(self._restarts_from_journal(unit, now)))
        elif count != seen.count:
            # A counter that went down was reset (a manual start): all of it is new.
            seen.restarts.extend([now] * (count - seen.count if count > seen.count else count))
            seen.count = count
        while seen.restarts and now - seen.restarts[0] > _HOUR:
            seen.restarts.popleft()
        svc = Service(
            unit=unit, state=state, exit_status=exit_status(props),
            restarts_10m=sum(1 for t in seen.restarts if now - t <= timedelta(minutes=10)),
            restarts_1h=len(seen.restarts),
        )  # fmt: skip
        if state in ("failed", "activating", "deactivating") or svc.restarts_1h:
            key = (state, props.get("StateChangeTimestampMonotonic", ""), count)
            if key != seen.tail_key:
                seen.tail, seen.tail_key = self._journal_tail(unit), key
            svc.journal_tail = seen.tail
        return svc

    def _journal(self, unit: str, *args: str) -> list[str]:
        argv = [*self.journalctl, "--no-pager", "-q", "-u", unit, *args]
        try:
            r = self.run(argv, timeout=20)
        except ExecutorError as e:
            log.warning("journal of %s: %s", unit, e)
            return []
        if not r.ok:
            log.warning("journal of %s: %s", unit, r.why())
            return []
        return r.stdout.splitlines()

    def _journal_tail(self, unit: str) -> list[str]:
        return [line[:_LINE_CHARS] for line in self._journal(unit, "-n", str(self.lines), "-o", "cat")]

    def _restarts_from_journal(self, unit: str, now: datetime) -> list[datetime]:
        lines = self._journal(unit, f"--since=-{int(_HOUR.total_seconds())}s", "-o", "json",
                              f"MESSAGE_ID={RESTART_SCHEDULED}")  # fmt: skip
        out = []
        for line in lines:
            try:
                stamp = str(json.loads(line).get("__REALTIME_TIMESTAMP", ""))
            except (json.JSONDecodeError, AttributeError):
                continue
            if stamp.isdigit():
                at = datetime.fromtimestamp(int(stamp) / 1e6, UTC)
                if now - at <= _HOUR:
                    out.append(at)
        return sorted(out)


def collect_services(units: Sequence[str], run: Run = runner.run) -> list[Service]:
    """One reading with no history behind it (restart counts come from the journal alone)."""
    return ServiceCollector(run).collect(units)
