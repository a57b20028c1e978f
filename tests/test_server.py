"""The admin socket on a real Unix socket: roles from SO_PEERCRED, malformed input, concurrency."""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from local_backend import LocalBackend

from llmosd.contract import parse_command
from llmosd.ctl import Client
from llmosd.protocol import MAX_REQUEST, RequestError, Role
from llmosd.server import Server, group_roles

NOBODY = 65534
CHANGES: list[dict[str, Any]] = [
    {"op": "autonomy", "mode": "observe"},
    {"op": "approve", "id": "1"},
    {"op": "deny", "id": "1"},
    {"op": "command", "command": {"intent": "act", "action": {"kind": "gpu.drain", "target": "gpu:1"}}},
    {"op": "command", "command": {"intent": "autonomy", "mode": "supervised"}},
    {"op": "submit", "job": {"argv": ["python", "train.py"]}},
    {"op": "cancel", "job": "j-40"},
]
QUERIES: list[dict[str, Any]] = [
    {"op": "status"},
    {"op": "gpus", "target": "gpu:0"},
    {"op": "jobs"},
    {"op": "services"},
    {"op": "updates"},
    {"op": "audit", "query": {"limit": 5}},
    {"op": "explain", "target": "gpu:1"},
    {"op": "command", "command": {"intent": "query", "topic": "jobs", "target": "alice"}},
]


def act(kind: str, target: str = "") -> dict:
    return {"intent": "act", "action": {"kind": kind, "target": target}}


def json_parser(text: str, now: datetime) -> object:
    """Stands in for the language model: the 'text' is the Command's JSON."""
    return parse_command(json.loads(text))


@pytest.fixture
def sockdir() -> Iterator[Path]:
    # Not under tmp_path: pytest makes that 0700, and some tests connect as `nobody`.
    d = Path(tempfile.mkdtemp(prefix="llmosd-sock-"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def backend(tmp_path: Path) -> LocalBackend:
    return LocalBackend(tmp_path)


def serve(sockdir: Path, backend: LocalBackend, roles: Callable[[int, int], Role | None] | None = None,
          **kw: object) -> Server:  # fmt: skip
    return Server(sockdir / "llmosd.sock", backend, parse=json_parser, roles=roles, **kw).start()  # type: ignore[arg-type]


def raw(path: Path, data: bytes, *, shut: bool = True, timeout: float = 10.0) -> list[dict]:
    """Send bytes as they are; read every response line until the server closes."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(path))
        try:
            s.sendall(data)
            if shut:
                s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server already answered and hung up; its answer is still readable
        buf = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            buf += chunk
    return [json.loads(line) for line in buf.splitlines()]


def lines(*reqs: dict) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in reqs)


def test_admin_reads_and_changes_and_the_guard_judges(sockdir: Path, backend: LocalBackend) -> None:
    with serve(sockdir, backend) as srv:
        c = Client(str(srv.path))
        st_ = c.call("status")
        assert st_["hostname"] == "gpu-07" and st_["mode"] == "autonomous" and st_["jobs_running"] == 1
        assert [g["index"] for g in c.call("gpus", target="gpu:1")] == [1]
        # A reset of a GPU with a process on it is refused by the guard, as for any proposer.
        r = c.call("command", command=act("gpu.reset", "gpu:0"))
        assert r["verdict"] == "deny" and r["outcome"] is None
        ok = c.call("command", text="drain gpu 1", command=act("gpu.drain", "gpu:1"))
        assert ok["verdict"] == "allow" and ok["outcome"] == "ok"
        recs = c.call("audit", query={"target": "gpu:1"})
        assert {r["actor"] for r in recs} == {"uid=0(root)"}
        assert any("drain gpu 1" in r["rationale"] for r in recs)
        ex = c.call("explain", target="gpu:1")
        assert ex["record_ids"] == [r["seq"] for r in recs] and "gpu.drain gpu:1" in ex["text"]
        assert all(f"#{i}" in ex["text"] for i in ok["audit_ids"][:2])
        # A person told about gpu 1 is part of its story, though the notification's target is the person.
        note = {"kind": "notify", "target": "alice", "params": {"message": "[gpu:1] drained; please look"}}
        told = c.call("command", command={"intent": "act", "action": note})
        assert told["outcome"] == "ok"
        ex = c.call("explain", target="gpu:1")
        assert "notify alice" in ex["text"] and set(told["audit_ids"]) <= set(ex["record_ids"])


def test_supervised_mode_holds_a_change_until_approved(sockdir: Path, backend: LocalBackend) -> None:
    with serve(sockdir, backend) as srv:
        c = Client(str(srv.path))
        mode = c.call("autonomy", mode="supervised", until="2026-11-21T00:00:00Z")
        assert (mode["mode"], mode["until"], mode["set_by"]) == (
            "supervised",
            "2026-11-21T00:00:00Z",
            "uid=0(root)",
        )
        held = c.call("command", command=act("gpu.drain", "gpu:1"))
        assert held["verdict"] == "approval" and held["approval_id"] and held["outcome"] is None
        assert [p["id"] for p in c.call("status")["pending"]] == [held["approval_id"]]
        done = c.call("approve", id=held["approval_id"])
        assert done["outcome"] == "ok" and c.call("status")["pending"] == []
        with pytest.raises(RequestError) as e:
            c.call("approve", id=held["approval_id"])
        assert e.value.code == "not_found"


def test_viewer_may_query_but_not_change(sockdir: Path, backend: LocalBackend) -> None:
    with serve(sockdir, backend, roles=lambda uid, gid: "viewer") as srv:
        c = Client(str(srv.path))
        for q in QUERIES:
            c.call(**q)
        before = c.call("audit", query={"limit": 1000})
        for req in CHANGES:
            with pytest.raises(RequestError) as e:
                c.call(**req)
            assert e.value.code == "forbidden", req
        assert c.call("status")["mode"] == "autonomous"
        assert c.call("audit", query={"limit": 1000}) == before
        assert [j["id"] for j in c.call("jobs")] == ["j-17", "j-40"]


def test_unknown_uid_is_refused_and_disconnected(sockdir: Path, backend: LocalBackend) -> None:
    with serve(sockdir, backend, roles=lambda uid, gid: None) as srv:
        out = raw(srv.path, lines({"op": "status", "seq": 7}, {"op": "status", "seq": 8}))
        assert len(out) == 1 and out[0]["seq"] == 7 and out[0]["error"]["code"] == "forbidden"


def _as_nobody(path: Path, req: dict) -> dict:
    """Fork a child that drops to uid `nobody`, then asks the socket; its answer comes back on a pipe."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: no pytest, no locks; just the socket
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            try:
                answer = {"ok": True, "result": Client(str(path), 10).call(**req)}
            except RequestError as e:
                answer = {"ok": False, "code": e.code, "uid": os.getuid()}
            os.write(w, json.dumps(answer).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    os.waitpid(pid, 0)
    return json.loads(data)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch a child to uid nobody")
def test_real_non_root_client(sockdir: Path, backend: LocalBackend) -> None:
    # The shipped role lookup: nobody is in neither group, so it is refused.
    with serve(sockdir, backend, roles=group_roles("no-such-admin-group", "no-such-viewer-group")) as srv:
        assert _as_nobody(srv.path, {"op": "status"}) == {"ok": False, "code": "forbidden", "uid": NOBODY}
    # Mapped to viewer by uid as the kernel reports it: may read, may not change.
    viewer: Callable[[int, int], Role | None] = lambda uid, gid: "viewer" if uid == NOBODY else None  # noqa: E731
    with serve(sockdir, backend, roles=viewer) as srv:
        assert _as_nobody(srv.path, {"op": "status"})["result"]["hostname"] == "gpu-07"
        assert _as_nobody(srv.path, {"op": "autonomy", "mode": "observe"})["code"] == "forbidden"
        assert backend.mode == "autonomous"


def test_group_roles_reads_the_group_database() -> None:
    roles = group_roles("root", "nogroup")  # root's group as admins, nogroup as viewers
    assert roles(0, 0) == "admin"
    assert roles(NOBODY, 65534) == "viewer"
    assert roles(12345, 12345) is None


def test_malformed_lines_get_errors_and_the_connection_goes_on(sockdir: Path, backend: LocalBackend) -> None:
    with serve(sockdir, backend) as srv:
        out = raw(srv.path, b"{not json\n" + b"[1,2]\n" + b"\xff\xfe\n" + lines(
            {"op": "nope", "seq": 3}, {"op": "gpus", "target": 5, "seq": 4},
            {"op": "command", "seq": 5, "command": act("gpu.drain", "x")},
            {"op": "command", "seq": 6, "command": {"intent": "unknown"}},
            {"op": "status", "seq": 9},
        ))  # fmt: skip
        codes = [o["error"]["code"] if not o["ok"] else "ok" for o in out]
        assert codes == ["bad_json", "bad_json", "bad_json", "bad_request", "bad_request", "bad_request",
                         "bad_request", "ok"]  # fmt: skip
        assert [o["seq"] for o in out[3:]] == [3, 4, 5, 6, 9]
        assert "target" in out[4]["error"]["message"] and "gpu:N" in out[5]["error"]["message"]


def test_one_megabyte_frame_is_refused_and_the_daemon_stays_up(sockdir: Path, backend: LocalBackend) -> None:
    with serve(sockdir, backend) as srv:
        out = raw(srv.path, os.urandom(1 << 20).replace(b"\n", b"x"), shut=False)
        assert [o["error"]["code"] for o in out] == ["too_large"]
        assert str(MAX_REQUEST) in out[0]["error"]["message"]
        assert Client(str(srv.path)).call("status")["hostname"] == "gpu-07"


def test_half_open_and_silent_connections(sockdir: Path, backend: LocalBackend) -> None:
    with serve(sockdir, backend, read_timeout=0.5) as srv:
        assert [o["error"]["code"] for o in raw(srv.path, b'{"op": "sta')] == ["incomplete"]
        silent = raw(srv.path, b'{"op": "status"', shut=False)  # never finishes its line
        assert [o["error"]["code"] for o in silent] == ["timeout"]
        assert raw(srv.path, b"") == []  # connect and hang up: nothing to answer
        assert Client(str(srv.path)).call("status")["mode"] == "autonomous"


def test_backend_bug_is_an_internal_error_not_a_crash(sockdir: Path, backend: LocalBackend) -> None:
    def broken(target: str) -> list:
        raise KeyError("bug")

    backend.services = broken  # type: ignore[method-assign]
    with serve(sockdir, backend) as srv:
        out = raw(srv.path, lines({"op": "services", "seq": 1}, {"op": "status", "seq": 2}))
        assert out[0]["error"]["code"] == "internal" and "bug" not in out[0]["error"]["message"]
        assert out[1]["ok"]


def test_too_many_clients_are_told_so(sockdir: Path, backend: LocalBackend) -> None:
    with serve(sockdir, backend, max_clients=2, read_timeout=5) as srv:
        held = [socket.socket(socket.AF_UNIX) for _ in range(2)]
        for s in held:
            s.connect(str(srv.path))
        try:
            with pytest.raises(RequestError) as e:
                Client(str(srv.path)).call("status")
            assert e.value.code == "busy"
        finally:
            for s in held:
                s.close()


def test_live_socket_is_not_stolen_stale_one_is_replaced(sockdir: Path, backend: LocalBackend) -> None:
    with serve(sockdir, backend) as srv:
        with pytest.raises(Exception, match="another daemon"):
            serve(sockdir, backend)
        path = srv.path
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))  # a socket file nobody listens on, as a crashed daemon leaves it
    stale.close()
    with serve(sockdir, backend) as srv:
        assert Client(str(srv.path)).call("status")["hostname"] == "gpu-07"
    assert not path.exists()


def test_fifty_clients_at_once_all_get_answers(sockdir: Path, backend: LocalBackend) -> None:
    with serve(sockdir, backend) as srv:
        answers: list[str] = []

        def ask() -> None:
            answers.append(Client(str(srv.path)).call("status")["hostname"])

        threads = [threading.Thread(target=ask) for _ in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert answers == ["gpu-07"] * 50
        assert srv.served == 50


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[Server]:
    d = Path(tempfile.mkdtemp(prefix="llmosd-fuzz-"))
    srv = Server(d / "s.sock", LocalBackend(d), parse=json_parser, read_timeout=2).start()  # type: ignore[arg-type]
    yield srv
    srv.stop()
    shutil.rmtree(d, ignore_errors=True)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_ops = st.sampled_from(["status", "gpus", "audit", "explain", "parse", "approve", "autonomy", "command",
                        "submit", "cancel", "x"])  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(garbage=st.binary(max_size=2000), fields=st.dictionaries(st.text(max_size=10), _json, max_size=4),
       op=_ops)  # fmt: skip
def test_fuzz_every_line_gets_an_answer_and_nothing_breaks(
    fuzz_server: Server, garbage: bytes, fields: dict, op: str
) -> None:
    frames = [garbage.replace(b"\n", b" "), json.dumps({**fields, "op": op}).encode()]
    frames = [f for f in frames if f.strip()]
    out = raw(fuzz_server.path, b"".join(f + b"\n" for f in frames))
    assert len(out) == len(frames)
    for o in out:
        assert o["ok"] or o["error"]["code"] in ("bad_json", "bad_request", "not_found", "refused"), o
    assert Client(str(fuzz_server.path)).call("status")["hostname"] == "gpu-07"
