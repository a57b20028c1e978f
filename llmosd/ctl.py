"""`llmosctl`: the admin's client of the llmosd socket (protocol.py).

Human tables by default, `--json` for scripts. Exit codes: 0 done, 1 refused
or failed (forbidden, the guard said no, an executor failed, the daemon is
unreachable), 2 bad usage or a request the daemon could not read. A change
asked for in plain language (`ask`) is shown and confirmed first.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import stat
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from llmosd import nl_slots
from llmosd.contract import ActCommand, AutonomyCommand, Command, UnknownCommand, command_wire, parse_command
from llmosd.errors import ProtocolError, UsageError, exit_with_message
from llmosd.protocol import DEFAULT_SOCKET, MAX_RESPONSE, RequestError, decode_response, load_result

Show = Callable[[Any], str]


class Client:
    """One request per connection: connect, write a line, read a line."""

    def __init__(self, path: str, timeout: float = 60.0):
        self.path, self.timeout = path, timeout

    def call(self, op: str, **fields: Any) -> Any:
        line = json.dumps({"op": op, "seq": 1, **fields}, default=str).encode() + b"\n"
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(self.timeout)
                s.connect(self.path)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    s.sendall(line)  # a daemon that refuses at once (busy) has already answered
                reply = _read_line(s)
        except FileNotFoundError:
            raise ProtocolError(f"{self.path}: no such socket; is llmosd running?") from None
        except ConnectionRefusedError:
            # A socket file nobody listens on (llmosd was killed), or a file that is no socket at all.
            try:
                what = (
                    "a socket nobody listens on"
                    if stat.S_ISSOCK(os.stat(self.path).st_mode)
                    else "not a socket"
                )
            except OSError:  # gone meanwhile
                what = "no such socket"
            raise ProtocolError(f"{self.path}: {what}; is llmosd running, and is this its socket?") from None
        except (PermissionError, TimeoutError, OSError) as e:
            raise ProtocolError(f"{self.path}: {e.strerror or e}") from None
        resp = decode_response(reply)
        if not resp.ok:
            err = resp.error
            raise RequestError(err.code, err.message) if err else ProtocolError("error without a reason")
        return resp.result


def _read_line(s: socket.socket) -> bytes:
    buf = bytearray()
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            raise ProtocolError("the daemon closed the connection without an answer")
        buf += chunk
        if len(buf) > MAX_RESPONSE:
            raise ProtocolError(f"answer longer than {MAX_RESPONSE} bytes")
    return bytes(buf)


# ---------------------------------------------------------------- output


def table(header: list[str], rows: list[list[Any]]) -> str:
    cells = [header] + [["-" if v is None or v == "" else str(v) for v in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells)


def _t(v: datetime | None) -> str:
    return v.astimezone().strftime("%Y-%m-%d %H:%M:%S") if v else "-"


def show_status(s: Any) -> str:
    out = [
        f"host {s.hostname}   mode {s.mode}" + (f" until {_t(s.mode_until)}" if s.mode_until else "")
        + f"   engine {s.engine}   last tick {_t(s.last_tick)}",
        f"gpus {s.gpus} ({s.gpus_drained} drained)   jobs {s.jobs_running} running, {s.jobs_queued} queued"
        f"   services {s.services_failed} failed   updates {s.updates_pending} pending",
    ]  # fmt: skip
    if s.model:
        out.append(f"model {s.model}")
    elif s.model_error:
        out.append(f"model did not load, so the rules decide: {s.model_error}")
    if s.pending:
        rows = [[p.id, p.action.get("kind"), p.action.get("target"), "; ".join(p.reasons), p.requested_by]
                for p in s.pending]  # fmt: skip
        out += ["", "waiting for approval:", table(["ID", "KIND", "TARGET", "WHY", "BY"], rows)]
    return "\n".join(out)


def show_gpus(gpus: Any) -> str:
    rows = [[g.index, g.name, _num(g.util_percent, "%"), _mem(g.mem_used_mib, g.mem_total_mib),
             _num(g.temp_c, "C"), _num(g.power_w, "W"), "yes" if g.drained else "", len(g.processes), g.error]
            for g in gpus]  # fmt: skip
    return table(["GPU", "NAME", "UTIL", "MEM", "TEMP", "POWER", "DRAINED", "PROCS", "ERROR"], rows)


def show_jobs(jobs: Any) -> str:
    rows = [[j.id, j.user, j.state, ",".join(map(str, j.gpus)), j.priority, _t(j.submitted_at)] for j in jobs]
    return table(["JOB", "USER", "STATE", "GPUS", "PRIORITY", "SUBMITTED"], rows)


def show_services(svcs: Any) -> str:
    rows = [[s.unit, s.state, s.exit_status, s.restarts_10m, s.error] for s in svcs]
    return table(["UNIT", "STATE", "EXIT", "RESTARTS/10M", "ERROR"], rows)


def show_updates(ups: Any) -> str:
    rows = [[u.package, u.kind, u.from_, u.to, "yes" if u.security else "", "yes" if u.needs_reboot else ""]
            for u in ups]  # fmt: skip
    return table(["PACKAGE", "KIND", "FROM", "TO", "SECURITY", "REBOOT"], rows)


def show_audit(recs: Any) -> str:
    rows = [[r.seq, _t(r.at), r.record, r.actor, r.kind, r.target, r.verdict, r.outcome] for r in recs]
    return table(["SEQ", "AT", "RECORD", "ACTOR", "KIND", "TARGET", "VERDICT", "OUTCOME"], rows)


def show_explain(e: Any) -> str:
    refs = ", ".join(f"#{i}" for i in e.record_ids) or "none"
    summary = f"{e.summary}\n\n" if e.summary else ""
    return f"{summary}{e.text}\n(audit records: {refs})"


def _what(r: Any) -> str:
    return f"{r.action.get('kind')} {r.action.get('target', '')}".strip()


def _reasons(r: Any) -> str:
    return f" ({'; '.join(r.reasons)})" if r.reasons else ""


def _outcome(r: Any) -> str:
    if not r.outcome:
        return ""
    return f"\noutcome: {r.outcome}" + (f" ({r.detail})" if r.detail else "")


def show_act(r: Any) -> str:
    line = f"{_what(r)}: {r.verdict}{_reasons(r)}"
    if r.approval_id:
        line += f"\nheld for approval: llmosctl approve {r.approval_id}"
    return line + _outcome(r)


def show_answer(done: str) -> Show:
    """approve / deny: what the person decided, with its audit record, then what ran."""

    def show(r: Any) -> str:
        line = f"{_what(r)}: {done}" + (f" (audit #{r.audit_ids[0]})" if r.audit_ids else "")
        if done == "denied":
            return line + "; nothing was done"
        if r.verdict == "deny":  # the guard judges again at run time: the machine may have changed
            line += f"\nbut the guard refuses it now{_reasons(r)}"
        return line + _outcome(r)

    return show


def show_autonomy(a: Any) -> str:
    until = f" until {_t(a.until)}" if a.until else ""
    return f"mode {a.mode}{until}" + (f" (set by {a.set_by})" if a.set_by else "")


def show_job(j: Any) -> str:
    return f"submitted {j.id} ({j.state})"


SHOW: dict[str, Show] = {
    "status": show_status, "gpus": show_gpus, "jobs": show_jobs, "services": show_services,
    "updates": show_updates, "audit": show_audit, "explain": show_explain,
    "approve": show_answer("approved"), "deny": show_answer("denied"), "cancel": show_act,
    "command": show_act, "autonomy": show_autonomy, "submit": show_job,
}  # fmt: skip


def _num(v: float | None, unit: str) -> str:
    return "-" if v is None else f"{v:g}{unit}"


def _mem(used: float | None, total: float | None) -> str:
    return "-" if used is None else f"{used / 1024:.1f}/{(total or 0) / 1024:.0f}G"


def emit(args: argparse.Namespace, op: str, result: Any) -> int:
    """Print a result; 1 when the daemon refused the change or it failed (a deny that was done is 0)."""
    if args.json:
        print(json.dumps(result, indent=None))
    else:
        print(SHOW[op](load_result(op, result)))
    if isinstance(result, dict) and "verdict" in result and op != "deny":
        return 1 if result["verdict"] == "deny" or result.get("outcome") in ("failed", "refused") else 0
    return 0


# ---------------------------------------------------------------- verbs


def _run(op: str, **fields: Any) -> Callable[[argparse.Namespace], tuple[str, dict[str, Any]]]:
    return lambda a: (op, {k: getattr(a, v) for k, v in fields.items()})


def _gpus_req(a: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """`gpus 3`, `gpus gpu3` and `gpus gpu:3` all name GPU 3."""
    t = a.target.strip()
    return "gpus", {"target": f"gpu:{t}" if t.isdigit() else nl_slots.target_of(t) if t else ""}


def _audit_req(a: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    q = {k: getattr(a, k) for k in ("target", "kind", "actor", "verdict", "record", "limit")}
    q.update(since=_back(a.since, "--since"), until=_back(a.until, "--until"))
    return "audit", {"query": {k: v for k, v in q.items() if v is not None}}


def _explain_req(a: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    target = nl_slots.target_of(a.target)
    return "explain", {"target": target, "since": _back(a.since, "--since"), "summarise": a.summary}


def _autonomy_req(a: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    return "autonomy", {"mode": a.mode, "until": _when(a.until)}


def _submit_req(a: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    if not a.argv:
        raise UsageError("submit: give the job's command after --")
    spec = {"argv": a.argv, "name": a.name, "gpus": a.gpus, "mem_mib": a.mem, "priority": a.priority,
            "cwd": os.getcwd()}  # fmt: skip
    return "submit", {"job": spec}


def positive(text: str) -> float:
    """An argparse type: a number of seconds above zero (a socket timeout of 0 or less cannot wait)."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not v > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not above 0")
    return v


def _when(text: str | None) -> str | None:
    """A time ahead: ISO, or words such as "tomorrow", "monday", "2h", "3 days", read against local now."""
    if text is None:
        return None
    now = datetime.now().astimezone()
    t = nl_slots.read_time(text, now)
    if t is None:
        raise UsageError(f"cannot read the time {text!r} (try 2026-11-23T08:00, tomorrow, monday, 3h)")
    if t <= now:
        raise UsageError(f"--until {text!r} is {t:%Y-%m-%d %H:%M}, already past")
    return t.isoformat()


def _back(text: str | None, flag: str) -> str | None:
    """A time behind, for reading the audit log: ISO, or a span back ("90m", "2 hours"), or words
    ("yesterday", "monday", "in the last hour"), read against local now."""
    if text is None:
        return None
    now = datetime.now().astimezone()
    with contextlib.suppress(ValueError):
        t = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        return (t if t.tzinfo else t.replace(tzinfo=now.tzinfo)).isoformat()
    for words in (f"{text} ago", text, f"since {text}"):  # "2h", "yesterday", "monday"
        back = nl_slots.since(words, now)
        if back is not None:
            return back.isoformat()
    raise UsageError(f"{flag}: cannot read {text!r} as a time back from now "
                     "(try 90m, 2 hours, yesterday, monday, 2026-11-23T08:00)")  # fmt: skip


def ask(args: argparse.Namespace, client: Client) -> int:
    if not args.text.strip():
        raise UsageError('ask: say what to do, e.g. llmosctl ask "drain gpu 3"')
    now = datetime.now().astimezone().isoformat()
    cmd: Command = parse_command(client.call("parse", text=args.text, now=now), "parsed command")
    if isinstance(cmd, UnknownCommand):
        print("not understood as an llmosd command; nothing was done", file=sys.stderr)
        return 1
    print(("parsed: " if not args.json else "") + json.dumps(command_wire(cmd)), file=sys.stderr)
    if isinstance(cmd, ActCommand | AutonomyCommand) and not args.yes and not _confirm():
        print("cancelled; nothing was done", file=sys.stderr)
        return 1
    op = "command" if isinstance(cmd, ActCommand) else _op_of(cmd)
    return emit(args, op, client.call("command", command=command_wire(cmd), text=args.text))


def _op_of(cmd: Command) -> str:
    wire = command_wire(cmd)
    return str(wire.get("topic") if wire["intent"] == "query" else wire["intent"])


def _confirm() -> bool:
    print("go ahead? [y/N] ", end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="llmosctl", description="Talk to the running llmosd.")
    p.add_argument("--socket", default=os.environ.get("LLMOSD_SOCKET", DEFAULT_SOCKET))
    p.add_argument("--json", action="store_true", help="print the daemon's JSON answer")
    p.add_argument("--timeout", type=positive, default=60.0, help="seconds to wait for an answer")
    sub = p.add_subparsers(dest="verb", required=True, metavar="VERB")

    sub.add_parser("status", help="mode, counts, pending approvals").set_defaults(req=_run("status"))
    for topic in ("gpus", "jobs", "services", "updates"):
        s = sub.add_parser(topic, help=f"list {topic}")
        s.add_argument("target", nargs="?", default="", help="narrow to one GPU, unit, job or user")
        s.set_defaults(req=_gpus_req if topic == "gpus" else _run(topic, target="target"))

    s = sub.add_parser("audit", help="audit records, newest last")
    for f in ("target", "kind", "actor", "since", "until"):
        s.add_argument(f"--{f}")
    s.add_argument("--verdict", choices=["allow", "deny", "approval"])
    s.add_argument("--record", choices=["decision", "intent", "outcome", "event"])
    s.add_argument("--limit", type=int, default=50)
    s.set_defaults(req=_audit_req)

    s = sub.add_parser("explain", help="why the daemon acted on TARGET, from the audit log")
    s.add_argument("target", help="gpu:N, a unit, a job id, pid:N ...")
    s.add_argument("--since")
    s.add_argument("--summary", action="store_true", help="add a summary written by the model")
    s.set_defaults(req=_explain_req)

    for verb in ("approve", "deny"):
        s = sub.add_parser(verb, help=f"{verb} an action held for approval")
        s.add_argument("id")
        if verb == "deny":
            s.add_argument("--reason", default="")
        s.set_defaults(req=_run(verb, id="id", **({"reason": "reason"} if verb == "deny" else {})))

    s = sub.add_parser("autonomy", help="observe | supervised | autonomous")
    s.add_argument("mode", choices=["observe", "supervised", "autonomous"])
    s.add_argument("--until", help="back to the configured mode at this time")
    s.set_defaults(req=_autonomy_req)

    s = sub.add_parser("ask", help="a command in plain language; changes are confirmed first")
    s.add_argument("text")
    s.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    s.set_defaults(req=None)

    s = sub.add_parser("submit", help="queue a job (refused for now: llmosd keeps no job queue yet)")
    s.add_argument("--gpus", type=int, default=1)
    s.add_argument("--mem", type=float, default=0.0, help="GPU memory wanted per GPU, MiB")
    s.add_argument("--priority", choices=["low", "normal", "high"], default="normal")
    s.add_argument("--name", default="")
    s.add_argument("argv", nargs=argparse.REMAINDER)
    s.set_defaults(req=_submit_req)

    s = sub.add_parser("cancel", help="cancel a queued or running job")
    s.add_argument("job")
    s.set_defaults(req=_run("cancel", job="job"))
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "argv", None) and args.argv[0] == "--":
        args.argv = args.argv[1:]
    client = Client(args.socket, args.timeout)

    def body() -> int:
        if args.req is None:
            return ask(args, client)
        op, fields = args.req(args)
        try:
            return emit(args, op, client.call(op, **fields))
        except RequestError as e:
            if args.json:  # a script reading stdout learns of the refusal too, not only a person
                print(json.dumps({"error": {"code": e.code, "message": str(e)}}))
            raise

    return exit_with_message("llmosctl", body, lambda e: getattr(e, "code", "error"))


if __name__ == "__main__":
    raise SystemExit(main())
