"""The only module that starts programs or sends signals.

Programs are argv lists run without a shell, always with a timeout. Signals
go through a pidfd, after the process's owner and start time are checked
again, so a PID that was reused since the snapshot is never hit.
"""

from __future__ import annotations

import contextlib
import os
import signal as _signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

import psutil

from llmosd.errors import ExecutorError


@dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    rc: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.rc == 0

    def why(self) -> str:
        """One line for an outcome record: the command, its status, and the end of what it said."""
        said = (self.stderr.strip() or self.stdout.strip()).splitlines()[-1:] or [""]
        return f"{' '.join(self.argv[:4])}: exit {self.rc}" + (f": {said[0][:300]}" if said[0] else "")


class Run(Protocol):
    def __call__(
        self, argv: Sequence[str], timeout: float = 60.0, *, env: Mapping[str, str] | None = None
    ) -> Result: ...


def run(argv: Sequence[str], timeout: float = 60.0, *, env: Mapping[str, str] | None = None) -> Result:
    """Run argv (no shell) to completion; a missing program or a timeout is an ExecutorError."""
    args = tuple(str(a) for a in argv)
    if not args:
        raise ExecutorError("empty command")
    try:
        p = subprocess.run(
            args, capture_output=True, text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL,
            env=None if env is None else {**os.environ, **env},
        )  # fmt: skip
    except FileNotFoundError:
        raise ExecutorError(f"{args[0]}: program not found") from None
    except subprocess.TimeoutExpired:
        raise ExecutorError(f"{' '.join(args[:4])}: no answer within {timeout:g} s") from None
    return Result(args, p.returncode, p.stdout, p.stderr)


class Child:
    """A long-running program we started (a supervised service), in its own process group."""

    def __init__(self, popen: subprocess.Popen[bytes]):
        self._p = popen
        self.pid = popen.pid

    def poll(self) -> int | None:
        """None while it runs; else the exit status, negative for a signal (as subprocess reports)."""
        return self._p.poll()

    def signal(self, sig: int) -> None:
        """Signal the whole process group, so helpers the service forked go too."""
        if self._p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, sig)

    def wait(self, timeout: float) -> int | None:
        try:
            return self._p.wait(timeout)
        except subprocess.TimeoutExpired:
            return None


class Adopted(Child):
    """A service started by an earlier run of the daemon (which was killed): watched, not waited for."""

    # What `poll` reports once an adopted process is gone: its real status went to its old parent.
    UNKNOWN_EXIT = 255

    def __init__(self, pid: int, created: float):  # no super().__init__: there is no Popen to wrap
        self.pid, self._created = pid, created

    def poll(self) -> int | None:
        try:
            p = psutil.Process(self.pid)
            if p.create_time() == self._created and p.status() != psutil.STATUS_ZOMBIE:
                return None
        except psutil.Error:
            pass
        return self.UNKNOWN_EXIT

    def signal(self, sig: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, sig)

    def wait(self, timeout: float) -> int | None:
        try:
            psutil.Process(self.pid).wait(timeout)
        except psutil.TimeoutExpired:
            return None
        except psutil.Error:
            pass
        return self.poll()


def adopt(pid: int, created: float) -> Child | None:
    """The process `pid` if it is still the one started at `created` (a pidfile's record), else None."""
    child = Adopted(pid, created)
    return child if child.poll() is None else None


def created_at(pid: int) -> float | None:
    """The start time of `pid` (what a pidfile records next to it), or None once it is gone."""
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


class Spawn(Protocol):
    def __call__(
        self, argv: Sequence[str], *, log: Path, env: Mapping[str, str] | None = None,
        user: str | None = None, cwd: str | None = None,
    ) -> Child: ...  # fmt: skip


def spawn(
    argv: Sequence[str], *, log: Path, env: Mapping[str, str] | None = None,
    user: str | None = None, cwd: str | None = None,
) -> Child:  # fmt: skip
    """Start argv detached from our terminal and session; its output is appended to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        try:
            p = subprocess.Popen(
                [str(a) for a in argv], stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})}, cwd=cwd, user=user, start_new_session=True,
            )  # fmt: skip
        except (OSError, subprocess.SubprocessError) as e:
            raise ExecutorError(f"cannot start {argv[0]}: {e}") from None
    return Child(p)


class SendSignal(Protocol):
    def __call__(
        self, pid: int, sig: int, *, user: str | None = None, started_before: datetime | None = None
    ) -> None: ...


def send_signal(
    pid: int, sig: int, *, user: str | None = None, started_before: datetime | None = None
) -> None:
    """Signal `pid` if it still belongs to `user` and was started before `started_before`.

    The pidfd pins the process: if it exits and its PID is reused after the
    checks, the signal fails instead of reaching the newcomer.
    """
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        raise ExecutorError(f"pid {pid} is gone") from None
    try:
        try:
            p = psutil.Process(pid)
            owner, created = p.username(), p.create_time()
        except psutil.Error as e:
            raise ExecutorError(f"pid {pid}: cannot read owner and start time: {e}") from None
        if user is not None and owner != user:
            raise ExecutorError(f"pid {pid} now belongs to {owner}, not {user}: PID reused, not signalled")
        if started_before is not None and created > started_before.timestamp():
            raise ExecutorError(f"pid {pid} started after the snapshot: PID reused, not signalled")
        try:
            _signal.pidfd_send_signal(fd, sig)
        except ProcessLookupError:
            raise ExecutorError(f"pid {pid} exited before the signal") from None
    finally:
        os.close(fd)


def process_alive(pid: int, started_before: datetime | None = None) -> bool:
    """Whether `pid` still runs as the process we meant (zombies count as gone)."""
    try:
        p = psutil.Process(pid)
        if p.status() == psutil.STATUS_ZOMBIE:
            return False
        return started_before is None or p.create_time() <= started_before.timestamp()
    except psutil.Error:
        return False


def boot_time() -> float:
    return psutil.boot_time()
