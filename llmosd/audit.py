"""The audit log: one append-only SQLite table whose rows form a SHA-256 hash chain.

Each row's `hash` covers its own fields (its `seq` included) and the previous
row's hash, so editing, deleting, inserting or reordering rows breaks the
chain at a place `verify` can name. Deleting the newest rows is caught by
SQLite's AUTOINCREMENT counter, which remembers the highest `seq` ever given.
What the chain cannot stop is someone who rewrites every later row too: it
is tamper-evident, not tamper-proof.

An intent is committed (and, with `sync="full"`, fsynced) before its
executor runs; the outcome follows. At start-up `reconcile` answers intents
that never got an outcome by asking the machine, never by running them again.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TextIO

from sqlite_utils import Database, Migrations

from llmosd.contract import HistoryEntry, Judged, subject_tag
from llmosd.errors import AuditError, UsageError

AUTOMATED = frozenset({"llm", "rules"})
GENESIS = "0" * 64
COLUMNS = (
    "seq", "at", "record", "actor", "snapshot_hash", "model", "prompt_hash", "kind", "target",
    "action", "verdict", "reasons", "rationale", "outcome", "detail", "duration_ms", "ref", "prev_hash",
)  # fmt: skip
OUTCOMES = ("ok", "failed", "refused", "reconciled_done", "reconciled_not_done", "reconciled_unknown")


def is_person(actor: str) -> bool:
    return actor not in AUTOMATED


def utcnow() -> datetime:
    return datetime.now(UTC)


def stamp(t: datetime) -> str:
    """Fixed-width UTC time, so that text order is time order in SQL comparisons."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_when(text: str, now: datetime, flag: str) -> datetime:
    """An ISO time, or a span back from now ("90m", "7d"); a bad one is a UsageError naming the flag."""
    from llmosd.policy import parse_duration

    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{flag}: {text!r} is neither an ISO time nor a span like 90m or 7d") from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def render(r: Record) -> str:
    """One line per record for `llmosd audit show`."""
    what = r.outcome or r.verdict or ""
    text = r.detail or r.rationale or "; ".join(r.reasons)
    ref = f" (of #{r.ref})" if r.ref else ""
    return f"#{r.seq} {r.at[:19]}Z {r.record:<8} {r.actor:<10} {r.kind} {r.target} {what}{ref}: {text}"


def link_hash(values: tuple[Any, ...]) -> str:
    """SHA-256 of one row's fields in COLUMNS order (prev_hash last)."""
    body = json.dumps(values, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True)
class Context:
    """Who or what decided; copied into every record about that decision."""

    actor: str
    snapshot_hash: str | None = None
    model: str | None = None
    prompt_hash: str | None = None
    rationale: str = ""


@dataclass(frozen=True)
class Record:
    seq: int
    at: str
    record: str
    actor: str
    snapshot_hash: str | None
    model: str | None
    prompt_hash: str | None
    kind: str
    target: str
    action: dict[str, Any] | None
    verdict: str | None
    reasons: list[str]
    rationale: str
    outcome: str | None
    detail: str
    duration_ms: float | None
    ref: int | None
    prev_hash: str
    hash: str

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> Record:
        d = dict(zip([f.name for f in fields(cls)], row, strict=True))
        d["action"] = json.loads(d["action"]) if d["action"] else None
        d["reasons"] = json.loads(d["reasons"]) if d["reasons"] else []
        return cls(**d)

    def wire(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    count: int
    broken_at: int | None = None
    reason: str = ""


@dataclass(frozen=True)
class Filters:
    since: datetime | None = None
    until: datetime | None = None
    actor: str | None = None
    kind: str | None = None  # exact kind, or a family: "gpu" matches gpu.drain, gpu.reset, ...
    target: str | None = None
    # `target`'s records and the notifications about it, whose message opens with its subject_tag.
    about: str | None = None
    verdict: str | None = None
    record: str | None = None
    limit: int | None = None  # the newest `limit` matches

    def where(self) -> tuple[str, list[Any]]:
        sql: list[str] = []
        args: list[Any] = []
        if self.since:
            sql.append("at >= ?")
            args.append(stamp(self.since))
        if self.until:
            sql.append("at < ?")
            args.append(stamp(self.until))
        for col in ("actor", "target", "verdict", "record"):
            if getattr(self, col) is not None:
                sql.append(f"{col} = ?")
                args.append(getattr(self, col))
        if self.about is not None:
            tag = subject_tag(self.about)
            message = "json_extract(action, '$.params.message')"
            sql.append(f"(target = ? OR (kind = 'notify' AND substr({message}, 1, ?) = ?))")
            args += [self.about, len(tag), tag]
        if self.kind:
            sql.append("(kind = ? OR kind LIKE ? ESCAPE '\\')")
            esc = self.kind.rstrip(".").replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            args += [self.kind, esc + ".%"]
        return (" WHERE " + " AND ".join(sql) if sql else ""), args


MIGRATIONS = Migrations("llmosd.audit")


@MIGRATIONS()
def m001_audit(db: Database) -> None:
    db.execute(
        "CREATE TABLE audit (seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, record TEXT NOT NULL,"
        " actor TEXT NOT NULL, snapshot_hash TEXT, model TEXT, prompt_hash TEXT, kind TEXT NOT NULL,"
        " target TEXT NOT NULL, action TEXT, verdict TEXT, reasons TEXT, rationale TEXT NOT NULL,"
        " outcome TEXT, detail TEXT NOT NULL, duration_ms REAL, ref INTEGER, prev_hash TEXT NOT NULL,"
        " hash TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX audit_at ON audit(at)")
    db.execute("CREATE INDEX audit_target ON audit(target, kind)")
    db.execute("CREATE INDEX audit_ref ON audit(ref) WHERE ref IS NOT NULL")
    # Guards against mistakes in our own code and casual edits; the chain catches the rest.
    for op in ("UPDATE", "DELETE"):
        db.execute(
            f"CREATE TRIGGER audit_no_{op.lower()} BEFORE {op} ON audit "
            "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
        )


class AuditLog:
    def __init__(
        self,
        path: str | Path,
        *,
        clock: Callable[[], datetime] = utcnow,
        mirror: logging.Logger | None = None,
        sync: Literal["full", "normal", "off"] = "full",
        journal_mode: Literal["wal", "delete"] = "wal",
        create: bool = True,
    ):
        self.path, self.clock, self.mirror = Path(path), clock, mirror
        if not create and not self.path.is_file():
            raise AuditError(f"{self.path}: no audit log here")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = Database(self.path)
            self.db.execute("PRAGMA busy_timeout = 10000")
            with self.db.ensure_autocommit_on():
                self.db.execute(f"PRAGMA journal_mode = {journal_mode}")
            self.db.execute(f"PRAGMA synchronous = {sync}")
            MIGRATIONS.apply(self.db)
        except sqlite3.Error as e:
            raise AuditError(f"{self.path}: cannot open the audit log: {e}") from None

    def close(self) -> None:
        self.db.close()

    # ------------------------------------------------------------ writing

    def _append(self, **values: Any) -> int:
        row = {c: values.get(c) for c in COLUMNS[1:-1]}
        row["at"] = row["at"] or stamp(self.clock())
        for col in ("actor", "kind", "target", "rationale", "detail"):
            row[col] = row[col] or ""
        try:
            # IMMEDIATE takes the write lock before reading the head, so two writers cannot fork the chain.
            self.db.execute("BEGIN IMMEDIATE")
            last = self.db.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
            top = self.db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'audit'").fetchone()
            if top and top[0] >= seq:
                raise AuditError(f"{self.path}: records after {seq - 1} were deleted; refusing to append")
            values_t = (seq, *row.values(), prev)
            digest = link_hash(values_t)
            self.db.execute(
                f"INSERT INTO audit ({', '.join(COLUMNS)}, hash) VALUES ({', '.join('?' * len(COLUMNS))}, ?)",
                (*values_t, digest),
            )
            self.db.commit()
        except BaseException:
            self.db.rollback()
            raise
        if self.mirror:
            said = " ".join(f"{k}={row[k]}" for k in ("verdict", "outcome") if row[k])
            what = " ".join(str(row[k]) for k in ("record", "actor", "kind", "target"))
            self.mirror.info("audit #%d %s %s", seq, what, said)
        return seq

    def _action_fields(self, judged: Judged, ctx: Context) -> dict[str, Any]:
        a = judged.action
        return {
            "actor": ctx.actor, "snapshot_hash": ctx.snapshot_hash, "model": ctx.model,
            "prompt_hash": ctx.prompt_hash, "kind": a.kind, "target": a.target,
            "action": json.dumps(a.wire(), sort_keys=True), "verdict": judged.verdict,
            "reasons": json.dumps(judged.reasons), "rationale": ctx.rationale,
        }  # fmt: skip

    def decision(self, judged: Judged, ctx: Context) -> int:
        """The guard's verdict on one proposed action, whatever it was."""
        return self._append(record="decision", **self._action_fields(judged, ctx))

    def intent(self, judged: Judged, ctx: Context, detail: str = "") -> int:
        """Written and synced before the executor runs; returns the id its outcome must name."""
        return self._append(record="intent", detail=detail, **self._action_fields(judged, ctx))

    def outcome(self, intent: int, outcome: str, detail: str = "", duration_ms: float | None = None) -> int:
        if outcome not in OUTCOMES:
            raise AuditError(f"unknown outcome {outcome!r}")
        row = self.db.execute(
            "SELECT actor, kind, target, action, record FROM audit WHERE seq = ?", (intent,)
        ).fetchone()
        if row is None or row[4] != "intent":
            raise AuditError(f"audit record {intent} is not an intent")
        return self._append(
            record="outcome", actor=row[0], kind=row[1], target=row[2], action=row[3], outcome=outcome,
            detail=detail, duration_ms=None if duration_ms is None else round(duration_ms, 3), ref=intent,
        )  # fmt: skip

    def refused(self, judged: Judged, ctx: Context, reason: str) -> int:
        """An allowed action that the dispatcher or the safety rails stopped: nothing ran."""
        fields_ = self._action_fields(judged, ctx)
        return self._append(record="outcome", outcome="refused", detail=reason, **fields_)

    def event(
        self, kind: str, target: str, actor: str, detail: str, outcome: str | None = None,
        duration_ms: float | None = None,
    ) -> int:  # fmt: skip
        """Something that is not a guarded action: an approval, a pin, a supervisor restart."""
        return self._append(
            record="event", kind=kind, target=target, actor=actor, detail=detail, outcome=outcome,
            duration_ms=duration_ms,
        )  # fmt: skip

    # ------------------------------------------------------------ start-up

    def pending(self) -> list[Record]:
        """Intents that never got an outcome (the daemon died in between)."""
        cur = self.db.execute(
            f"SELECT {', '.join(COLUMNS)}, hash FROM audit a WHERE record = 'intent' "
            "AND NOT EXISTS (SELECT 1 FROM audit o WHERE o.ref = a.seq) ORDER BY seq"
        )
        return [Record.from_row(r) for r in cur.fetchall()]

    def reconcile(self, check: Callable[[Record], tuple[str, str]]) -> list[int]:
        """Answer each dangling intent with what `check` finds on the machine; nothing is re-run."""
        done = []
        for rec in self.pending():
            try:
                outcome, detail = check(rec)
            except Exception as e:  # a failing check must not stop the daemon from starting
                outcome, detail = "reconciled_unknown", f"check failed: {type(e).__name__}: {e}"
            self.outcome(rec.seq, outcome, "reconciled at start-up: " + detail)
            done.append(rec.seq)
        return done

    # ------------------------------------------------------------ reading

    def verify(self) -> VerifyResult:
        """Walk the whole chain; name the first record where it breaks."""
        expect, prev = 1, GENESIS
        cur = self.db.execute(f"SELECT {', '.join(COLUMNS)}, hash FROM audit ORDER BY seq")
        count = 0
        while rows := cur.fetchmany(4096):
            for row in rows:
                seq = row[0]
                if seq != expect:
                    return VerifyResult(False, count, expect, f"record {expect} is missing (next is {seq})")
                if row[-2] != prev:
                    return VerifyResult(False, count, seq, f"record {seq} does not link to record {seq - 1}")
                if link_hash(row[:-1]) != row[-1]:
                    return VerifyResult(False, count, seq, f"record {seq} was altered (hash mismatch)")
                prev, expect, count = row[-1], expect + 1, count + 1
        top = self.db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'audit'").fetchone()
        if top and top[0] >= expect:
            return VerifyResult(False, count, expect, f"records {expect}..{top[0]} were removed from the end")
        return VerifyResult(True, count)

    def query(self, filters: Filters | None = None) -> Iterator[Record]:
        """Matching records, oldest first; with `limit`, only the newest `limit` of them."""
        where, args = (filters or Filters()).where()
        sql = f"SELECT {', '.join(COLUMNS)}, hash FROM audit{where}"
        if filters and filters.limit:
            rows = self.db.execute(f"{sql} ORDER BY seq DESC LIMIT {int(filters.limit)}", args).fetchall()
            yield from (Record.from_row(r) for r in reversed(rows))
            return
        for row in self.db.execute(sql + " ORDER BY seq", args):
            yield Record.from_row(row)

    def export(self, fmt: Literal["jsonl", "csv"], out: TextIO, filters: Filters | None = None) -> int:
        n = 0
        if fmt == "csv":
            w = csv.writer(out)
            w.writerow([f.name for f in fields(Record)])
        for rec in self.query(filters):
            if fmt == "jsonl":
                out.write(json.dumps(rec.wire(), ensure_ascii=False) + "\n")
            else:
                d = rec.wire()
                d["action"] = json.dumps(d["action"]) if d["action"] is not None else ""
                d["reasons"] = json.dumps(d["reasons"])
                w.writerow(["" if v is None else v for v in d.values()])
            n += 1
        return n

    def history(self, since: datetime) -> list[HistoryEntry]:
        """Intents and refusals since `since`, with their outcome, in the guard's history form."""
        rows = self.db.execute(
            "SELECT a.at, a.action, a.actor, COALESCE(a.outcome, o.outcome, 'pending') FROM audit a "
            "LEFT JOIN audit o ON o.ref = a.seq WHERE a.at >= ? AND a.action IS NOT NULL "
            "AND (a.record = 'intent' OR (a.record = 'outcome' AND a.ref IS NULL)) ORDER BY a.seq",
            (stamp(since),),
        ).fetchall()
        return [
            HistoryEntry.model_validate({"at": at, "action": json.loads(a), "actor": actor, "outcome": oc})
            for at, a, actor, oc in rows
        ]

    def count(self, since: datetime, *, target: str | None = None, kinds: tuple[str, ...] = ()) -> int:
        """Actions carried out (intents) since `since`, optionally for one target and some kinds."""
        sql, args = "SELECT COUNT(*) FROM audit WHERE record = 'intent' AND at >= ?", [stamp(since)]
        if target is not None:
            sql += " AND target = ?"
            args.append(target)
        if kinds:
            sql += f" AND kind IN ({', '.join('?' * len(kinds))})"
            args += list(kinds)
        return int(self.db.execute(sql, args).fetchone()[0])
