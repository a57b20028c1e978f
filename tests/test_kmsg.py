"""Xid lines from the kernel log: the parser, /dev/kmsg reading, the journalctl fallback."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmosd.errors import CollectorError, ExecutorError
from llmosd.executors import runner
from llmosd.executors.runner import Result
from llmosd.telemetry.kmsg import (
    JournalReader,
    KmsgReader,
    XidLine,
    open_kernel_log,
    parse_record,
    parse_xid,
)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("NVRM: Xid (PCI:0000:3b:00): 79, pid=1234, GPU has fallen off the bus.", ("0000:3b:00", 79)),
        ("NVRM: Xid (PCI:0000:AF:00): 48, pid=77, name=python, Ch 00000010, DBE", ("0000:af:00", 48)),
        ("NVRM: Xid (PCI:0001:05:00.0): 119, pid='<unknown>', Timeout waiting for RPC", ("0001:05:00", 119)),
        ("NVRM: Xid (0000:03:00): 13, Graphics SM Warp Exception", ("0000:03:00", 13)),  # older drivers
        ("NVRM: GPU at PCI:0000:3b:00: GPU-5f1e...", None),
        ("NVRM: Xid (PCI:0000:3b:00): , pid=1", None),
        ("usb 1-1: new high-speed USB device", None),
    ],
)
def test_parse_xid(message: str, expected: tuple[str, int] | None) -> None:
    assert parse_xid(message) == expected


@given(st.text())
def test_parse_xid_never_fails_and_needs_the_driver_prefix(text: str) -> None:
    hit = parse_xid(text)
    assert hit is None or "NVRM: Xid" in text


def test_parse_record_stamps_and_facility() -> None:
    boot = datetime(2026, 11, 20, 12, 0, tzinfo=UTC).timestamp()
    line = "4,5123,3600250000,-;NVRM: Xid (PCI:0000:3b:00): 79, pid=9, GPU has fallen off the bus."
    assert parse_record(line, boot) == XidLine(
        "0000:3b:00", 79, datetime(2026, 11, 20, 13, 0, 0, 250000, UTC)
    )
    assert parse_record("4,5123,3600250000,c,caller=T12;" + line.split(";", 1)[1], boot) is not None
    # Facility 1 (user) means it was written into /dev/kmsg by a program, not by the driver.
    assert parse_record("12" + line[1:], boot) is None
    assert parse_record("garbage without a header", boot) is None
    assert parse_record("4,x,y,-;NVRM: Xid (PCI:0000:3b:00): 79, x", boot) is None


def test_reader_continues_from_where_it_stopped(tmp_path: Path) -> None:
    log = tmp_path / "kmsg"
    log.write_text(
        "6,1,1000000,-;nvidia: loading out-of-tree module\n"
        "4,2,2000000,-;NVRM: Xid (PCI:0000:18:00): 31, pid=4, MMU Fault\n"
        " SUBSYSTEM=pci\n"
        " DEVICE=+pci:0000:18:00.0\n"
    )
    reader = KmsgReader(str(log), boot_time=0.0)
    assert [(x.pci, x.xid, x.at.timestamp()) for x in reader.poll()] == [("0000:18:00", 31, 2.0)]
    assert reader.poll() == []  # nothing new, nothing repeated
    with log.open("a") as f:
        f.write("4,3,3000000,-;NVRM: Xid (PCI:0000:19:00): 7")  # half a record so far
        f.flush()
        assert reader.poll() == []
        f.write("9, pid=5, GPU has fallen off the bus.\n")
    assert [(x.pci, x.xid) for x in reader.poll()] == [("0000:19:00", 79)]
    reader.close()


def test_real_dev_kmsg_is_read_without_blocking() -> None:
    reader = KmsgReader()
    try:
        reader.open()
    except OSError as e:
        pytest.skip(f"/dev/kmsg cannot be opened here: {e}")
    start = time.monotonic()
    first = reader.poll()  # the whole ring buffer
    again = reader.poll()  # only what arrived since
    assert time.monotonic() - start < 2.0
    now = datetime.now(UTC)
    assert all(x.at <= now + timedelta(seconds=1) for x in first + again)
    reader.close()


def test_open_kernel_log_prefers_kmsg_and_falls_back_to_the_journal(tmp_path: Path) -> None:
    log = tmp_path / "kmsg"
    log.write_text("")
    assert isinstance(open_kernel_log(path=str(log)), KmsgReader)
    assert isinstance(open_kernel_log(path=str(tmp_path / "missing")), JournalReader)


# Entries in the shape `journalctl -k -o json` prints them (one JSON object a line).
def entry(cursor: int, seconds: float, message: object, facility: str = "0") -> str:
    return json.dumps({
        "__CURSOR": f"s=7f3e;i={cursor:x};b=ab12;m=1;t=5f0;x=9c",
        "__REALTIME_TIMESTAMP": str(int(seconds * 1e6)),
        "__MONOTONIC_TIMESTAMP": "12345678", "_BOOT_ID": "ab12", "_TRANSPORT": "kernel", "PRIORITY": "4",
        "SYSLOG_FACILITY": facility, "SYSLOG_IDENTIFIER": "kernel", "_HOSTNAME": "gpu-07", "MESSAGE": message,
    })  # fmt: skip


class Replay:
    """A `run=` stand-in: answers each call with the next recorded output and keeps the argv."""

    def __init__(self, *outputs: Result | Exception):
        self.outputs, self.calls = list(outputs), []  # type: ignore[var-annotated]

    def __call__(
        self, argv: Sequence[str], timeout: float = 60.0, *, env: Mapping[str, str] | None = None
    ) -> Result:
        self.calls.append(list(argv))
        out = self.outputs.pop(0)
        if isinstance(out, Exception):
            raise out
        return out


def test_journal_reader_asks_for_the_last_hour_then_continues_after_its_cursor() -> None:
    t0 = 1_795_000_000.0
    first = "\n".join([
        entry(1, t0, "NVRM: loading NVIDIA UNIX x86_64 Kernel Module  550.90.07"),
        entry(2, t0 + 5, "NVRM: Xid (PCI:0000:3b:00): 79, pid=1, GPU has fallen off the bus."),
        entry(3, t0 + 6, list(b"NVRM: Xid (PCI:0000:3c:00): 48, pid=2, DBE \xff")),  # not valid UTF-8
        entry(4, t0 + 7, "NVRM: Xid (PCI:0000:3d:00): 79, forged", facility="1"),
    ])  # fmt: skip
    second = entry(5, t0 + 60, "NVRM: Xid (PCI:0000:3b:00): 63, pid=3, row remap")
    run = Replay(Result(("journalctl",), 0, first + "\n", ""), Result(("journalctl",), 0, second + "\n", ""))
    clock = [100.0]
    reader = JournalReader(run, clock=lambda: clock[0], every=30.0)
    got = reader.poll()
    assert [(x.pci, x.xid, x.at.timestamp()) for x in got] == [
        ("0000:3b:00", 79, t0 + 5),
        ("0000:3c:00", 48, t0 + 6),
    ]
    assert run.calls[0] == ["journalctl", "-k", "-o", "json", "--no-pager", "-q", "--since=-3600s"]
    clock[0] += 10
    assert reader.poll() == [] and len(run.calls) == 1  # not asked again within `every`
    clock[0] += 30
    assert [x.xid for x in reader.poll()] == [63]
    assert run.calls[1][-1] == "--after-cursor=s=7f3e;i=4;b=ab12;m=1;t=5f0;x=9c"


def test_journal_reader_failures_are_collector_errors() -> None:
    reader = JournalReader(
        Replay(Result(("journalctl",), 1, "", "Failed to open journal: Permission denied"))
    )
    with pytest.raises(CollectorError, match="Permission denied"):
        reader.poll()
    reader = JournalReader(Replay(ExecutorError("journalctl: program not found")))
    with pytest.raises(CollectorError, match="not found"):
        reader.poll()


@pytest.mark.skipif(shutil.which("journalctl") is None, reason="journalctl is not installed")
def test_real_journalctl_accepts_the_arguments() -> None:
    # No journald runs here, so the journal is empty; the point is that the real
    # program accepts exactly what the reader sends, through the real runner.
    assert JournalReader(runner.run).poll() == []
