"""The service collector on recorded real `systemctl`/`journalctl` output, and on a real systemd.

tests/data/systemd/ holds what systemd 252 printed in a throw-away container
(RECIPES.md) for five units: `oomed` (killed by SIGKILL after a CUDA OOM),
`looping` (Restart=always, exits 1), `healthy` (sleeping), `crashy` (hit its
start limit after 5 restarts) and `nope` (no such unit).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from llmosd.contract import Service
from llmosd.errors import ExecutorError
from llmosd.executors import runner
from llmosd.executors.runner import Result
from llmosd.telemetry.services import PROPS, ServiceCollector, exit_status, parse_show

DATA = Path(__file__).parent / "data" / "systemd"
UNITS = ["oomed.service", "looping.service", "healthy.service", "crashy.service", "nope.service"]
# Just after the recording: the journal shows looping.service's two restarts 1.5 s apart.
RECORDED = datetime.fromtimestamp(1795399096, UTC)


class Machine:
    """A `run=` stand-in answering systemctl and journalctl from recorded output; keeps every argv."""

    def __init__(self, show: str = "show-first.txt"):
        self.show, self.calls, self.fail_show = show, [], ""  # type: ignore[var-annotated]

    def __call__(
        self, argv: Sequence[str], timeout: float = 60.0, *, env: Mapping[str, str] | None = None
    ) -> Result:
        argv = tuple(argv)
        self.calls.append(argv)
        if argv[0] == "systemctl":
            if self.fail_show:
                return Result(argv, 1, "", self.fail_show)
            assert argv[1:3] == ("show", f"--property={','.join(PROPS)}") and argv[3] == "--"
            blocks = {b["Id"]: b for b in parse_show((DATA / self.show).read_text())}
            text = "\n\n".join("\n".join(f"{k}={v}" for k, v in blocks[u].items()) for u in argv[4:])
            return Result(argv, 0, text + "\n", "")
        unit = argv[argv.index("-u") + 1].removesuffix(".service")
        name = (
            f"restarts-{unit}.json"
            if any(a.startswith("MESSAGE_ID=") for a in argv)
            else f"journal-{unit}.txt"
        )
        path = DATA / name
        return Result(argv, 0, path.read_text() if path.exists() else "", "")

    def journal_tails(self) -> list[str]:
        return [c[c.index("-u") + 1] for c in self.calls if c[0] == "journalctl" and "-n" in c]


class Clock:
    def __init__(self) -> None:
        self.t = RECORDED

    def __call__(self) -> datetime:
        return self.t


def by_unit(services: list[Service]) -> dict[str, Service]:
    return {s.unit: s for s in services}


def test_first_reading_of_recorded_units() -> None:
    machine = Machine()
    got = ServiceCollector(machine, clock=Clock(), has_systemd=True).collect(UNITS)
    assert [s.unit for s in got] == UNITS
    s = by_unit(got)
    oomed = s["oomed.service"]
    assert (oomed.state, oomed.exit_status, oomed.restarts_10m, oomed.error) == ("failed", 137, 0, None)
    assert oomed.journal_tail == (DATA / "journal-oomed.txt").read_text().splitlines()
    assert oomed.journal_tail[-1] == "oomed.service: Failed with result 'signal'."  # newest last
    looping = s["looping.service"]
    assert (looping.state, looping.exit_status) == ("activating", 1)
    assert (looping.restarts_10m, looping.restarts_1h) == (2, 2)  # from the journal's restart records
    assert "ImportError: cannot import name foo" in looping.journal_tail
    healthy = s["healthy.service"]
    assert (healthy.state, healthy.exit_status, healthy.journal_tail) == ("active", None, [])
    assert s["crashy.service"].exit_status == 3
    assert s["nope.service"].error == "no such unit"
    assert sum(1 for c in machine.calls if c[0] == "systemctl") == 1  # one call for every unit
    assert "healthy.service" not in machine.journal_tails()


def test_restart_counts_follow_the_counter_and_age_out() -> None:
    machine, clock = Machine(), Clock()
    c = ServiceCollector(machine, clock=clock, has_systemd=True)
    c.collect(UNITS)
    clock.t += timedelta(seconds=4)
    machine.show = "show-later.txt"  # NRestarts of looping.service went from 2 to 4
    looping = by_unit(c.collect(UNITS))["looping.service"]
    assert (looping.restarts_10m, looping.restarts_1h) == (4, 4)
    clock.t += timedelta(minutes=10, seconds=5)
    looping = by_unit(c.collect(UNITS))["looping.service"]
    assert (looping.restarts_10m, looping.restarts_1h) == (0, 4)
    clock.t += timedelta(hours=1)
    looping = by_unit(c.collect(UNITS))["looping.service"]
    assert (looping.restarts_10m, looping.restarts_1h) == (0, 0)


def test_journal_tail_is_read_again_only_when_the_unit_changes() -> None:
    machine, clock = Machine(), Clock()
    c = ServiceCollector(machine, clock=clock, has_systemd=True)
    c.collect(UNITS)
    c.collect(UNITS)
    assert machine.journal_tails().count("oomed.service") == 1  # still the same failure
    assert machine.journal_tails().count("looping.service") == 1
    machine.show = "show-later.txt"
    assert by_unit(c.collect(UNITS))["oomed.service"].journal_tail != []  # kept from before
    assert machine.journal_tails().count("looping.service") == 2  # it restarted since


def test_a_counter_reset_counts_what_came_after_it() -> None:
    clock = Clock()
    show = {"Id": "x.service", "LoadState": "loaded", "ActiveState": "active", "NRestarts": "5"}

    def run(argv: Sequence[str], timeout: float = 60.0, *, env: Mapping[str, str] | None = None) -> Result:
        out = "\n".join(f"{k}={v}" for k, v in show.items()) if argv[0] == "systemctl" else ""
        return Result(tuple(argv), 0, out, "")

    c = ServiceCollector(run, clock=clock, has_systemd=True)
    assert c.collect(["x.service"])[0].restarts_10m == 0  # five restarts, all before we looked
    show["NRestarts"] = "1"  # an admin started it by hand: the counter began again
    clock.t += timedelta(seconds=30)
    assert c.collect(["x.service"])[0].restarts_10m == 1


def test_systemctl_that_fails_marks_every_unit_and_retries_one_by_one() -> None:
    machine = Machine()
    machine.fail_show = "Failed to connect to bus: No such file or directory"
    got = ServiceCollector(machine, clock=Clock(), has_systemd=True).collect(UNITS[:2])
    assert all(s.error and "Failed to connect to bus" in s.error for s in got)
    assert sum(1 for c in machine.calls if c[0] == "systemctl") == 3  # all at once, then each alone


def test_missing_systemctl_is_an_error_per_unit_not_a_crash() -> None:
    def run(argv: Sequence[str], timeout: float = 60.0, *, env: Mapping[str, str] | None = None) -> Result:
        raise ExecutorError(f"{argv[0]}: program not found")

    got = ServiceCollector(run, has_systemd=True).collect(["a.service"])
    assert got[0].error == "systemctl show: systemctl: program not found"


def test_without_systemd_supervised_services_report_the_same() -> None:
    own = Service(unit="vllm", state="failed", exit_status=137, restarts_10m=1, journal_tail=["Killed"])
    machine = Machine()
    got = ServiceCollector(machine, supervised=lambda: [own], has_systemd=False).collect(
        ["vllm", "nginx.service"]
    )
    assert got[0] == own
    assert (
        got[1].unit == "nginx.service"
        and got[1].error is not None
        and "systemd is not running" in got[1].error
    )
    assert machine.calls == []


def test_exit_status_as_a_shell_reports_it() -> None:
    assert exit_status({"ExecMainCode": "1", "ExecMainStatus": "3"}) == 3
    assert exit_status({"ExecMainCode": "2", "ExecMainStatus": "9"}) == 137  # killed by SIGKILL
    assert exit_status({"ExecMainCode": "3", "ExecMainStatus": "6"}) == 134  # dumped core on SIGABRT
    assert exit_status({"ExecMainCode": "0", "ExecMainStatus": "0"}) is None  # still running
    assert exit_status({}) is None


def test_real_systemd(container: tuple[tuple[str, ...], Path]) -> None:
    systemctl, units = container
    journalctl = (*systemctl[:-1], "journalctl")
    (units / "flaky.service").write_text(
        "[Unit]\nStartLimitIntervalSec=0\n[Service]\nRestart=always\nRestartSec=300ms\n"
        "ExecStart=/bin/sh -c 'echo bind: address already in use; exit 98'\n"
    )
    (units / "steady.service").write_text("[Service]\nExecStart=/bin/sleep 1000\n")
    runner.run([*systemctl, "daemon-reload"])
    runner.run([*systemctl, "start", "steady.service"])
    c = ServiceCollector(runner.run, systemctl=systemctl, journalctl=journalctl, has_systemd=True)
    runner.run([*systemctl, "start", "flaky.service"])
    deadline = time.monotonic() + 15
    while True:  # the shell runs for a moment after each restart: read it between two runs
        got = by_unit(c.collect(["flaky.service", "steady.service", "ghost.service"]))
        if got["flaky.service"].restarts_10m >= 3 and got["flaky.service"].state != "active":
            break
        assert time.monotonic() < deadline, got
        time.sleep(0.1)
    flaky = got["flaky.service"]
    assert flaky.state in ("activating", "failed") and flaky.exit_status == 98
    assert "bind: address already in use" in flaky.journal_tail
    assert (got["steady.service"].state, got["steady.service"].exit_status) == ("active", None)
    assert got["ghost.service"].error == "no such unit"
    runner.run([*systemctl, "stop", "flaky.service", "steady.service"])
    # A second collector meets the unit fresh and learns its restarts from the journal.
    again = ServiceCollector(runner.run, systemctl=systemctl, journalctl=journalctl, has_systemd=True)
    assert again.collect(["flaky.service"])[0].restarts_1h >= 3
