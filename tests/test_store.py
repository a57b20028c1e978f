"""The daemon database on a real SQLite file: migrations, writes, retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from llmosd.config import Retention
from llmosd.contract import Decision, Gpu, Host
from llmosd.store import MINUTE, RAW, TENMIN, Store

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def fill(store: Store, start: datetime, hours: float, every_s: float, gpus: int = 2) -> None:
    t = start
    end = start + timedelta(hours=hours)
    while t < end:
        store.sample(t, Host(hostname="h", cpu_percent=10, mem_percent=20),
                     [Gpu(index=i, util_percent=50.0 + i, temp_c=60) for i in range(gpus)])  # fmt: skip
        t += timedelta(seconds=every_s)


def test_reopen_keeps_schema_and_rows(tmp_path: Path) -> None:
    s = Store(tmp_path / "d.db")
    fill(s, NOW, 0.01, 2)
    n = s.count("samples")
    v = s.schema_version()
    s.close()
    s2 = Store(tmp_path / "d.db")
    assert s2.schema_version() == v >= 1
    assert s2.count("samples") == n > 0
    assert s2.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_retention_downsamples_by_age(tmp_path: Path) -> None:
    s = Store(tmp_path / "d.db")
    fill(s, NOW - timedelta(hours=30), 30, 30)  # 30 h of 30 s samples, 2 GPUs
    p = s.retention(NOW, Retention())
    # The last 24 h stay raw; the 6 hours before are one row per minute per GPU, averaged.
    raw = s.count("samples", RAW)
    minute = s.count("samples", MINUTE)
    assert 24 * 120 * 2 - 4 <= raw <= 24 * 120 * 2 + 4
    assert 6 * 60 * 2 - 4 <= minute <= 6 * 60 * 2 + 4
    # Two raw rows per minute, for each GPU and for the host.
    assert p.to_minute == 2 * (minute + s.count("host_samples", MINUTE))
    avg = s.db.execute("SELECT avg(util) FROM samples WHERE res = ? AND gpu = 1", [MINUTE]).fetchone()[0]
    assert avg == 51.0
    # Running it again folds nothing twice.
    again = s.retention(NOW, Retention())
    assert again.to_minute <= 4 and s.count("samples", MINUTE) <= minute + 2


def test_retention_bounds_a_long_history(tmp_path: Path) -> None:
    s = Store(tmp_path / "d.db")
    keep = Retention(raw_hours=1, minute_days=1, tenmin_days=2)
    fill(s, NOW - timedelta(days=3), 72, 300, gpus=1)  # 5-minute samples over 3 days
    for at, name in ((NOW - timedelta(days=3), "old"), (NOW, "new")):
        s.decision(at, Decision(scenario=name, engine="rules", actions=[], rationale="", latency_ms=1))
    s.retention(NOW, keep)
    oldest = s.db.execute("SELECT min(ts) FROM samples").fetchone()[0]
    assert oldest >= (NOW - timedelta(days=2)).timestamp()
    tenmin = s.count("samples", TENMIN)
    assert 0 < tenmin <= 24 * 6 + 1  # day two back, at most one row per ten minutes
    assert [d["scenario"] for _, d in s.decisions()] == ["new"]
