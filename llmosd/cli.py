"""`llmosd` verbs. The one place where errors become messages and exit codes:
1 for a runtime failure, 2 for bad usage, input or config."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from llmosd.errors import LlmosdError

Handler = Callable[[argparse.Namespace], int]


def _replay(args: argparse.Namespace) -> int:
    from llmosd.engine.decide import replay_files

    for decision in replay_files(args.files, engine=args.engine, policy=args.policy):
        print(json.dumps(decision.wire()), flush=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llmosd", description="A self-operating daemon for GPU servers.")
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    p = sub.add_parser("replay", help="decide on incident scenario files (CONTRACT §3); executes nothing")
    p.add_argument("files", nargs="+", metavar="SCENARIO.json")
    p.add_argument("--engine", choices=["rules", "llm"], default="rules")
    p.add_argument("--policy", default=None, help="policy name or YAML path (default: each scenario's own)")
    p.set_defaults(handler=_replay)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except LlmosdError as e:
        print(f"llmosd: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
