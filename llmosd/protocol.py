"""The admin socket protocol: one JSON object per line, each way.

A client writes a `Request` line and reads one `Response` line back, and may
send further requests on the same connection. JSON lines rather than HTTP:
one frame is one line, so the server bounds a frame's size before parsing
anything; there is no HTTP parser in a root daemon, and the protocol stays
scriptable (`socat - UNIX-CONNECT:/run/llmosd/llmosd.sock`). Both sides use
the models below, so a field is spelled and validated in one place.

Request:  {"seq": 1, "op": "gpus", "target": "gpu:0"}
Response: {"seq": 1, "ok": true, "result": [...]}
          {"seq": 1, "ok": false, "error": {"code": "forbidden", "message": "..."}}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from llmosd.contract import (
    COMMAND,
    ActCommand,
    AutonomyCommand,
    Command,
    ExplainCommand,
    Gpu,
    Instant,
    Job,
    Mode,
    QueryCommand,
    Service,
    UnknownCommand,
    Update,
    command_wire,
)
from llmosd.errors import ProtocolError, one_line

# A request is small; anything longer than this is refused unread.
MAX_REQUEST = 64 * 1024
# Responses can carry an audit listing; the client accepts up to this.
MAX_RESPONSE = 64 * 1024 * 1024
DEFAULT_SOCKET = "/run/llmosd/llmosd.sock"

Role = Literal["admin", "viewer"]
ErrorCode = Literal[
    "bad_json",  # the line is not a JSON object
    "bad_request",  # JSON, but not a valid request (the message names the field)
    "too_large",  # the line is longer than MAX_REQUEST; the connection is closed
    "timeout",  # no complete line within the read timeout; the connection is closed
    "incomplete",  # the client closed its side in the middle of a line
    "forbidden",  # this uid may not do this (or anything)
    "not_found",  # the approval, job or target does not exist
    "refused",  # the request was valid but the daemon will not carry it out (the guard, a rule)
    "failed",  # the daemon tried and failed (an executor error); the message says why
    "unavailable",  # the daemon cannot answer this now (no model loaded, still starting)
    "busy",  # too many connections
    "internal",  # a bug in the daemon; logged there with a traceback
]


@dataclass(frozen=True)
class Peer:
    """Who is on the other end, as the kernel says (SO_PEERCRED), and what they may do."""

    pid: int
    uid: int
    gid: int
    user: str
    role: Role

    def actor(self) -> str:
        """How the audit log names this person (audit.py: every actor but llm/rules is a person)."""
        return f"uid={self.uid}({self.user})"


# ---------------------------------------------------------------- requests


class _Req(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seq: int | None = None

    def changes(self) -> bool:
        """Does this request change anything? Viewers may only send those that do not."""
        return False


class StatusReq(_Req):
    op: Literal["status"]


class ListReq(_Req):
    """gpus / jobs / services / updates, optionally narrowed to one target (gpu:0, a unit, a job, a user)."""

    op: Literal["gpus", "jobs", "services", "updates"]
    target: str = Field(default="", max_length=200)


class AuditQuery(BaseModel):
    """Filters on the audit log (those of audit.Filters); the newest `limit` matches are shown."""

    model_config = ConfigDict(extra="forbid")

    target: str | None = Field(default=None, max_length=300)
    about: str | None = Field(default=None, max_length=300)  # target's records and notifications about it
    kind: str | None = Field(default=None, max_length=64)  # exact, or a family such as "gpu"
    actor: str | None = Field(default=None, max_length=100)
    verdict: Literal["allow", "deny", "approval"] | None = None
    record: Literal["decision", "intent", "outcome", "event"] | None = None
    since: Instant | None = None
    until: Instant | None = None
    limit: int = Field(default=50, ge=1, le=1000)


class AuditReq(_Req):
    op: Literal["audit"]
    query: AuditQuery = AuditQuery()


class ExplainReq(_Req):
    op: Literal["explain"]
    target: str = Field(min_length=1, max_length=300)
    since: Instant | None = None
    summarise: bool = False


class ParseReq(_Req):
    """Plain language to a Command; parsing changes nothing, so viewers may ask."""

    op: Literal["parse"]
    text: str = Field(min_length=1, max_length=2000)
    now: Instant | None = None


class ApproveReq(_Req):
    op: Literal["approve", "deny"]
    id: str = Field(min_length=1, max_length=100)
    reason: str = Field(default="", max_length=500)

    def changes(self) -> bool:
        return True


class AutonomyReq(_Req):
    op: Literal["autonomy"]
    mode: Mode
    until: Instant | None = None

    def changes(self) -> bool:
        return True


class CommandReq(_Req):
    """Run a parsed Command; `text` is what the admin typed, kept for the audit log."""

    op: Literal["command"]
    command: Command
    text: str = Field(default="", max_length=2000)

    def changes(self) -> bool:
        return isinstance(self.command, ActCommand | AutonomyCommand)

    def expand(self) -> Request:
        """The plain request this command stands for; an `act` stays a CommandReq."""
        cmd, seq = self.command, self.seq
        if isinstance(cmd, QueryCommand):
            if cmd.topic == "status":
                return StatusReq(op="status", seq=seq)
            if cmd.topic == "audit":
                return AuditReq(op="audit", seq=seq, query=AuditQuery(target=cmd.target or None))
            return ListReq(op=cmd.topic, seq=seq, target=cmd.target)
        if isinstance(cmd, ExplainCommand):
            return ExplainReq(op="explain", seq=seq, target=cmd.target, since=cmd.since)
        if isinstance(cmd, AutonomyCommand):
            return AutonomyReq(op="autonomy", seq=seq, mode=cmd.mode, until=cmd.until)
        if isinstance(cmd, UnknownCommand):
            raise RequestError("bad_request", "the command was not understood; nothing was done", seq)
        return self


class JobSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    argv: list[Annotated[str, Field(max_length=4096)]] = Field(min_length=1, max_length=256)
    name: str = Field(default="", max_length=100)
    gpus: int = Field(default=1, ge=0, le=64)
    mem_mib: float = Field(default=0.0, ge=0)
    priority: Literal["low", "normal", "high"] = "normal"
    cwd: str | None = Field(default=None, max_length=4096)


class SubmitReq(_Req):
    op: Literal["submit"]
    job: JobSpec

    def changes(self) -> bool:
        return True


class CancelReq(_Req):
    op: Literal["cancel"]
    job: str = Field(min_length=1, max_length=128)

    def changes(self) -> bool:
        return True


Request = Annotated[
    StatusReq | ListReq | AuditReq | ExplainReq | ParseReq | ApproveReq | AutonomyReq | CommandReq
    | SubmitReq | CancelReq,
    Field(discriminator="op"),
]  # fmt: skip
REQUEST: TypeAdapter[Request] = TypeAdapter(Request)


def decode_request(line: bytes) -> Request:
    """One request line to a Request; a ProtocolError says what is wrong, in one line."""
    data = _json_object(line)
    try:
        return REQUEST.validate_python(data)
    except ValidationError as e:
        seq = data.get("seq")
        seq = seq if isinstance(seq, int) and not isinstance(seq, bool) else None
        raise RequestError("bad_request", one_line(e, "request"), seq) from None


class RequestError(ProtocolError):
    """A request that failed, with the protocol's error code.

    Backends raise it to choose the code (`not_found`, `refused`, ...); the
    client raises it for an error response. Bad requests are usage errors.
    """

    def __init__(self, code: ErrorCode, message: str, seq: int | None = None):
        super().__init__(message)
        self.code, self.seq = code, seq
        self.exit_code = 2 if code in ("bad_json", "bad_request") else 1


def _json_object(line: bytes, what: str = "request") -> dict[str, Any]:
    try:
        data = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError:
        raise RequestError("bad_json", f"{what} is not UTF-8 text") from None
    except json.JSONDecodeError as e:
        raise RequestError("bad_json", f"{what} is not valid JSON: {e.msg} at column {e.colno}") from None
    if not isinstance(data, dict):
        raise RequestError("bad_json", f"a {what} is a JSON object, got {type(data).__name__}")
    return data


# ---------------------------------------------------------------- results


class _Out(BaseModel):
    # Clients ignore fields they do not know, so a newer daemon can add some.
    model_config = ConfigDict(extra="ignore")


class Pending(_Out):
    """An action held for a person's approval."""

    id: str
    action: dict[str, Any]
    reasons: list[str] = Field(default_factory=list)
    requested_at: Instant | None = None
    requested_by: str = ""


class StatusView(_Out):
    hostname: str
    now: Instant
    mode: Mode
    mode_until: Instant | None = None
    engine: str = "rules"
    model: str | None = None  # under engine llm: file, hash, adapter and CPU numerics, as audited
    model_error: str = ""  # engine llm was asked for, but the model did not load: why the rules decide
    gpus: int = 0
    gpus_drained: int = 0
    jobs_running: int = 0
    jobs_queued: int = 0
    services_failed: int = 0
    updates_pending: int = 0
    last_tick: Instant | None = None
    pending: list[Pending] = Field(default_factory=list)


class AuditRecord(_Out):
    """One record of the audit log (audit.Record.wire()); fields the socket does not name pass through."""

    model_config = ConfigDict(extra="allow")

    seq: int
    at: Instant
    record: str  # decision | intent | outcome | event
    actor: str
    kind: str = ""
    target: str = ""
    action: dict[str, Any] | None = None
    verdict: str | None = None
    reasons: list[str] = Field(default_factory=list)
    rationale: str = ""
    outcome: str | None = None
    detail: str = ""
    ref: int | None = None  # an outcome's intent


class Explanation(_Out):
    target: str
    text: str
    record_ids: list[int]
    records: list[AuditRecord]
    summary: str | None = None


class ActResult(_Out):
    """What became of a requested change: the guard's verdict, and the outcome if it ran."""

    action: dict[str, Any]
    verdict: Literal["allow", "deny", "approval"]
    reasons: list[str] = Field(default_factory=list)
    approval_id: str | None = None
    outcome: str | None = None  # ok | failed | refused; None when nothing ran (deny, held)
    detail: str = ""
    audit_ids: list[int] = Field(default_factory=list)


class AutonomyState(_Out):
    mode: Mode
    until: Instant | None = None
    set_by: str = ""
    set_at: Instant | None = None


class Refusal(_Out):
    code: ErrorCode
    message: str


class Response(BaseModel):
    seq: int | None = None
    ok: bool
    result: Any = None
    error: Refusal | None = None


# What each op answers with; the server checks a backend's answer against it before sending.
RESULTS: dict[str, TypeAdapter[Any]] = {
    "status": TypeAdapter(StatusView),
    "gpus": TypeAdapter(list[Gpu]),
    "jobs": TypeAdapter(list[Job]),
    "services": TypeAdapter(list[Service]),
    "updates": TypeAdapter(list[Update]),
    "audit": TypeAdapter(list[AuditRecord]),
    "explain": TypeAdapter(Explanation),
    "approve": TypeAdapter(ActResult),
    "deny": TypeAdapter(ActResult),
    "autonomy": TypeAdapter(AutonomyState),
    "act": TypeAdapter(ActResult),
    "submit": TypeAdapter(Job),
    "cancel": TypeAdapter(ActResult),
    "command": TypeAdapter(ActResult),  # an act; other commands expand() to their plain op
    "parse": COMMAND,
}


def encode(resp: Response) -> bytes:
    return resp.model_dump_json(exclude_none=False).encode() + b"\n"


def dump_result(op: str, value: Any) -> Any:
    """The JSON form of a result; a backend answer of the wrong shape is a bug (ValidationError)."""
    if op == "parse":
        return command_wire(value)
    adapter = RESULTS[op]
    return adapter.dump_python(adapter.validate_python(value), mode="json", by_alias=True)


def decode_response(line: bytes) -> Response:
    data = _json_object(line, "response")
    try:
        return Response.model_validate(data)
    except ValidationError as e:
        raise ProtocolError(one_line(e, "response")) from None


def load_result(op: str, value: Any) -> Any:
    """A response's result as the models above (the client side of `dump_result`)."""
    try:
        return RESULTS[op].validate_python(value)
    except ValidationError as e:
        raise ProtocolError(one_line(e, f"{op} result")) from None
