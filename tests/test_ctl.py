"""`llmosctl` against a real socket server: tables, --json, confirmation and exit codes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from local_backend import LocalBackend

from llmosd.contract import parse_command
from llmosd.ctl import main
from llmosd.server import Server


def json_parser(text: str, now: datetime) -> object:
    """Stands in for the language model: the 'text' is the Command's JSON."""
    return parse_command(json.loads(text))


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[Server, LocalBackend]]:
    d = Path(tempfile.mkdtemp(prefix="llmosctl-"))
    backend = LocalBackend(tmp_path)
    with Server(d / "s.sock", backend, parse=json_parser) as srv:  # type: ignore[arg-type]
        yield srv, backend
    shutil.rmtree(d, ignore_errors=True)


def ctl(srv: Server, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """llmosctl as a user runs it: its own process, a terminal answer on stdin."""
    return subprocess.run(
        [sys.executable, "-m", "llmosd.ctl", "--socket", str(srv.path), *args],
        input=stdin, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_status_and_lists_as_tables_and_json(daemon, capsys) -> None:
    srv, _ = daemon
    assert main(["--socket", str(srv.path), "status"]) == 0
    out = capsys.readouterr().out
    assert "host gpu-07" in out and "mode autonomous" in out and "1 running, 1 queued" in out
    assert main(["--socket", str(srv.path), "gpus"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].split()[:3] == ["GPU", "NAME", "UTIL"] and len(rows) == 3
    for one in ("1", "gpu1", "gpu:1"):
        assert main(["--socket", str(srv.path), "gpus", one]) == 0
        assert [r.split()[0] for r in capsys.readouterr().out.splitlines()] == ["GPU", "1"], one
    assert main(["--socket", str(srv.path), "--json", "jobs", "alice"]) == 0
    assert [j["id"] for j in json.loads(capsys.readouterr().out)] == ["j-17"]
    assert main(["--socket", str(srv.path), "services", "nginx.service"]) == 0
    assert "failed" in capsys.readouterr().out


def test_autonomy_until_words_and_audit_filters(daemon, capsys) -> None:
    srv, backend = daemon
    assert main(["--socket", str(srv.path), "autonomy", "observe", "--until", "tomorrow"]) == 0
    tomorrow = (datetime.now().astimezone() + timedelta(days=1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    assert backend.mode == "observe" and backend.until == tomorrow
    assert "mode observe until" in capsys.readouterr().out
    assert main(["--socket", str(srv.path), "--json", "audit", "--kind", "autonomy"]) == 0
    [rec] = json.loads(capsys.readouterr().out)
    assert rec["target"] == "observe" and rec["actor"] == "uid=0(root)"
    # --since and --until look back from now: the record just written is within the last hour.
    for flag, within in (("--since", True), ("--until", False)):
        for back in ("1h", "2 hours", "yesterday"):
            assert main(["--socket", str(srv.path), "--json", "audit", "--kind", "autonomy", flag, back]) == 0
            assert bool(json.loads(capsys.readouterr().out)) is within, (flag, back)


def test_ask_shows_the_command_and_waits_for_yes(daemon) -> None:
    srv, backend = daemon
    drain = json.dumps({"intent": "act", "action": {"kind": "gpu.drain", "target": "gpu:1"}})
    no = ctl(srv, "ask", drain, stdin="n\n")
    assert no.returncode == 1 and '"gpu.drain"' in no.stderr and "nothing was done" in no.stderr
    assert list(backend.log.query()) == []
    yes = ctl(srv, "ask", drain, stdin="y\n")
    assert yes.returncode == 0, yes.stderr
    assert "gpu.drain gpu:1: allow" in yes.stdout and "outcome: ok" in yes.stdout
    assert {r.actor for r in backend.log.query()} == {"uid=0(root)"}
    assert any(drain in r.rationale for r in backend.log.query())  # what was typed is on record


def test_ask_for_a_query_needs_no_confirmation_and_unknown_fails(daemon) -> None:
    srv, _ = daemon
    q = ctl(srv, "ask", json.dumps({"intent": "query", "topic": "gpus", "target": "gpu:0"}))
    assert q.returncode == 0 and "H100" in q.stdout
    u = ctl(srv, "ask", json.dumps({"intent": "unknown"}))
    assert u.returncode == 1 and "not understood" in u.stderr
    blank = ctl(srv, "ask", "  ")
    assert (
        blank.returncode == 2
        and blank.stderr == 'llmosctl: error: ask: say what to do, e.g. llmosctl ask "drain gpu 3"\n'
    )


def test_refusals_exit_non_zero(daemon, tmp_path: Path) -> None:
    srv, _ = daemon
    reset = json.dumps({"intent": "act", "action": {"kind": "gpu.reset", "target": "gpu:0"}})
    denied = ctl(srv, "ask", "--yes", reset)
    assert denied.returncode == 1 and "deny" in denied.stdout
    missing = ctl(srv, "approve", "999")
    assert missing.returncode == 1 and "not_found" in missing.stderr
    as_json = ctl(srv, "--json", "approve", "999")
    assert as_json.returncode == 1 and json.loads(as_json.stdout)["error"]["code"] == "not_found"
    assert ctl(srv, "autonomy", "sideways").returncode == 2
    bad_time = ctl(srv, "autonomy", "observe", "--until", "whenever")
    assert bad_time.returncode == 2 and "cannot read the time" in bad_time.stderr
    no_wait = subprocess.run([sys.executable, "-m", "llmosd.ctl", "--timeout", "0", "status"],
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    assert no_wait.returncode == 2 and "--timeout: '0' is not above 0" in no_wait.stderr
    past = ctl(srv, "autonomy", "supervised", "--until", "2020-01-01")
    assert past.returncode == 2 and "already past" in past.stderr
    gone = subprocess.run([sys.executable, "-m", "llmosd.ctl", "--socket", str(tmp_path / "x"), "status"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert gone.returncode == 1 and "is llmosd running?" in gone.stderr
    cfg = tmp_path / "llmosd.toml"
    cfg.write_text("")  # a file given where the socket should be
    wrong = subprocess.run([sys.executable, "-m", "llmosd.ctl", "--socket", str(cfg), "status"],
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    assert wrong.returncode == 1 and "llmosd.toml: not a socket; is llmosd running" in wrong.stderr


def test_viewer_is_refused_a_change(tmp_path: Path) -> None:
    d = Path(tempfile.mkdtemp(prefix="llmosctl-"))
    try:
        with Server(d / "s.sock", LocalBackend(tmp_path), roles=lambda u, g: "viewer") as srv:
            assert ctl(srv, "status").returncode == 0
            p = ctl(srv, "autonomy", "observe")
            assert p.returncode == 1 and "forbidden" in p.stderr and "viewer" in p.stderr
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_submit_cancel_and_explain(daemon, capsys) -> None:
    srv, backend = daemon
    assert main(["--socket", str(srv.path), "submit", "--gpus", "2", "--", "python", "train.py"]) == 0
    assert capsys.readouterr().out.strip() == "submitted j-100 (queued)"
    assert backend.jobs("j-100")[0].gpus_wanted == 2
    assert main(["--socket", str(srv.path), "cancel", "j-17"]) == 0
    assert "job.stop j-17: allow" in capsys.readouterr().out
    assert main(["--socket", str(srv.path), "explain", "j-17"]) == 0
    out = capsys.readouterr().out
    assert "job.stop j-17" in out and "uid=0(root)" in out and "(audit records: #" in out


def test_a_held_change_denied_exits_0_and_one_approved_runs(daemon) -> None:
    """Denying a held change is the person's decision carried out, not a failure of the command."""
    srv, backend = daemon
    assert ctl(srv, "autonomy", "supervised").returncode == 0
    ids = []
    for gpu in ("gpu:0", "gpu:1"):
        held = ctl(
            srv, "ask", "--yes", json.dumps({"intent": "act", "action": {"kind": "gpu.drain", "target": gpu}})
        )
        assert held.returncode == 0, held.stdout + held.stderr
        ids.append(re.search(r"llmosctl approve (\S+)", held.stdout).group(1))
    no = ctl(srv, "deny", ids[0], "--reason", "not now")
    assert no.returncode == 0, no.stderr
    assert re.fullmatch(r"gpu\.drain gpu:0: denied \(audit #\d+\); nothing was done\n", no.stdout)
    yes = ctl(srv, "approve", ids[1])
    assert yes.returncode == 0 and re.match(
        r"gpu\.drain gpu:1: approved \(audit #\d+\)\noutcome: ok", yes.stdout
    )
    assert [r.detail for r in backend.log.query() if r.detail.startswith("denied")] == ["denied: not now"]
