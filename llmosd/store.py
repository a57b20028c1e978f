"""The daemon's own database: samples, events, snapshots, decisions.

Kept bounded by `retention`: raw samples for a day, then one row per GPU per
minute for a week, then one per ten minutes for 90 days, then nothing. The
schema moves forward by numbered migrations, so an old file is upgraded in place.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database, Migrations

from llmosd.config import Retention
from llmosd.contract import Decision, Host, Snapshot
from llmosd.contract import Gpu as GpuModel
from llmosd.errors import LlmosdError

MIGRATIONS = Migrations("llmosd.store")
RAW, MINUTE, TENMIN = 0, 60, 600  # the `res` column: seconds one row stands for (0 = one reading)


class StoreError(LlmosdError):
    """The daemon's database cannot be opened or written."""


@MIGRATIONS()
def m001_tables(db: Database) -> None:
    db.execute(
        "CREATE TABLE samples (ts REAL NOT NULL, res INTEGER NOT NULL, gpu INTEGER NOT NULL,"
        " util REAL, mem_mib REAL, temp_c REAL, power_w REAL)"
    )
    db.execute("CREATE INDEX samples_res_ts ON samples(res, ts)")
    db.execute("CREATE TABLE host_samples (ts REAL NOT NULL, res INTEGER NOT NULL, cpu REAL, mem REAL)")
    db.execute("CREATE INDEX host_samples_res_ts ON host_samples(res, ts)")
    db.execute(
        "CREATE TABLE events (ts REAL NOT NULL, kind TEXT NOT NULL,  target TEXT NOT NULL, detail TEXT)"
    )
    db.execute("CREATE INDEX events_ts ON events(ts)")
    db.execute("CREATE TABLE snapshots (ts REAL NOT NULL, id TEXT NOT NULL, json TEXT NOT NULL)")
    db.execute("CREATE INDEX snapshots_ts ON snapshots(ts)")
    db.execute("CREATE TABLE decisions (ts REAL NOT NULL, scenario TEXT NOT NULL, json TEXT NOT NULL)")
    db.execute("CREATE INDEX decisions_ts ON decisions(ts)")


@dataclass(frozen=True)
class Pruned:
    to_minute: int  # raw rows folded into minute rows
    to_tenmin: int  # minute rows folded into ten-minute rows
    deleted: int  # rows past every horizon


def _ts(t: datetime) -> float:
    return t.timestamp()


class Store:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = Database(self.path)
            self.db.execute("PRAGMA busy_timeout = 10000")
            with self.db.ensure_autocommit_on():
                self.db.execute("PRAGMA journal_mode = wal")
            # A sample lost on power loss does not matter; the audit log (its own file) syncs fully.
            self.db.execute("PRAGMA synchronous = normal")
            MIGRATIONS.apply(self.db)
        except sqlite3.Error as e:
            raise StoreError(f"{self.path}: cannot open the daemon database: {e}") from None

    def close(self) -> None:
        self.db.close()

    def schema_version(self) -> int:
        return len(MIGRATIONS.applied(self.db))

    # ------------------------------------------------------------ writing

    def sample(self, at: datetime, host: Host, gpus: Iterable[GpuModel]) -> None:
        ts = _ts(at)
        rows = [(ts, RAW, g.index, g.util_percent, g.mem_used_mib, g.temp_c, g.power_w) for g in gpus]
        self.insert_samples([(ts, RAW, host.cpu_percent, host.mem_percent)], rows)

    def insert_samples(self, host_rows: list[tuple[Any, ...]], gpu_rows: list[tuple[Any, ...]]) -> None:
        """Rows as stored: host (ts, res, cpu, mem); GPU (ts, res, gpu, util, mem_mib, temp_c, power_w)."""
        with self.db.atomic():
            self.db.conn.executemany("INSERT INTO host_samples VALUES (?, ?, ?, ?)", host_rows)
            self.db.conn.executemany("INSERT INTO samples VALUES (?, ?, ?, ?, ?, ?, ?)", gpu_rows)

    def event(self, at: datetime, kind: str, target: str, detail: str = "") -> None:
        with self.db.atomic():
            self.db.execute("INSERT INTO events VALUES (?, ?, ?, ?)", [_ts(at), kind, target, detail])

    def snapshot(self, snap: Snapshot) -> None:
        body = snap.model_dump_json(by_alias=True, exclude_none=True)
        with self.db.atomic():
            self.db.execute("INSERT INTO snapshots VALUES (?, ?, ?)", [_ts(snap.now), snap.id, body])

    def decision(self, at: datetime, decision: Decision) -> None:
        with self.db.atomic():
            self.db.execute(
                "INSERT INTO decisions VALUES (?, ?, ?)",
                [_ts(at), decision.scenario, json.dumps(decision.wire())],
            )

    # ------------------------------------------------------------ reading

    def decisions(self, since: datetime | None = None) -> list[tuple[float, dict[str, Any]]]:
        since_ts = _ts(since) if since else 0.0
        cur = self.db.execute("SELECT ts, json FROM decisions WHERE ts >= ? ORDER BY ts", [since_ts])
        return [(ts, json.loads(body)) for ts, body in cur.fetchall()]

    def events(self) -> list[tuple[float, str, str, str]]:
        return list(self.db.execute("SELECT ts, kind, target, detail FROM events ORDER BY ts").fetchall())

    def count(self, table: str, res: int | None = None) -> int:
        assert table in ("samples", "host_samples", "events", "snapshots", "decisions")
        where, args = ("WHERE res = ?", [res]) if res is not None else ("", [])
        return int(self.db.execute(f"SELECT count(*) FROM {table} {where}", args).fetchone()[0])

    def size_bytes(self) -> int:
        """The database file plus its write-ahead log."""
        wal = self.path.with_name(self.path.name + "-wal")
        return self.path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)

    # ------------------------------------------------------------ retention

    def _fold(self, table: str, cols: list[str], src: int, dst: int, before: float) -> int:
        # `before` sits on a `dst` boundary, so no bucket is folded twice across runs.
        avg = ", ".join(f"avg({c})" for c in cols)
        key = "gpu, " if table == "samples" else ""
        sel = f"SELECT count(*) FROM {table} WHERE res = ? AND ts < ?"
        n = int(self.db.execute(sel, [src, before]).fetchone()[0])
        if n:
            self.db.execute(
                f"INSERT INTO {table} (ts, res, {key}{', '.join(cols)}) "
                f"SELECT CAST(ts / {dst} AS INTEGER) * {dst}, {dst}, {key}{avg} FROM {table} "
                f"WHERE res = ? AND ts < ? GROUP BY CAST(ts / {dst} AS INTEGER), {key.rstrip(', ') or 'res'}",
                [src, before],
            )
            self.db.execute(f"DELETE FROM {table} WHERE res = ? AND ts < ?", [src, before])
        return n

    def retention(self, now: datetime, keep: Retention) -> Pruned:
        t = _ts(now)
        raw_cut = (t - keep.raw_hours * 3600) // MINUTE * MINUTE
        min_cut = (t - keep.minute_days * 86400) // TENMIN * TENMIN
        end = t - keep.tenmin_days * 86400
        tables = {"samples": ["util", "mem_mib", "temp_c", "power_w"], "host_samples": ["cpu", "mem"]}
        folded_min = folded_ten = deleted = 0
        with self.db.atomic():
            for table, cols in tables.items():
                folded_min += self._fold(table, cols, RAW, MINUTE, raw_cut)
                folded_ten += self._fold(table, cols, MINUTE, TENMIN, min_cut)
                deleted += self.db.execute(f"DELETE FROM {table} WHERE ts < ?", [end]).rowcount
            # Snapshots are large and only explain recent decisions; decisions and events keep 90 days.
            snap_cut = t - keep.minute_days * 86400
            deleted += self.db.execute("DELETE FROM snapshots WHERE ts < ?", [snap_cut]).rowcount
            for table in ("events", "decisions"):
                deleted += self.db.execute(f"DELETE FROM {table} WHERE ts < ?", [end]).rowcount
        return Pruned(folded_min, folded_ten, deleted)

    def vacuum(self) -> None:
        """Give freed pages back to the file system (retention alone only reuses them)."""
        self.db.execute("VACUUM")
