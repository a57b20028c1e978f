"""Rollback with real release folders, a real `current` link, a real service and an HTTP health check."""

from __future__ import annotations

import os
import socket
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from llmosd.audit import AuditLog, Context, Filters
from llmosd.contract import Snapshot, make_action, parse_snapshot
from llmosd.executors import Executors, Outcome
from llmosd.executors.rollback import Releases
from llmosd.executors.supervise import HealthSpec, ServiceSpec, Supervisor
from llmosd.guard import judge
from llmosd.policy import load_policy

UNIT = "app.service"
NOW = "2026-11-20T14:00:00Z"
GOOD = """
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"release {n}")
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""
BROKEN = "import vllm_kernels_that_are_not_there\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def release(root: Path, n: int, code: str) -> None:
    d = root / UNIT / "releases" / str(n)
    d.mkdir(parents=True)
    (d / "app.py").write_text(code.replace("{n}", str(n)))


class World(NamedTuple):
    ex: Executors
    sup: Supervisor
    audit: AuditLog
    root: Path
    port: int


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    root, port = tmp_path / "releases", free_port()
    audit = AuditLog(tmp_path / "audit.db")
    spec = ServiceSpec(
        command=[sys.executable, str(root / UNIT / "current" / "app.py"), str(port)],
        health=HealthSpec(url=f"http://127.0.0.1:{port}/", timeout=5, interval=0.1),
    )
    policy = load_policy()
    sup = Supervisor({UNIT: spec}, audit=audit, policy=policy, state_dir=tmp_path / "state")
    ex = Executors(audit=audit, policy=policy, state_dir=tmp_path / "state", supervisor=sup, releases=root)
    yield World(ex, sup, audit, root, port)
    sup.close()
    audit.close()


def snapshot(sup: Supervisor) -> Snapshot:
    services = [s.model_dump(mode="json") for s in sup.services()]
    return parse_snapshot(
        {"id": "t", "now": "2026-11-20T14:00:00Z", "host": {"hostname": "h"}, "services": services}
    )


def rollback(ex: Executors, sup: Supervisor, **params: str) -> Outcome:
    snap = snapshot(sup)
    [judged] = judge([make_action("service.rollback", UNIT, **params)], snap, ex.policy)
    assert judged.verdict == "allow", judged.reasons
    return ex.execute(judged, snap, Context("rules", rationale="broken release"))


def test_rollback_of_a_broken_release_restores_the_previous_one(world: World) -> None:
    ex, sup, audit, root, port = world
    release(root, 1, GOOD)
    release(root, 2, BROKEN)
    Releases(root).switch(UNIT, 2)
    sup.start_all()
    assert not sup.healthy(UNIT)[0]  # release 2 dies on import

    out = rollback(ex, sup)
    assert out.status == "ok", out.detail
    assert "release 2 -> 1" in out.detail
    assert os.readlink(root / UNIT / "current") == "releases/1"
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
        assert r.read() == b"release 1"
    recs = list(audit.query(Filters(kind="service.rollback")))
    assert [(r.record, r.outcome) for r in recs] == [("intent", None), ("outcome", "ok")]
    assert audit.verify().ok


def test_a_rollback_that_fails_its_health_check_switches_back(world: World) -> None:
    ex, sup, _, root, _ = world
    release(root, 1, BROKEN)
    release(root, 2, GOOD)
    release(root, 3, BROKEN)
    Releases(root).switch(UNIT, 2)
    sup.start_all()
    assert sup.healthy(UNIT)[0]

    out = rollback(ex, sup, to="1")
    assert out.status == "failed"
    assert "release 1 failed its health check" in out.detail and "healthy again" in out.detail
    assert os.readlink(root / UNIT / "current") == "releases/2"
    assert sup.healthy(UNIT)[0]


def test_nothing_older_to_roll_back_to(world: World) -> None:
    ex, sup, _, root, _ = world
    release(root, 1, GOOD)
    Releases(root).switch(UNIT, 1)
    sup.start_all()
    out = rollback(ex, sup)
    assert out.status == "failed" and "no release older than 1" in out.detail
    assert os.readlink(root / UNIT / "current") == "releases/1"


def test_the_current_link_never_disappears_while_switching(tmp_path: Path) -> None:
    for n in (1, 2):
        release(tmp_path, n, GOOD)
    rel = Releases(tmp_path)
    rel.switch(UNIT, 1)
    seen: set[str] = set()
    errors: list[OSError] = []
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            try:
                seen.add(os.readlink(tmp_path / UNIT / "current"))
            except OSError as e:
                errors.append(e)

    t = threading.Thread(target=reader)
    t.start()
    for i in range(400):
        rel.switch(UNIT, 1 + i % 2)
    done.set()
    t.join()
    assert errors == [] and seen == {"releases/1", "releases/2"}
