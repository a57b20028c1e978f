"""Audit log speed: appends per second with an fsync per intent, and verify time for 1 M records.

    python bench/bench_audit.py [--seconds 3] [--records 1000000] [--dir /var/tmp]

Appends: `AuditLog.intent` one after another, each its own committed
transaction, for `--seconds` in each storage mode: WAL + synchronous=FULL
(the default: every commit fsyncs the WAL), rollback journal + FULL (several
fsyncs per commit), and WAL + NORMAL (no fsync per commit; shown only as the
price of durability). The baseline, measured in the same run and mode, is a
bare sqlite3 INSERT + COMMIT of the same row without the hash chain.

Verify: the million records are GENERATED FAST, in one transaction with
synchronous=OFF and the chain hashes computed here with audit.link_hash (not
through AuditLog, which would fsync each one); then `AuditLog.verify` walks
them. Its baseline is a plain full-table read of the same rows.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from llmosd.audit import COLUMNS, GENESIS, AuditLog, Context, link_hash, stamp, utcnow
from llmosd.contract import Judged, make_action

JUDGED = Judged(
    action=make_action("service.restart", "vllm.service"), verdict="allow", reasons=["within rate limit 0/3"]
)
CTX = Context("llm", snapshot_hash="ab" * 32, model="qwen2.5-0.5b", prompt_hash="cd" * 32,
              rationale="vllm was OOM-killed once; a restart is the usual fix.")  # fmt: skip


def appends(path: Path, seconds: float, journal: str, sync: str) -> float:
    log = AuditLog(path, journal_mode=journal, sync=sync)  # type: ignore[arg-type]
    n, t0 = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - t0) < seconds:
        log.intent(JUDGED, CTX)
        n += 1
    assert log.verify().ok
    log.close()
    return n / elapsed


def bare_inserts(path: Path, seconds: float, journal: str, sync: str) -> float:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute(f"PRAGMA journal_mode = {journal}")
    db.execute(f"PRAGMA synchronous = {sync}")
    db.execute(f"CREATE TABLE t ({', '.join(COLUMNS)}, hash)")
    row = _row(1, GENESIS)
    n, t0 = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - t0) < seconds:
        db.execute("BEGIN IMMEDIATE")
        db.execute(f"INSERT INTO t VALUES ({', '.join('?' * (len(COLUMNS) + 1))})", row)
        db.execute("COMMIT")
        n += 1
    db.close()
    return n / elapsed


ACTION_JSON = json.dumps(JUDGED.action.wire(), sort_keys=True)
REASONS_JSON = json.dumps(JUDGED.reasons)


def _row(seq: int, prev: str, at: str | None = None) -> tuple[object, ...]:
    rec = ("decision", "intent", "outcome")[seq % 3]
    done = rec == "outcome"
    values = (
        seq, at or stamp(utcnow()), rec, "llm", CTX.snapshot_hash, CTX.model, CTX.prompt_hash,
        "service.restart", "vllm.service", ACTION_JSON, "allow", REASONS_JSON, CTX.rationale,
        "ok" if done else None, "", 12.5 if done else None, seq - 1 if done else None, prev,
    )  # fmt: skip
    return (*values, link_hash(values))


def generate(path: Path, n: int) -> float:
    AuditLog(path, sync="off").close()  # the schema, migrations and triggers
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous = OFF")
    t0, prev = time.perf_counter(), GENESIS

    def rows() -> Iterator[tuple[object, ...]]:
        nonlocal prev
        at = stamp(utcnow())
        for seq in range(1, n + 1):
            row = _row(seq, prev, at)
            prev = str(row[-1])
            yield row

    db.execute("BEGIN")
    db.executemany(f"INSERT INTO audit ({', '.join(COLUMNS)}, hash) VALUES ({', '.join('?' * 19)})", rows())
    db.execute("COMMIT")
    db.close()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--dir", default=None, help="where the test databases go (a real disk, not tmpfs)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as d:
        tmp = Path(d)
        print(f"disk: {os.statvfs(tmp).f_bsize}-byte blocks under {tmp}")
        print("appends (one committed intent each):")
        for journal, sync in (("wal", "full"), ("delete", "full"), ("wal", "normal")):
            tag = f"{journal}+{sync}"
            ours = appends(tmp / f"a-{tag}.db", args.seconds, journal, sync)
            bare = bare_inserts(tmp / f"b-{tag}.db", args.seconds, journal, sync)
            print(f"  {tag:<12} {ours:9.0f}/s   bare sqlite insert {bare:9.0f}/s   ratio {ours / bare:5.2f}")

        path = tmp / "million.db"
        gen = generate(path, args.records)
        print(f"verify: {args.records} records generated in {gen:.1f} s (one transaction, synchronous=OFF)")
        log = AuditLog(path, create=False)
        t0 = time.perf_counter()
        result = log.verify()
        took = time.perf_counter() - t0
        assert result.ok and result.count == args.records, result
        t0 = time.perf_counter()
        scanned = sum(1 for _ in log.db.execute("SELECT * FROM audit"))
        scan = time.perf_counter() - t0
        log.close()
        size = path.stat().st_size / 2**20
        print(f"  verify {took:.2f} s ({result.count / took:,.0f} records/s), file {size:.0f} MiB")
        print(
            f"  baseline full-table read of {scanned} rows {scan:.2f} s; verify/read ratio {took / scan:.1f}"
        )


if __name__ == "__main__":
    main()
