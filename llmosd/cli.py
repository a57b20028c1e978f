"""`llmosd` verbs. The one place where errors become messages and exit codes:
1 for a runtime failure, 2 for bad usage, input or config."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from llmosd.ctl import positive
from llmosd.errors import exit_with_message
from llmosd.train import DEFAULTS

Handler = Callable[[argparse.Namespace], int]


def _replay(args: argparse.Namespace) -> int:
    from llmosd.engine.decide import replay_files

    if args.compare:
        from llmosd.engine.compare import parse_side, report

        report(args.files, parse_side(args.compare[0]), parse_side(args.compare[1]))
        return 0
    for decision in replay_files(args.files, engine=args.engine, policy=args.policy, model=args.model):
        print(json.dumps(decision.wire()), flush=True)
    return 0


def _train(args: argparse.Namespace) -> int:
    from pathlib import Path

    from llmosd.train.lora import run

    run(Path(args.out) if args.out else None, args.from_audit, args.policy, args.copies,
        examples=args.examples, written=args.written, seed=args.seed, minutes=args.minutes,
        holdout=args.holdout)  # fmt: skip
    return 0


def _audit(args: argparse.Namespace) -> int:
    from llmosd.audit import AuditLog, Filters, parse_when, render, utcnow

    log = AuditLog(args.db, create=False)
    if args.op == "verify":
        r = log.verify()
        verdict = f"ok: {r.count} records, chain intact" if r.ok else f"BROKEN at record {r.broken_at}"
        print(verdict if r.ok else f"{verdict}: {r.reason}")
        return 0 if r.ok else 1
    now = utcnow()
    f = Filters(
        since=parse_when(args.since, now, "--since") if args.since else None,
        until=parse_when(args.until, now, "--until") if args.until else None,
        actor=args.actor, kind=args.kind, target=args.target, about=args.about, verdict=args.verdict,
        limit=args.limit,
    )  # fmt: skip
    if args.op == "export":
        log.export(args.format, sys.stdout, f)
        return 0
    shown = 0
    for rec in log.query(f):
        print(render(rec))
        shown += 1
    if not shown:  # on stderr: a script reading stdout still sees no records
        print("no audit record matches", file=sys.stderr)
    return 0


def _parse(args: argparse.Namespace) -> int:
    from llmosd import nl
    from llmosd.contract import command_wire
    from llmosd.errors import UsageError
    from llmosd.nl_model import load_labeler

    if (args.text is None) == (args.file is None):
        raise UsageError("parse: give either TEXT or --file CASES.jsonl")
    cases = nl.read_cases(args.file) if args.file else [(args.text, nl.read_now(args.now, "--now"))]
    for parsed in nl.parse_all(cases, load_labeler()):
        print(json.dumps(command_wire(parsed.command)), flush=True)
    return 0


def _run_config(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    from llmosd.config import load_config

    over = {
        "simulate": args.simulate, "state_dir": getattr(args, "state_dir", None),
        "sample_interval_s": getattr(args, "interval", None), "engine": getattr(args, "engine", None),
    }  # fmt: skip
    return load_config(args.config, **over), over


def _run(args: argparse.Namespace) -> int:
    import logging
    from pathlib import Path

    from llmosd.daemon import Daemon

    cfg, over = _run_config(args)
    tag = "[SIMULATED] " if cfg.simulate else ""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format=f"%(asctime)s %(levelname)s {tag}%(name)s: %(message)s")  # fmt: skip
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # not a line per tick; errors still show
    daemon = Daemon(cfg, Path(args.config) if args.config else None, over)
    return daemon.run(args.seconds)


def _snapshot(args: argparse.Namespace) -> int:
    from llmosd.snapshot import print_snapshot

    cfg, _ = _run_config(args)
    print(print_snapshot(cfg, args.at), flush=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llmosd", description="A self-operating daemon for GPU servers.")
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    p = sub.add_parser("replay", help="decide on incident scenario files (CONTRACT §3); executes nothing")
    p.add_argument("files", nargs="+", metavar="SCENARIO.json")
    p.add_argument("--engine", choices=["rules", "llm"], default="rules")
    p.add_argument("--policy", default=None, help="policy name or YAML path (default: each scenario's own)")
    p.add_argument("--model", help="for --engine llm: a local GGUF file or model folder (default: embedded)")
    p.add_argument(
        "--compare",
        nargs=2,
        metavar=("A", "B"),
        help="decide with both A and B (ENGINE[:MODEL][@POLICY]) and print where they differ",
    )
    p.set_defaults(handler=_replay)

    p = sub.add_parser(
        "train", help="fine-tune the LLM engine's adapter on generated and hand-written log tails (minutes)"
    )
    p.add_argument("--out", help="adapter file to write (default: the packaged one)")
    d = DEFAULTS
    p.add_argument("--examples", type=int, help=f"generated log tails (default {d['examples']})")
    p.add_argument(
        "--written", type=int, metavar="COPIES",
        help=f"copies of each hand-written tail (default {d['written']}; 0 leaves them out)",
    )  # fmt: skip
    p.add_argument("--seed", type=int, help=f"corpus and training seed (default {d['seed']})")
    p.add_argument(
        "--minutes", type=float,
        help=f"wall time for the whole run (default {d['minutes']:g}); on a CPU too slow for every "
        "epoch, the schedule is fit to the steps that fit; under one epoch, nothing is trained",
    )  # fmt: skip
    p.add_argument(
        "--holdout", type=float, help=f"share of cause templates kept out to measure on ({d['holdout']})"
    )
    p.add_argument(
        "--from-audit",
        action="append",
        default=[],
        metavar="AUDIT.db",
        help="add the approved and refused readings of this audit log (repeatable)",
    )
    p.add_argument("--policy", help="the policy whose fault classes the audit rationales name")
    p.add_argument("--copies", type=int, default=5, help="generated contexts per audit reading")
    p.set_defaults(handler=_train)

    p = sub.add_parser("audit", help="show, verify or export the audit log")
    p.add_argument("op", choices=["show", "verify", "export"])
    p.add_argument("--db", default="/var/lib/llmosd/audit.db", help="the audit log (SQLite)")
    p.add_argument("--since", help="ISO time, or a span back from now such as 90m or 7d")
    p.add_argument("--until", help="ISO time, or a span back from now")
    p.add_argument("--actor", help="llm, rules, or a person as recorded, e.g. uid=1000(alice)")
    p.add_argument("--kind", help="an action kind, or a family such as gpu")
    p.add_argument("--target")
    p.add_argument("--about", help="TARGET's records and the notifications about it, as explain reads them")
    p.add_argument("--verdict", choices=["allow", "deny", "approval"])
    p.add_argument("--limit", type=int, help="only the newest N matches")
    p.add_argument("--format", choices=["jsonl", "csv"], default="jsonl", help="for export")
    p.set_defaults(handler=_audit)

    p = sub.add_parser("parse", help="plain language to a Command (CONTRACT §4); does nothing else")
    p.add_argument("text", nargs="?", help="one command in plain language")
    p.add_argument("--file", help='JSON lines {"text": ..., "now": ...}; one Command printed per line')
    p.add_argument("--now", help="the clock relative times are read against (ISO; default: local now)")
    p.set_defaults(handler=_parse)

    p = sub.add_parser("run", help="the daemon: watch this machine, decide, act, audit")
    p.add_argument("--config", help="TOML config (default /etc/llmosd/llmosd.toml if present)")
    p.add_argument("--simulate", metavar="TIMELINE.yaml", help="simulated GPUs and faults instead of NVML")
    p.add_argument("--for", dest="seconds", type=positive, metavar="SECONDS", help="stop after this long")
    p.add_argument("--interval", type=positive, metavar="S", help="seconds between samples (default 2)")
    p.add_argument("--engine", choices=["rules", "llm"])
    p.add_argument("--state-dir", metavar="DIR", help="databases and state (default by user)")
    p.set_defaults(handler=_run)

    p = sub.add_parser("snapshot", help="print this machine's live snapshot as a scenario JSON")
    p.add_argument("--config", help="TOML config (default /etc/llmosd/llmosd.toml if present)")
    p.add_argument("--simulate", metavar="TIMELINE.yaml", help="simulated GPUs instead of NVML")
    p.add_argument("--at", type=float, default=0.0, metavar="SECONDS", help="time into the timeline")
    p.add_argument("--state-dir", metavar="DIR", help="where the daemon keeps its audit log and GPU drains")
    p.set_defaults(handler=_snapshot)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    return exit_with_message("llmosd", lambda: handler(args), lambda e: "error")


if __name__ == "__main__":
    raise SystemExit(main())
