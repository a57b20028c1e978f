"""GPU actions (through an NVML-shaped board and a recording nvidia-smi) and apt updates."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from llmosd.audit import AuditLog, Context
from llmosd.contract import Judged, make_action, parse_snapshot
from llmosd.errors import ExecutorError
from llmosd.executors import Executors, runner
from llmosd.executors.systemd import Systemd
from llmosd.executors.updates import UpdateArea, parse_simulation
from llmosd.policy import load_policy

SNAP = parse_snapshot({
    "id": "t", "now": "2026-11-20T14:00:00Z", "host": {"hostname": "h"},
    "gpus": [{"index": 0}, {"index": 1}],
})  # fmt: skip
RECORDER = "import json, sys; open(sys.argv[1], 'a').write(json.dumps(sys.argv[2:]) + '\\n')"


class Board:
    """The GpuControl surface of the NVML adapter, over two GPUs held in memory."""

    def __init__(self) -> None:
        self.procs: dict[int, list[int]] = {0: [], 1: []}
        self.limits = {0: 700.0, 1: 700.0}
        self.lost: set[int] = set()

    def processes(self, index: int) -> list[int]:
        return list(self.procs[index])

    def power_limit(self, index: int) -> float:
        return self.limits[index]

    def set_power_limit(self, index: int, watts: float) -> None:
        self.limits[index] = watts

    def alive(self, index: int) -> bool:
        return index not in self.lost


def recorder(tmp_path: Path, name: str) -> tuple[tuple[str, ...], Path]:
    """A real program standing in for nvidia-smi / systemctl: it writes down how it was called."""
    calls = tmp_path / f"{name}.calls"
    return (sys.executable, "-c", RECORDER, str(calls)), calls


def calls(path: Path) -> list[list[str]]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def audit(tmp_path: Path) -> Iterator[AuditLog]:
    log = AuditLog(tmp_path / "audit.db")
    yield log
    log.close()


def allow(kind: str, target: str, **params: Any) -> Judged:
    return Judged(action=make_action(kind, target, **params), verdict="allow", reasons=["test"])


def test_reset_asks_nvml_again_and_never_resets_a_busy_gpu(tmp_path: Path, audit: AuditLog) -> None:
    board, (smi, smi_calls) = Board(), recorder(tmp_path, "smi")
    ex = Executors(
        audit=audit, policy=load_policy(), state_dir=tmp_path, systemd=None, nvml=board, nvidia_smi=smi
    )
    board.procs[1] = [4411]  # started after the snapshot, which showed GPU 1 idle
    out = ex.execute(allow("gpu.reset", "gpu:1"), SNAP, Context("rules"))
    assert out.status == "failed" and "has processes on it now (pid 4411)" in out.detail
    assert calls(smi_calls) == []

    out = ex.execute(allow("gpu.reset", "gpu:0"), SNAP, Context("rules"))
    assert out.status == "ok" and "answers NVML" in out.detail
    assert calls(smi_calls) == [["--gpu-reset", "-i", "0"]]
    # The ladder allows one reset a day; the next step is a reboot (which needs a person).
    out = ex.execute(allow("gpu.reset", "gpu:0"), SNAP, Context("rules"))
    assert out.status == "refused" and out.next_step == make_action("host.reboot", "h")


def test_a_gpu_lost_after_its_reset_is_a_failure(tmp_path: Path, audit: AuditLog) -> None:
    board, (smi, _) = Board(), recorder(tmp_path, "smi")
    ex = Executors(
        audit=audit, policy=load_policy(), state_dir=tmp_path, systemd=None, nvml=board, nvidia_smi=smi
    )
    board.lost.add(0)
    out = ex.execute(allow("gpu.reset", "gpu:0"), SNAP, Context("rules"))
    assert out.status == "failed" and "does not answer NVML" in out.detail


def test_power_limit_is_set_and_read_back(tmp_path: Path, audit: AuditLog) -> None:
    board = Board()
    ex = Executors(audit=audit, policy=load_policy(), state_dir=tmp_path, systemd=None, nvml=board)
    out = ex.execute(allow("gpu.set_power_limit", "gpu:1", watts=595), SNAP, Context("rules"))
    assert out.status == "ok" and "700 W -> 595 W" in out.detail and board.limits[1] == 595
    no_nvml = Executors(audit=audit, policy=load_policy(), state_dir=tmp_path / "x", systemd=None)
    out = no_nvml.execute(allow("gpu.set_power_limit", "gpu:1", watts=500), SNAP, Context("rules"))
    assert out.status == "failed" and "NVML is not available" in out.detail


def test_apt_simulation_is_parsed() -> None:
    text = (
        "Inst openssl [3.0.11-1~deb12u1] (3.0.13-1~deb12u2 Debian-Security:12/stable-security [amd64])\n"
        "Inst libfoo2 (2.1-3 Debian:12.5/stable [amd64])\n"
        "Conf openssl (3.0.13-1~deb12u2 Debian-Security:12/stable-security [amd64])\n"
    )
    ups = parse_simulation(text)
    assert [(u.package, u.from_, u.to, u.security) for u in ups] == [
        ("openssl", "3.0.11-1~deb12u1", "3.0.13-1~deb12u2", True), ("libfoo2", None, "2.1-3", False),
    ]  # fmt: skip


@pytest.mark.skipif(shutil.which("apt-get") is None, reason="no apt-get on this machine")
def test_pending_updates_from_the_real_apt_get(tmp_path: Path) -> None:
    seen: list[runner.Result] = []

    def run(
        argv: Sequence[str], timeout: float = 60.0, *, env: Mapping[str, str] | None = None
    ) -> runner.Result:
        seen.append(runner.run(argv, timeout, env=env))
        return seen[-1]

    listed = UpdateArea(run, tmp_path / "deferred.json", Systemd(run)).pending()
    assert seen[0].argv[:2] == ("apt-get", "-s") and seen[0].ok
    assert len(listed) == sum(1 for line in seen[0].stdout.splitlines() if line.startswith("Inst "))
    assert all(u.package and u.to for u in listed)


def test_defer_expires_and_reboot_goes_through_systemd(tmp_path: Path) -> None:
    now = [datetime(2026, 11, 20, 14, 0, tzinfo=UTC)]
    systemctl, sd_calls = recorder(tmp_path, "systemctl")
    area = UpdateArea(
        runner.run, tmp_path / "deferred.json", Systemd(runner.run, systemctl), clock=lambda: now[0]
    )
    area.do(make_action("update.defer", "openssl", until="2026-11-22T00:00:00Z"), SNAP)
    area.do(make_action("update.defer", "all"), SNAP)  # the default: a week
    assert set(area.deferred()) == {"openssl", "all"}
    now[0] += timedelta(days=2)
    assert set(area.deferred()) == {"all"}
    assert area.check(make_action("update.defer", "openssl"), SNAP, now[0])[0] is False

    assert area.do(make_action("host.reboot", "h"), SNAP) == "systemctl reboot"
    assert calls(sd_calls) == [["reboot"]]
    ok, why = area.check(make_action("host.reboot", "h"), SNAP, datetime.now(UTC))
    assert ok is None and "not restarted yet" in why
    assert area.check(make_action("host.reboot", "h"), SNAP, datetime(2000, 1, 1, tzinfo=UTC))[0] is True


def test_a_failing_program_is_an_executor_error(tmp_path: Path) -> None:
    with pytest.raises(ExecutorError, match="program not found"):
        runner.run(["/nonexistent/nvidia-smi", "-r"], timeout=5)
    with pytest.raises(ExecutorError, match=r"no answer within 0\.2 s"):
        runner.run(["sleep", "5"], timeout=0.2)
    r = runner.run([sys.executable, "-c", "import sys; print('bad flag', file=sys.stderr); sys.exit(3)"])
    assert not r.ok and r.why().endswith("exit 3: bad flag")


NVML_CHILD = """
import json, sys
from pathlib import Path
from llmosd.audit import AuditLog, Context
from llmosd.contract import Judged, make_action, parse_snapshot
from llmosd.errors import ExecutorError
from llmosd.executors import Executors
from llmosd.executors.gpu import NvmlControl
from llmosd.policy import load_policy
from llmosd.telemetry.nvml import Nvml

lib, work, smi = sys.argv[1], Path(sys.argv[2]), json.loads(sys.argv[3])
c = NvmlControl(Nvml(lib))
out = {"procs": [c.processes(0), c.processes(1)], "limit": c.power_limit(0)}
out["alive"] = [c.alive(0), c.alive(3)]
try:
    c.processes(2)
except ExecutorError as e:
    out["unknown"] = str(e)
snap = parse_snapshot({"id": "t", "now": "2026-11-20T14:00:00Z", "host": {"hostname": "h"},
                       "gpus": [{"index": i} for i in range(4)]})
ex = Executors(audit=AuditLog(work / "a.db"), policy=load_policy(), state_dir=work, systemd=None, nvml=c,
               nvidia_smi=tuple(smi))
for i in range(3):
    j = Judged(action=make_action("gpu.reset", f"gpu:{i}"), verdict="allow", reasons=["t"])
    o = ex.execute(j, snap, Context("rules"))
    out[f"reset{i}"] = [o.status, o.detail]
print(json.dumps(out))
"""


def test_nvml_control_over_the_real_nvml_adapter_and_stub(tmp_path: Path) -> None:
    # nvidia-ml-py binds one library per process, so this runs in a child of its own.
    from nvml_fixture import GPU_IS_LOST, NOT_SUPPORTED, NvmlStub, fleet

    stub = NvmlStub(tmp_path / "nvml")
    gpus = fleet(4)
    gpus[1].procs = [(4411, 30000)]
    gpus[2].fail = {"procs": NOT_SUPPORTED, "gprocs": NOT_SUPPORTED}
    gpus[3].fail = {"name": GPU_IS_LOST}
    stub.set(gpus)
    smi, smi_calls = recorder(tmp_path, "smi")
    argv = [sys.executable, "-c", NVML_CHILD, str(stub.library), str(tmp_path), json.dumps(smi)]
    r = runner.run(argv, timeout=60)
    assert r.ok, r.stderr
    out = json.loads(r.stdout)
    assert out["procs"] == [[], [4411]] and out["limit"] == 700.0 and out["alive"] == [True, False]
    assert "cannot list its processes" in out["unknown"]
    assert out["reset1"][0] == "failed" and "pid 4411" in out["reset1"][1]
    assert out["reset2"][0] == "failed" and "cannot list its processes" in out["reset2"][1]
    assert out["reset0"][0] == "ok", out["reset0"]
    assert calls(smi_calls) == [["--gpu-reset", "-i", "0"]]
