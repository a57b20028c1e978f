"""Xid reports from the kernel log, read apart from NVML so they are seen even when NVML hangs.

The driver writes lines such as
`NVRM: Xid (PCI:0000:3b:00): 79, pid=1234, GPU has fallen off the bus.`
`/dev/kmsg` is read without blocking, from where the last read stopped; where
it cannot be opened, `journalctl -k` is asked now and then instead.
"""

from __future__ import annotations

import errno
import json
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from llmosd.errors import CollectorError, ExecutorError
from llmosd.executors import runner
from llmosd.executors.runner import Run
from llmosd.telemetry.nvml import normal_pci

_HEX = "[0-9a-fA-F]"
_XID = re.compile(
    rf"NVRM: Xid \((?:PCI:)?({_HEX}{{1,8}}:{_HEX}{{1,2}}:{_HEX}{{1,2}})(?:\.{_HEX})?\): (\d{{1,4}})\b"
)
_CHUNK = 16384  # larger than any kmsg record, so one read() gets one whole record


@dataclass(frozen=True)
class XidLine:
    pci: str  # normalised as nvml.normal_pci does: "0000:3b:00"
    xid: int
    at: datetime


class XidSource(Protocol):
    def poll(self) -> list[XidLine]: ...


def parse_xid(message: str) -> tuple[str, int] | None:
    """(PCI bus id, Xid) of an NVRM Xid message, else None."""
    m = _XID.search(message)
    return (normal_pci(m.group(1)), int(m.group(2))) if m else None


def parse_record(record: str, boot_time: float) -> XidLine | None:
    """One /dev/kmsg record `prio,seq,usec,flags;message`; only the kernel's own (facility 0) count.

    Root can write to /dev/kmsg from user space; such records carry a user
    facility, so a forged Xid line written that way is not believed.
    """
    head, sep, message = record.partition(";")
    fields = head.split(",")
    if not sep or len(fields) < 3 or not fields[0].isdigit() or not fields[2].isdigit():
        return None
    if int(fields[0]) >> 3 != 0:
        return None
    hit = parse_xid(message)
    if hit is None:
        return None
    at = datetime.fromtimestamp(boot_time + int(fields[2]) / 1e6, UTC)
    return XidLine(hit[0], hit[1], at)


class KmsgReader:
    """/dev/kmsg (or a file of records in its format), read without blocking from the last position."""

    def __init__(self, path: str = "/dev/kmsg", boot_time: float | None = None):
        self.path = path
        # kmsg stamps are microseconds of the monotonic clock since boot.
        self.boot_time = time.time() - time.monotonic() if boot_time is None else boot_time
        self._fd: int | None = None
        self._rest = b""

    def open(self) -> None:
        """Open now, so a reader that cannot work is found out at once (OSError)."""
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)

    def poll(self) -> list[XidLine]:
        try:
            self.open()
        except OSError as e:
            raise CollectorError(f"{self.path}: {e.strerror or e}") from None
        assert self._fd is not None
        out: list[XidLine] = []
        while True:
            try:
                chunk = os.read(self._fd, _CHUNK)
            except BlockingIOError:
                break
            except OSError as e:
                if e.errno == errno.EPIPE:  # records were overwritten before we read them: go on
                    continue
                raise CollectorError(f"{self.path}: {e.strerror or e}") from None
            if not chunk:
                break
            lines = (self._rest + chunk).split(b"\n")
            self._rest = lines.pop()
            for line in lines:
                if line and not line.startswith(b" "):  # indented lines are a record's key=value extras
                    hit = parse_record(line.decode("utf-8", "replace"), self.boot_time)
                    if hit is not None:
                        out.append(hit)
        return out

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class JournalReader:
    """`journalctl -k` as JSON, at most every `every` seconds, continuing after the last cursor."""

    def __init__(
        self, run: Run = runner.run, *, clock: Callable[[], float] = time.monotonic, every: float = 30.0,
        since: timedelta = timedelta(hours=1), journalctl: Sequence[str] = ("journalctl",),
    ):  # fmt: skip
        self.run, self.clock, self.every, self.since = run, clock, every, since
        self.journalctl = tuple(journalctl)
        self._cursor: str | None = None
        self._next = float("-inf")

    def poll(self) -> list[XidLine]:
        now = self.clock()
        if now < self._next:
            return []
        self._next = now + self.every
        where = (
            [f"--after-cursor={self._cursor}"]
            if self._cursor
            else [f"--since=-{int(self.since.total_seconds())}s"]
        )
        argv = [*self.journalctl, "-k", "-o", "json", "--no-pager", "-q", *where]
        try:
            r = self.run(argv, timeout=20)
        except ExecutorError as e:
            raise CollectorError(f"kernel log: {e}") from None
        if not r.ok:
            raise CollectorError(f"kernel log: {r.why()}")
        out = []
        for line in r.stdout.splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if not isinstance(entry, dict):
                continue
            self._cursor = entry.get("__CURSOR") or self._cursor
            if str(entry.get("SYSLOG_FACILITY", "0")) != "0":  # written from user space: not the driver
                continue
            hit = parse_xid(_text(entry.get("MESSAGE")))
            stamp = str(entry.get("__REALTIME_TIMESTAMP", ""))
            if hit and stamp.isdigit():
                out.append(XidLine(hit[0], hit[1], datetime.fromtimestamp(int(stamp) / 1e6, UTC)))
        return out


def _text(message: object) -> str:
    # journald gives a message that is not valid UTF-8 as a list of byte values.
    if isinstance(message, list):
        return bytes(b for b in message if isinstance(b, int) and 0 <= b < 256).decode("utf-8", "replace")
    return message if isinstance(message, str) else ""


def open_kernel_log(run: Run = runner.run, path: str = "/dev/kmsg") -> KmsgReader | JournalReader:
    """/dev/kmsg where it can be opened, else `journalctl -k`."""
    reader = KmsgReader(path)
    try:
        reader.open()
    except OSError:
        return JournalReader(run)
    return reader
