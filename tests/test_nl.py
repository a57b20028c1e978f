"""Plain language to Command: the slot and time readers, label -> Command, and the trained model
on the shared command cases and on this project's own phrasings (tests/data/nl_phrasings.jsonl)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import shared
from local_backend import LocalBackend
from shared import matches, need

from llmosd import nl, nl_slots
from llmosd.contract import command_wire
from llmosd.ctl import main as ctl_main
from llmosd.errors import ContractError
from llmosd.explain import digest, grounded
from llmosd.nl_corpus import T, corpus, normal
from llmosd.nl_train import EVAL_SETS, consistent, eval_texts
from llmosd.protocol import Explanation
from llmosd.server import Server

OWN = Path(__file__).parent / "data" / "nl_phrasings.jsonl"
FRI = datetime(2026, 11, 20, 14, 3, tzinfo=UTC)
MON = datetime(2026, 11, 23, 9, 30, tzinfo=timezone(timedelta(hours=1)))
WED_NY = datetime(2026, 12, 2, 22, 15, tzinfo=timezone(timedelta(hours=-5)))


@pytest.mark.parametrize(
    ("text", "now", "want"),
    [
        ("hold it until monday", FRI, datetime(2026, 11, 23, tzinfo=UTC)),
        ("until monday", MON, datetime(2026, 11, 30, tzinfo=MON.tzinfo)),  # the next monday, not today
        ("till friday", MON, datetime(2026, 11, 27, tzinfo=MON.tzinfo)),
        ("until tomorrow", FRI, datetime(2026, 11, 21, tzinfo=UTC)),
        ("ask first until tomorrow", WED_NY, datetime(2026, 12, 3, tzinfo=WED_NY.tzinfo)),
        ("for 2 days", FRI, FRI + timedelta(days=2)),
        ("for the next 3 hours", FRI, FRI + timedelta(hours=3)),
        ("for an hour", FRI, FRI + timedelta(hours=1)),
        ("for 30 minutes", FRI, FRI + timedelta(minutes=30)),
        ("until 18:00", FRI, datetime(2026, 11, 20, 18, tzinfo=UTC)),
        ("until 6pm", WED_NY, datetime(2026, 12, 3, 18, tzinfo=WED_NY.tzinfo)),  # already past today
        ("until next week", FRI, datetime(2026, 11, 23, tzinfo=UTC)),
        ("until 2026-12-24", FRI, datetime(2026, 12, 24, tzinfo=UTC)),
        ("apply it now", FRI, None),
    ],
)
def test_until_reads_times_against_now_in_its_zone(text: str, now: datetime, want: datetime | None) -> None:
    got = nl_slots.until(text, now)
    assert got == want
    if got is not None and want is not None:
        assert got.utcoffset() == now.utcoffset() or "2026-12-24" in text


def test_read_time_for_command_line_options() -> None:
    assert nl_slots.read_time("3h", FRI) == FRI + timedelta(hours=3)
    assert nl_slots.read_time("in 2 days", FRI) == FRI + timedelta(days=2)
    assert nl_slots.read_time("2026-11-23T08:00Z", FRI) == datetime(2026, 11, 23, 8, tzinfo=UTC)
    assert nl_slots.read_time("whenever", FRI) is None
    assert nl_slots.read_time("25:00", FRI) is None


def test_since_looks_back() -> None:
    assert nl_slots.since("why did you restart nginx last night", FRI) == datetime(2026, 11, 19, tzinfo=UTC)
    assert nl_slots.since("in the last 3 hours", FRI) == FRI - timedelta(hours=3)
    assert nl_slots.since("since monday", FRI) == datetime(2026, 11, 16, tzinfo=UTC)
    assert nl_slots.since("why was gpu 2 drained", FRI) is None
    # One unit without a number is one of it; "N ago" looks back as far.
    assert nl_slots.since("why did you restart nginx in the past hour", FRI) == FRI - timedelta(hours=1)
    assert nl_slots.since("why was gpu 2 drained since 2 hours ago", FRI) == FRI - timedelta(hours=2)
    assert nl_slots.since("explain j-17 over the last day", FRI) == FRI - timedelta(days=1)


def test_slot_readers() -> None:
    gpus = ("gpu 3", "GPU #4", "gpu5", "gpu:6", "card 2", "gpu seven", "the gpus")
    assert [nl_slots.gpu(t) for t in gpus] == [3, 4, 5, 6, 2, 7, None]
    assert [nl_slots.pid(t) for t in ("process 7781", "pid:12", "kill 4242", "gpu 3")] == [
        7781,
        12,
        4242,
        None,
    ]
    assert [nl_slots.job(t) for t in ("stop job j-17", "requeue j-40", "job 12345", "stop the job")] == [
        "j-17", "j-40", "12345", None]  # fmt: skip
    assert nl_slots.unit("please restart nginx") == "nginx.service"
    assert nl_slots.unit("restart the Grafana service") == "grafana.service"
    assert nl_slots.unit("restart prometheus.service") == "prometheus.service"
    assert nl_slots.unit("restart it please") is None
    assert nl_slots.explain_target("what did you do to nginx in the past 30 minutes") == "nginx.service"
    assert nl_slots.path("clean up /var/cache/apt.") == "/var/cache/apt"
    assert nl_slots.watts("cap gpu 0 at 300 watts", 0) == 300
    assert nl_slots.watts("set gpu 4 to 250", 4) == 250
    assert nl_slots.gpu_list("start job j-5 on gpus 0, 1 and 3") == [0, 1, 3]


@pytest.mark.parametrize(
    ("text", "shell"),
    [("rm -rf /tmp/*", True), ("ls /var | grep log", True), ("sudo reboot", True),
     ("echo x > /etc/motd", True), ("restart nginx", False), ("roll back inference-api", False),
     ("clean up /var/cache/apt", False)],
)  # fmt: skip
def test_shell_syntax_is_recognised(text: str, shell: bool) -> None:
    assert nl_slots.looks_like_shell(text) is shell


def act(kind: str, target: str, **params: object) -> dict:
    return {"intent": "act", "action": {"kind": kind, "target": target, "params": params}}


@pytest.mark.parametrize(
    ("label", "text", "want"),
    [
        ("restart", "restart job j-3", act("job.requeue", "j-3")),
        ("stop", "stop process 99", act("process.kill", "pid:99", signal="SIGTERM")),
        ("stop", "stop nginx", act("service.stop", "nginx.service")),
        ("start", "start job j-5 on gpus 0 and 1", act("job.start", "j-5", gpus=[0, 1])),
        ("notify", "tell alice that her job is idle", act("notify", "alice", message="her job is idle")),
        ("reboot", "reboot the machine", act("host.reboot", "")),
        ("jobs", "show me all jobs", {"intent": "query", "topic": "jobs", "target": ""}),
        ("audit", "audit entries for gpu 1", {"intent": "query", "topic": "audit", "target": "gpu:1"}),
        # A look-back needs explain, the command with a window: it is not dropped.
        ("audit", "what did you do to gpu 1 in the last hour",
         {"intent": "explain", "target": "gpu:1", "since": "2026-11-20T13:03:00Z"}),
        ("defer", "defer all updates until monday", act("update.defer", "all", until="2026-11-23T00:00:00Z")),
        # A slot the text does not name is never guessed, and an invalid one is not passed on.
        ("drain", "drain it", {"intent": "unknown"}),
        ("power", "cap gpu 1", {"intent": "unknown"}),
        ("power", "cap gpu 1 at 9000 watts", {"intent": "unknown"}),
        ("cleanup", "clean up the disk", {"intent": "unknown"}),
        ("explain", "why?", {"intent": "unknown"}),
        ("start", "start job j-5", {"intent": "unknown"}),
        # One command is one action: two GPUs are not understood, rather than one of them done.
        ("drain", "drain gpu 3 and gpu 2", {"intent": "unknown"}),
        ("reset", "reset gpus 0 and 1", {"intent": "unknown"}),
        ("drain", "drain gpu three", act("gpu.drain", "gpu:3")),
        # A mode has no slot: the text must name it, or a mislabelled one would switch the daemon.
        ("observe", "banana helicopter purple", {"intent": "unknown"}),
        ("supervised", "what a lovely day", {"intent": "unknown"}),
        ("autonomous", "show me gpu 3", {"intent": "unknown"}),
        ("observe", "hands off until monday", {"intent": "autonomy", "mode": "observe",
                                               "until": "2026-11-23T00:00:00Z"}),
        ("supervised", "ask me before every change", {"intent": "autonomy", "mode": "supervised"}),
        ("autonomous", "you can act on your own again", {"intent": "autonomy", "mode": "autonomous"}),
    ],
)  # fmt: skip
def test_label_and_slots_build_the_command(label: str, text: str, want: dict) -> None:
    assert matches(command_wire(nl.command_for(label, text, FRI)), want)


class Fixed:
    """A labeler with a fixed answer, recording what it was asked."""

    def __init__(self, label: str, p: float):
        self.label, self.p, self.asked = label, p, []  # type: ignore[var-annotated]

    def rank(self, texts: list[str]) -> list[dict[str, float]]:
        self.asked += texts
        return [{self.label: self.p, "unknown": 1 - self.p} for _ in texts]


def test_low_confidence_and_shell_text_are_unknown_and_shell_never_reaches_the_model() -> None:
    sure, unsure = Fixed("drain", 0.9), Fixed("drain", 0.4)
    assert command_wire(nl.parse("drain gpu 2", FRI, sure)) == act("gpu.drain", "gpu:2")
    assert nl.parse("drain gpu 2", FRI, unsure) == nl.UNKNOWN
    assert nl.parse("rm -rf / ; drain gpu 2", FRI, sure) == nl.UNKNOWN
    assert nl.parse("   ", FRI, sure) == nl.UNKNOWN
    assert sure.asked == ["drain gpu 2"]


def test_every_mode_phrasing_the_model_is_trained_on_names_its_mode() -> None:
    for mode in ("observe", "supervised", "autonomous"):
        assert [t for t in T[mode] if not nl_slots.names_mode(mode, t)] == [], mode


def test_corpus_is_seeded_covers_every_label_and_is_held_apart_from_test_texts() -> None:
    rows = corpus(20, seed=3, check=consistent)
    assert rows == corpus(20, seed=3, check=consistent)
    assert {label for _, label in rows} == set(nl.LABELS)
    # What nl_train trains on leaves out every evaluation text (the shared cases and our own).
    assert all(need(f) for f in EVAL_SETS) and {shared.COMMANDS, OWN} == {f.resolve() for f in EVAL_SETS}
    tested = eval_texts(EVAL_SETS)
    assert len(tested) == 88
    assert not tested & {normal(t) for t, _ in corpus(120, seed=1, check=consistent, avoid=tested)}


def test_read_cases_names_the_bad_line(tmp_path: Path) -> None:
    f = tmp_path / "cases.jsonl"
    f.write_text('{"text": "status", "now": "2026-11-20T14:03:00+01:00"}\n\n{"text": 3}\n')
    with pytest.raises(ContractError, match=r"cases.jsonl:3: .*text"):
        nl.read_cases(f)
    f.write_text('{"text": "status", "now": "yesterday"}\n')
    with pytest.raises(ContractError, match=r"cases.jsonl:1: now"):
        nl.read_cases(f)
    f.write_text('{"text": "status", "now": "2026-11-20T14:03:00+01:00"}\n{"text": "x"}\n')
    plus_one = timezone(timedelta(hours=1))
    assert nl.read_cases(f) == [("status", datetime(2026, 11, 20, 14, 3, tzinfo=plus_one)), ("x", None)]


# ---------------------------------------------------------------- the trained model


@pytest.fixture(scope="module")
def labeler() -> nl.Labeler:
    pytest.importorskip("transformers")
    from llmosd.nl_model import load_labeler

    return load_labeler()


def _score(path: Path, labeler: nl.Labeler) -> list[str]:
    cases = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    parsed = nl.parse_all(nl.read_cases(path), labeler)
    return [f"{c['text']!r}: got {command_wire(p.command)}" for c, p in zip(cases, parsed, strict=True)
            if not matches(command_wire(p.command), c["expect"])]  # fmt: skip


@pytest.mark.model
def test_shared_command_cases_all_parse(labeler: nl.Labeler) -> None:
    assert _score(need(shared.COMMANDS), labeler) == []


@pytest.mark.model
def test_own_phrasings_all_parse(labeler: nl.Labeler) -> None:
    assert len(OWN.read_text().splitlines()) >= 40
    assert _score(OWN, labeler) == []


@pytest.mark.model
def test_ask_over_the_socket_with_the_model(labeler: nl.Labeler, tmp_path: Path, capsys) -> None:
    d = Path(tempfile.mkdtemp(prefix="llmosd-nl-"))
    backend = LocalBackend(tmp_path)
    try:
        with Server(d / "s.sock", backend, parse=lambda text, now: nl.parse(text, now, labeler)) as srv:
            assert ctl_main(["--socket", str(srv.path), "ask", "--yes", "take gpu 1 out of rotation"]) == 0
            assert "gpu.drain gpu:1: allow" in capsys.readouterr().out
            assert ctl_main(["--socket", str(srv.path), "ask", "write me a limerick about cooling fans"]) == 1
    finally:
        shutil.rmtree(d, ignore_errors=True)
    [decision] = [r for r in backend.log.query() if r.record == "decision"]
    assert decision.actor == "uid=0(root)" and "take gpu 1 out of rotation" in decision.rationale


@pytest.mark.model
def test_explain_keeps_the_record_ids_and_shows_only_a_grounded_model_summary(tmp_path: Path, capsys) -> None:
    from llmosd.nl_model import Summariser

    d = Path(tempfile.mkdtemp(prefix="llmosd-nl-"))
    try:
        with Server(d / "s.sock", LocalBackend(tmp_path), summarise=Summariser()) as srv:
            sock = ["--socket", str(srv.path)]
            assert ctl_main([*sock, "autonomy", "supervised"]) == 0
            assert ctl_main([*sock, "cancel", "j-17"]) == 0  # held for approval
            assert ctl_main([*sock, "--json", "explain", "j-17", "--summary"]) == 0
    finally:
        shutil.rmtree(d, ignore_errors=True)
    ex = json.loads(capsys.readouterr().out.splitlines()[-1])
    # What the model wrote, if the records bear it out; else the records' own digest.
    got = Explanation.model_validate(ex)
    assert ex["summary"] and (grounded(ex["summary"], got) or ex["summary"] == digest(got))
    assert ex["record_ids"] == [r["seq"] for r in ex["records"]] and ex["record_ids"]
    assert "job.stop j-17" in ex["text"] and "verdict approval" in ex["text"]


@pytest.mark.model
def test_parse_verb_single_text_and_file(tmp_path: Path) -> None:
    f = tmp_path / "c.jsonl"
    f.write_text('{"text": "drain gpu 3", "now": null}\n{"text": "tell me a joke"}\n')
    run = [sys.executable, "-m", "llmosd", "parse"]
    p = subprocess.run([*run, "--file", str(f)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert [json.loads(line)["intent"] for line in p.stdout.splitlines()] == ["act", "unknown"]
    one = subprocess.run([*run, "defer openssl until monday", "--now", "2026-11-20T14:03:00Z"],
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert json.loads(one.stdout)["action"]["params"]["until"] == "2026-11-23T00:00:00Z"
    bad = subprocess.run([*run], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "either TEXT or --file" in bad.stderr
