"""One exception tree for the whole package.

Only `cli.py` (and `ctl.py`) turn these into messages and exit codes: a
`UsageError` and its children exit 2, every other `LlmosdError` exits 1.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from pydantic import ValidationError


class LlmosdError(Exception):
    """Base of every error llmosd raises on purpose."""

    exit_code = 1


class UsageError(LlmosdError):
    """Bad command line, bad input file, bad config: the user must fix it."""

    exit_code = 2


class ConfigError(UsageError):
    """The TOML config or a policy file is invalid."""


class ContractError(UsageError):
    """A scenario, action or command does not follow CONTRACT.md."""


class ModelError(LlmosdError):
    """The local model is missing, corrupt, or too slow; the rules engine takes over."""


class CollectorError(LlmosdError):
    """A telemetry source failed as a whole (one GPU or unit failing is not an error)."""


class GpuLostError(CollectorError):
    """NVML says the GPU is lost (fallen off the bus): that GPU is marked, the others are still read."""


class ExecutorError(LlmosdError):
    """An executor could not carry out an allowed action."""


class AuditError(LlmosdError):
    """The audit log is unreadable or its hash chain is broken."""


class ProtocolError(LlmosdError):
    """A malformed or refused request on the admin socket."""


def one_line(err: ValidationError, where: str) -> str:
    """Condense a pydantic error into one line naming the place: `where: a.b[2]: reason`."""
    parts = []
    for e in err.errors()[:3]:
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e["loc"]).lstrip(".")
        parts.append(f"{loc or '(top)'}: {e['msg']}")
    more = f" (+{err.error_count() - 3} more)" if err.error_count() > 3 else ""
    return f"{where}: " + "; ".join(parts) + more


def exit_with_message(prog: str, body: Callable[[], int], label: Callable[[LlmosdError], str]) -> int:
    """Run a command-line program's body: an LlmosdError becomes one line on stderr and its exit
    code (the only place errors turn into messages); ^C is 130, a closed pipe a quiet 0."""
    try:
        return body()
    except LlmosdError as e:
        print(f"{prog}: {label(e)}: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
