"""The socket protocol's models: what a request may be, who may send it, what an answer looks like."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from llmosd.contract import parse_command
from llmosd.protocol import (
    AuditReq,
    AutonomyReq,
    CommandReq,
    ExplainReq,
    ListReq,
    Peer,
    RequestError,
    Response,
    StatusReq,
    decode_request,
    decode_response,
    dump_result,
    encode,
)


def req(**fields: object) -> object:
    return decode_request(json.dumps(fields).encode())


def test_each_op_decodes_to_its_model() -> None:
    assert isinstance(req(op="status"), StatusReq)
    assert req(op="gpus", target="gpu:0") == ListReq(op="gpus", target="gpu:0")
    audit = req(op="audit", query={"kind": "gpu", "since": "2026-11-20T00:00:00Z", "limit": 5})
    assert isinstance(audit, AuditReq) and audit.query.limit == 5
    assert audit.query.since is not None and audit.query.since.tzinfo is not None
    assert req(op="autonomy", mode="observe", until=None) == AutonomyReq(op="autonomy", mode="observe")
    cmd = req(op="command", command={"intent": "act", "action": {"kind": "gpu.drain", "target": "gpu:3"}})
    assert isinstance(cmd, CommandReq) and cmd.command.action.target == "gpu:3"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("fields", "changes"),
    [
        ({"op": "status"}, False),
        ({"op": "explain", "target": "gpu:1"}, False),
        ({"op": "parse", "text": "drain gpu 1"}, False),
        ({"op": "audit"}, False),
        ({"op": "approve", "id": "7"}, True),
        ({"op": "deny", "id": "7"}, True),
        ({"op": "autonomy", "mode": "autonomous"}, True),
        ({"op": "submit", "job": {"argv": ["sleep", "1"]}}, True),
        ({"op": "cancel", "job": "j-1"}, True),
        ({"op": "command", "command": {"intent": "query", "topic": "jobs"}}, False),
        ({"op": "command", "command": {"intent": "explain", "target": "nginx.service"}}, False),
        ({"op": "command", "command": {"intent": "autonomy", "mode": "observe"}}, True),
        ({"op": "command", "command": {"intent": "act", "action": {"kind": "host.reboot"}}}, True),
    ],
)
def test_changes_is_what_a_viewer_may_not_send(fields: dict, changes: bool) -> None:
    assert req(**fields).changes() is changes  # type: ignore[attr-defined]


def test_a_command_expands_to_the_plain_request_it_stands_for() -> None:
    def expand(command: dict) -> object:
        return CommandReq(op="command", seq=4, command=parse_command(command)).expand()

    assert expand({"intent": "query", "topic": "status"}) == StatusReq(op="status", seq=4)
    assert expand({"intent": "query", "topic": "jobs", "target": "alice"}) == ListReq(
        op="jobs", seq=4, target="alice"
    )
    audit = expand({"intent": "query", "topic": "audit", "target": "gpu:2"})
    assert isinstance(audit, AuditReq) and audit.query.target == "gpu:2"
    ex = expand({"intent": "explain", "target": "gpu:2", "since": "2026-11-20T00:00:00Z"})
    assert isinstance(ex, ExplainReq) and ex.target == "gpu:2" and ex.since is not None
    assert expand({"intent": "autonomy", "mode": "observe"}) == AutonomyReq(
        op="autonomy", seq=4, mode="observe"
    )
    act = {"intent": "act", "action": {"kind": "gpu.drain", "target": "gpu:1"}}
    assert isinstance(expand(act), CommandReq)
    with pytest.raises(RequestError) as e:
        expand({"intent": "unknown"})
    assert e.value.code == "bad_request" and e.value.seq == 4


@pytest.mark.parametrize(
    ("line", "code", "words"),
    [
        (b"{oops", "bad_json", "not valid JSON"),
        (b"[]", "bad_json", "a request is a JSON object"),
        (b"\xff\xfe", "bad_json", "not UTF-8"),
        (b'{"op": "fly"}', "bad_request", "op"),
        (b'{"op": "gpus", "target": 3, "seq": 9}', "bad_request", "target"),
        (b'{"op": "status", "extra": 1}', "bad_request", "extra"),
        (b'{"op": "autonomy", "mode": "chaos"}', "bad_request", "mode"),
        (b'{"op": "command", "command": {"intent": "act", "action": {"kind": "gpu.drain", "target": "3"}}}',
         "bad_request", "gpu:N"),
        (b'{"op": "parse", "text": ""}', "bad_request", "text"),
    ],
)  # fmt: skip
def test_bad_requests_say_what_is_wrong(line: bytes, code: str, words: str) -> None:
    with pytest.raises(RequestError) as e:
        decode_request(line)
    assert e.value.code == code and words in str(e.value)
    assert e.value.exit_code == 2
    if b'"seq": 9' in line:
        assert e.value.seq == 9


def test_an_answer_is_one_line_and_reads_back() -> None:
    resp = Response(seq=3, ok=True, result={"text": "line one\nline two"})
    wire = encode(resp)
    assert wire.endswith(b"\n") and wire.count(b"\n") == 1
    assert decode_response(wire) == resp


def test_a_backend_answer_of_the_wrong_shape_is_caught_before_sending() -> None:
    with pytest.raises(ValidationError):
        dump_result("gpus", [{"name": "no index"}])
    assert dump_result("updates", [{"package": "openssl", "from": "1", "to": "2"}])[0]["from"] == "1"


def test_peer_names_itself_as_the_audit_log_names_people() -> None:
    assert Peer(pid=1, uid=1000, gid=1000, user="alice", role="admin").actor() == "uid=1000(alice)"


_KEYS = st.sampled_from(["op", "seq", "target", "mode", "id", "text", "job", "query", "command"])
_VALUES = st.none() | st.integers() | st.text(max_size=30) | st.lists(st.integers(), max_size=3)


@given(st.dictionaries(_KEYS, _VALUES))
def test_any_json_object_is_a_request_or_a_request_error(fields: dict) -> None:
    try:
        decode_request(json.dumps(fields).encode())
    except RequestError as e:
        assert e.code in ("bad_json", "bad_request")
