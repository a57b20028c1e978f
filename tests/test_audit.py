"""The audit log: hash chain, tamper detection, intents and reconciliation, queries and export."""

from __future__ import annotations

import csv
import io
import json
import logging
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from llmosd.audit import COLUMNS, AuditLog, Context, Filters, link_hash
from llmosd.contract import Judged, make_action
from llmosd.errors import AuditError

T0 = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> datetime:
        self.t += timedelta(seconds=7)
        return self.t


def judged(kind: str, target: str, verdict: str = "allow", **params: Any) -> Judged:
    return Judged(action=make_action(kind, target, **params), verdict=verdict, reasons=[f"{kind} fine"])


def fill(log: AuditLog) -> None:
    """A realistic mix of records: decisions, intents, outcomes, a refusal, events."""
    llm = Context("llm", snapshot_hash="ab" * 32, model="qwen-0.5b", prompt_hash="cd" * 32, rationale="OOM")
    admin = Context("uid=1000(alice)", rationale="by hand")
    for i, (kind, target) in enumerate(
        [("service.restart", "vllm.service"), ("gpu.drain", "gpu:3"), ("process.kill", "pid:4411")]
    ):
        j = judged(kind, target)
        log.decision(j, llm)
        intent = log.intent(j, llm if i != 1 else admin)
        log.outcome(intent, "ok" if i != 2 else "failed", f"step {i}", 12.5 * (i + 1))
    log.decision(judged("host.reboot", "gpu-07", "approval"), llm)
    log.refused(judged("gpu.reset", "gpu:3"), llm, "escalation: reset used")
    log.event("supervisor.exit", "app.service", "rules", "killed by SIGKILL; restart in 1 s")


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("audit") / "base.db"
    log = AuditLog(path, clock=Clock(), journal_mode="delete", sync="off")
    fill(log)
    log.close()
    return path


def rows_of(path: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute(f"SELECT {', '.join(COLUMNS)}, hash FROM audit ORDER BY seq").fetchall()


def rewrite(path: Path, rows: list[tuple[object, ...]]) -> None:
    """What an attacker with the sqlite3 shell does: drop the guards, rewrite the table."""
    with sqlite3.connect(path) as db:
        db.execute("DROP TRIGGER audit_no_update")
        db.execute("DROP TRIGGER audit_no_delete")
        db.execute("DELETE FROM audit")
        db.executemany(f"INSERT INTO audit VALUES ({', '.join('?' * (len(COLUMNS) + 1))})", rows)


def verify(path: Path) -> tuple[bool, int | None]:
    log = AuditLog(path)
    r = log.verify()
    log.close()
    return r.ok, r.broken_at


# ---------------------------------------------------------------- mutations: rows -> (rows, first bad seq)

Rows = list[tuple[object, ...]]


def edit(rows: Rows, k: int, col: int) -> tuple[Rows, int]:
    row = list(rows[k - 1])
    v = row[col]
    row[col] = (v + 1) if isinstance(v, int | float) else ("x" if v in (None, "") else str(v)[:-1] + "#")
    return [*rows[: k - 1], tuple(row), *rows[k:]], k


def delete(rows: Rows, k: int) -> tuple[Rows, int]:
    return [*rows[: k - 1], *rows[k:]], k


def insert(rows: Rows, k: int, smart: bool) -> tuple[Rows, int]:
    """A forged row at position k, later rows renumbered. A smart forger gives it a valid link
    hash; then the break shows at the first renumbered real row."""
    donor = list(rows[(k * 7) % len(rows)])
    donor[0] = rows[k - 1][0] if k <= len(rows) else rows[-1][0] + 1  # type: ignore[operator]
    donor[COLUMNS.index("detail")] = "forged"
    if smart:
        donor[-2] = rows[k - 2][-1] if k > 1 else "0" * 64
        donor[-1] = link_hash(tuple(donor[:-1]))
    shifted = [(r[0] + 1, *r[1:]) for r in rows[k - 1 :]]  # type: ignore[operator]
    first_bad = k + 1 if smart and k <= len(rows) else k
    return [*rows[: k - 1], tuple(donor), *shifted], first_bad


def swap(rows: Rows, i: int, j: int) -> tuple[Rows, int]:
    """Reorder: the rows at places i and j change places (each takes the seq of its new place)."""
    out = list(rows)
    out[i - 1] = (rows[i - 1][0], *rows[j - 1][1:])
    out[j - 1] = (rows[j - 1][0], *rows[i - 1][1:])
    return out, min(i, j)


MUTATIONS: dict[str, Callable[..., tuple[Rows, int]]] = {"edit": edit, "delete": delete, "insert": insert}


def all_mutations(n: int) -> Iterator[tuple[str, Callable[[Rows], tuple[Rows, int]]]]:
    for k in range(1, n + 1):
        for col in range(1, len(COLUMNS) + 1):  # every column but seq, the stored hash included
            yield f"edit {k}.{(*COLUMNS, 'hash')[col]}", partial(edit, k=k, col=col)
        yield f"delete {k}", partial(delete, k=k)
        for smart in (False, True):
            yield f"insert {k} smart={smart}", partial(insert, k=k, smart=smart)
        for j in range(k + 1, n + 1):
            yield f"swap {k}<->{j}", partial(swap, i=k, j=j)
    yield f"insert {n + 1} (naive, at the end)", lambda r: insert(r, n + 1, False)


def test_untouched_log_verifies(base: Path) -> None:
    assert verify(base) == (True, None)
    assert len(rows_of(base)) == 12


def test_every_single_mutation_is_detected_at_its_first_broken_link(base: Path, tmp_path: Path) -> None:
    rows = rows_of(base)
    seen = 0
    for name, mutate in all_mutations(len(rows)):
        copy = tmp_path / f"m{seen}.db"
        shutil.copy(base, copy)
        changed, first_bad = mutate(rows)
        rewrite(copy, changed)
        assert verify(copy) == (False, first_bad), name
        seen += 1
    # Per row: 18 field edits, a delete, 2 inserts; then 66 swaps and 1 forged append.
    assert seen == 12 * (18 + 1 + 2) + 66 + 1


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_mutation_sequences_are_detected(base: Path, tmp_path: Path, data: st.DataObject) -> None:
    original = rows = rows_of(base)
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        n = len(rows)
        kind = data.draw(st.sampled_from(["edit", "delete", "insert", "swap"]))
        if kind == "edit":
            rows, _ = edit(rows, data.draw(st.integers(1, n)), data.draw(st.integers(1, len(COLUMNS))))
        elif kind == "delete":
            rows, _ = delete(rows, data.draw(st.integers(1, n)))
        elif kind == "insert":
            rows, _ = insert(rows, data.draw(st.integers(1, n)), data.draw(st.booleans()))
        else:
            i = data.draw(st.integers(1, n - 1))
            rows, _ = swap(rows, i, data.draw(st.integers(i + 1, n)))
    assume(rows != original)  # swapping the same pair twice puts everything back
    copy = Path(tempfile.mkdtemp(dir=tmp_path)) / "h.db"  # hypothesis reuses tmp_path across examples
    shutil.copy(base, copy)
    rewrite(copy, rows)
    ok, at = verify(copy)
    assert not ok and at is not None
    # Everything before the named break is untouched, or a forged row with a valid link hash
    # (which no keyless chain can tell from a real one): the break named is the first one.
    for row in rows[: at - 1]:
        assert row == original[row[0] - 1] or row[COLUMNS.index("detail")] == "forged"  # type: ignore[operator]


def test_the_table_refuses_update_and_delete(base: Path, tmp_path: Path) -> None:
    copy = tmp_path / "c.db"
    shutil.copy(base, copy)
    with sqlite3.connect(copy) as db:
        for sql in ("UPDATE audit SET detail = 'x' WHERE seq = 2", "DELETE FROM audit WHERE seq = 2"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                db.execute(sql)
    assert verify(copy) == (True, None)


def test_appending_after_a_truncation_is_refused(base: Path, tmp_path: Path) -> None:
    copy = tmp_path / "t.db"
    shutil.copy(base, copy)
    rewrite(copy, rows_of(base)[:-2])
    log = AuditLog(copy)
    with pytest.raises(AuditError, match="deleted"):
        log.event("x", "y", "rules", "z")
    log.close()


def test_dangling_intents_are_reconciled_once_and_never_rerun(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.db", clock=Clock())
    ctx = Context("rules")
    done = log.intent(judged("gpu.drain", "gpu:1"), ctx)
    log.outcome(done, "ok")
    open1 = log.intent(judged("service.restart", "a.service"), ctx)
    open2 = log.intent(judged("disk.cleanup", "/tmp/x"), ctx)
    assert [r.seq for r in log.pending()] == [open1, open2]
    asked: list[int] = []

    def check(rec: object) -> tuple[str, str]:
        asked.append(rec.seq)  # type: ignore[attr-defined]
        if rec.kind == "disk.cleanup":  # type: ignore[attr-defined]
            raise RuntimeError("disk unreadable")
        return "reconciled_done", "unit is active"

    assert log.reconcile(check) == [open1, open2]
    assert log.reconcile(check) == []  # a second start-up finds nothing open
    assert asked == [open1, open2]
    outs = {r.ref: (r.outcome, r.detail) for r in log.query(Filters(record="outcome"))}
    assert outs[open1] == ("reconciled_done", "reconciled at start-up: unit is active")
    assert outs[open2][0] == "reconciled_unknown" and "disk unreadable" in outs[open2][1]
    assert log.verify().ok
    with pytest.raises(AuditError, match="not an intent"):
        log.outcome(done + 1 if done + 1 not in (open1, open2) else 1, "ok")


def test_about_finds_a_subjects_records_and_the_notifications_tagged_with_it(tmp_path: Path) -> None:
    """`explain stuck-7` must show that its owner was told, though the notification's target is bob."""
    log = AuditLog(tmp_path / "a.db", clock=Clock())
    ctx = Context("rules")
    for kind, target, message in [
        ("notify", "bob", "[stuck-7] job stuck-7 has used no GPU for 2:00:00"),
        ("notify", "bob", "[stuck-70] job stuck-70 has used no GPU for 2:00:00"),
        ("notify", "admin", "stuck-7 and others look idle"),  # names it, but is not about it
        ("job.stop", "stuck-7", None),
        ("job.stop", "stuck-70", None),
    ]:
        log.decision(judged(kind, target, **({"message": message} if message else {})), ctx)
    got = [(r.kind, r.target) for r in log.query(Filters(about="stuck-7"))]
    assert got == [("notify", "bob"), ("job.stop", "stuck-7")]
    assert [r.target for r in log.query(Filters(target="stuck-7"))] == ["stuck-7"]


def test_query_filters_and_exports(base: Path, tmp_path: Path) -> None:
    log = AuditLog(base)
    everything = list(log.query())
    assert [r.seq for r in everything] == list(range(1, 13))
    assert {r.kind for r in log.query(Filters(kind="gpu"))} == {"gpu.drain", "gpu.reset"}
    assert [r.record for r in log.query(Filters(actor="uid=1000(alice)"))] == ["intent", "outcome"]
    assert [r.kind for r in log.query(Filters(verdict="approval"))] == ["host.reboot"]
    assert {r.target for r in log.query(Filters(target="pid:4411"))} == {"pid:4411"}
    mid = datetime.fromisoformat(everything[5].at.replace("Z", "+00:00"))
    assert [r.seq for r in log.query(Filters(since=mid, until=mid + timedelta(seconds=14)))] == [6, 7]
    assert [r.seq for r in log.query(Filters(limit=3))] == [10, 11, 12]  # the newest, oldest first

    buf = io.StringIO()
    assert log.export("jsonl", buf, Filters(kind="service.restart")) == 3
    lines = [json.loads(x) for x in buf.getvalue().splitlines()]
    assert lines[0]["action"] == {"kind": "service.restart", "target": "vllm.service", "params": {}}
    assert lines[0]["model"] == "qwen-0.5b" and lines[2]["duration_ms"] == 12.5 and lines[2]["ref"] == 2
    buf = io.StringIO()
    assert log.export("csv", buf) == 12
    table = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert table[10]["outcome"] == "refused" and json.loads(table[10]["reasons"]) == ["gpu.reset fine"]
    log.close()


def test_history_feeds_the_guard(base: Path) -> None:
    log = AuditLog(base)
    hist = log.history(T0)
    assert [(h.action.kind, h.outcome, h.actor) for h in hist] == [
        ("service.restart", "ok", "llm"), ("gpu.drain", "ok", "uid=1000(alice)"),
        ("process.kill", "failed", "llm"), ("gpu.reset", "refused", "llm"),
    ]  # fmt: skip
    assert log.count(T0, target="gpu:3") == 1
    log.close()


def test_cli_show_verify_export(base: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from llmosd.cli import main

    db = ["--db", str(base)]
    assert main(["audit", "verify", *db]) == 0
    assert capsys.readouterr().out == "ok: 12 records, chain intact\n"
    assert main(["audit", "show", *db, "--kind", "gpu", "--since", "2026-11-20T14:00:00Z"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and lines[0].startswith("#4 2026-11-20T14:00:28Z decision llm")
    assert "gpu.reset gpu:3 refused: escalation: reset used" in lines[3]
    assert main(["audit", "show", *db, "--about", "pid:4411"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()] == ["#7", "#8", "#9"]
    assert main(["audit", "show", *db, "--target", "gpu:9"]) == 0
    assert capsys.readouterr() == ("", "no audit record matches\n")
    assert main(["audit", "export", *db, "--format", "csv", "--actor", "uid=1000(alice)"]) == 0
    assert len(list(csv.DictReader(io.StringIO(capsys.readouterr().out)))) == 2

    copy = tmp_path / "bad.db"
    shutil.copy(base, copy)
    rewrite(copy, edit(rows_of(base), 5, COLUMNS.index("detail"))[0])
    assert main(["audit", "verify", "--db", str(copy)]) == 1
    assert capsys.readouterr().out.startswith("BROKEN at record 5: record 5 was altered")
    assert main(["audit", "show", "--db", str(tmp_path / "none.db")]) == 1
    assert "no audit log here" in capsys.readouterr().err
    assert main(["audit", "show", *db, "--since", "last tuesday"]) == 2
    assert "--since: 'last tuesday' is neither" in capsys.readouterr().err


def test_records_are_mirrored_to_a_logger(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="llmosd.audit")
    log = AuditLog(tmp_path / "m.db", mirror=logging.getLogger("llmosd.audit"))
    seq = log.intent(judged("gpu.drain", "gpu:2"), Context("llm"))
    log.outcome(seq, "ok")
    log.close()
    assert [r.getMessage() for r in caplog.records] == [
        "audit #1 intent llm gpu.drain gpu:2 verdict=allow",
        "audit #2 outcome llm gpu.drain gpu:2 outcome=ok",
    ]
