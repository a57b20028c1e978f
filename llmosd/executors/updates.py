"""Package updates (apt) and reboots.

`apt-get -s upgrade` lists what is pending without changing anything; a real
upgrade runs only for an allowed `update.apply`. A deferral is kept with its
expiry in a state file that the update collector reads. A reboot goes
through systemd and the dispatcher only lets it through with a person's
approval.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from llmosd.audit import utcnow
from llmosd.contract import Action, Snapshot, Update
from llmosd.errors import ExecutorError
from llmosd.executors import runner
from llmosd.executors.runner import Run
from llmosd.executors.state import StateFile
from llmosd.executors.systemd import Systemd

# Inst openssl [3.0.11-1~deb12u1] (3.0.13-1~deb12u1 Debian-Security:12/stable-security [amd64])
_INST = re.compile(r"^Inst (\S+) (?:\[([^\]]*)\] )?\((\S+) ([^)]*)\)")
_NONINTERACTIVE = {"DEBIAN_FRONTEND": "noninteractive", "NEEDRESTART_MODE": "l"}


def parse_simulation(text: str) -> list[Update]:
    out = []
    for line in text.splitlines():
        m = _INST.match(line)
        if m:
            pkg, old, new, origin = m.groups()
            out.append(Update.model_validate(
                {"kind": "apt", "package": pkg, "from": old, "to": new, "security": "-security" in origin}
            ))  # fmt: skip
    return out


class UpdateArea:
    kinds = frozenset({"update.apply", "update.defer", "host.reboot"})

    def __init__(
        self, run: Run, state: Path, systemd: Systemd, *, apt_get: Sequence[str] = ("apt-get",),
        clock: Callable[[], datetime] = utcnow, default_defer: timedelta = timedelta(days=7),
        boot_time: Callable[[], float] = runner.boot_time,
    ):  # fmt: skip
        self.run, self.file, self.systemd, self.apt_get = run, StateFile(state), systemd, tuple(apt_get)
        self.clock, self.default_defer, self.boot_time = clock, default_defer, boot_time

    def pending(self) -> list[Update]:
        r = self.run([*self.apt_get, "-s", "-o", "Debug::NoLocking=1", "upgrade"], timeout=120)
        if not r.ok:
            raise ExecutorError(r.why())
        return parse_simulation(r.stdout)

    def deferred(self) -> dict[str, datetime]:
        """Packages whose updates wait, with the time the deferral ends; expired ones are dropped."""
        now = self.clock()
        d = {k: datetime.fromisoformat(v) for k, v in self.file.load().items()}
        return {k: v for k, v in d.items() if v > now}

    def do(self, a: Action, snap: Snapshot) -> str:
        if a.kind == "host.reboot":
            return self.systemd.reboot()
        if a.kind == "update.defer":
            until = getattr(a.params, "until", None) or self.clock() + self.default_defer
            d = {k: v.isoformat() for k, v in self.deferred().items()}
            d[a.target] = until.isoformat()
            self.file.save(d)
            return f"updates of {a.target} deferred until {until.isoformat()}"
        opts = ["-y", "-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold"]
        what = ["upgrade"] if a.target == "all" else ["install", "--only-upgrade", a.target]
        r = self.run([*self.apt_get, *opts, *what], timeout=1800, env=_NONINTERACTIVE)
        if not r.ok:
            raise ExecutorError(r.why())
        return f"apt-get {' '.join(what)}: done"

    def check(self, a: Action, snap: Snapshot, since: datetime) -> tuple[bool | None, str]:
        if a.kind == "host.reboot":
            if self.boot_time() > since.timestamp():
                return True, "the machine has booted since"
            return None, "reboot requested; the machine has not restarted yet"
        if a.kind == "update.defer":
            ok = a.target in self.deferred()
            return ok, f"{a.target} {'is' if ok else 'is not'} deferred"
        left = [u.package for u in self.pending() if a.target in ("all", u.package)]
        return (False, f"still pending: {', '.join(left[:10])}") if left else (True, "nothing left pending")
