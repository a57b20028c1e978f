"""Service actions against a real systemd, booted in a throw-away container (RECIPES.md).

The container boots the host's own /usr read-only on a tmpfs root; units are
written into its /run. `systemctl` reaches it through nsenter, the same argv
prefix a deployment could use for a unit in a container.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmosd.audit import AuditLog, Context
from llmosd.contract import Judged, make_action, parse_snapshot
from llmosd.executors import Executors, runner
from llmosd.executors.systemd import Systemd
from llmosd.policy import load_policy

SNAP = parse_snapshot({"id": "t", "now": "2026-11-20T14:00:00Z", "host": {"hostname": "h"}})


def sh(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def _nspawn() -> str | None:
    if os.geteuid() != 0:
        return None
    if shutil.which("systemd-nspawn") is None:
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "systemd-container"], capture_output=True, check=False
        )
    return shutil.which("systemd-nspawn")


@pytest.fixture(scope="module")
def container() -> Iterator[tuple[tuple[str, ...], Path]]:
    nspawn = _nspawn()
    if nspawn is None:
        pytest.skip("needs root and systemd-nspawn (apt-get install systemd-container) for a real systemd")
    tmp = Path(tempfile.mkdtemp())
    (tmp / "bus").mkdir()
    argv = [
        nspawn, "-q", "-D", "/", "--volatile=yes", "-M", f"llmosd-t{os.getpid()}", "-b", "--register=no",
        "--keep-unit", "--console=read-only", f"--bind={tmp}/bus:/run/dbus",
        "systemd.firstboot=off", "systemd.unit=basic.target",
    ]  # fmt: skip
    boot = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    prefix: tuple[str, ...] = ()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not prefix:
            found = subprocess.run(
                ["pgrep", "-P", str(boot.pid), "-x", "systemd"], capture_output=True, text=True
            )
            pid = found.stdout.split()[0] if found.stdout.split() else None
            if pid:
                nsenter = ("nsenter", "-t", pid, "-m", "-u", "-i", "-n", "-p", "systemctl")
                if sh(*nsenter, "is-system-running").stdout.strip() in ("running", "degraded"):
                    prefix = nsenter
            time.sleep(0.1)
        if not prefix:
            pytest.skip("the systemd container did not come up within 30 s")
        yield prefix, Path(f"/proc/{prefix[2]}/root/run/systemd/system")
    finally:
        if prefix:
            sh(*prefix, "poweroff")
        try:
            boot.wait(20)
        except subprocess.TimeoutExpired:
            boot.kill()
            boot.wait()
        shutil.rmtree("/run/systemd/nspawn", ignore_errors=True)
        with contextlib.suppress(OSError):
            os.rmdir("/run/systemd/nspawn-root")  # nspawn's empty mount point, if it left one
        shutil.rmtree(tmp, ignore_errors=True)


def allow(kind: str, target: str) -> Judged:
    return Judged(action=make_action(kind, target), verdict="allow", reasons=["test"])


def test_start_restart_stop_a_real_unit(container: tuple[tuple[str, ...], Path], tmp_path: Path) -> None:
    systemctl, units = container
    (units / "demo.service").write_text("[Service]\nExecStart=/bin/sleep 1000\n")
    (units / "broken.service").write_text("[Service]\nExecStart=/nonexistent/vllm serve\n")
    sd = Systemd(runner.run, systemctl)
    runner.run([*systemctl, "daemon-reload"])
    audit = AuditLog(tmp_path / "audit.db")
    ex = Executors(audit=audit, policy=load_policy(), state_dir=tmp_path, systemd=sd)
    ctx = Context("rules")

    out = ex.execute(allow("service.start", "demo.service"), SNAP, ctx)
    assert out.status == "ok" and "demo.service is active" in out.detail, out.detail
    first = sd.state("demo.service").main_pid
    out = ex.execute(allow("service.restart", "demo.service"), SNAP, ctx)
    assert out.status == "ok", out.detail
    assert sd.state("demo.service").main_pid not in (0, first)
    out = ex.execute(allow("service.stop", "demo.service"), SNAP, ctx)
    assert out.status == "ok" and "stopped" in out.detail
    assert sd.state("demo.service").active == "inactive"

    out = ex.execute(allow("service.start", "broken.service"), SNAP, ctx)
    assert out.status == "failed", out.detail
    out = ex.execute(allow("service.restart", "ghost.service"), SNAP, ctx)
    assert out.status == "failed" and "ghost.service" in out.detail
    assert audit.verify().ok
    audit.close()
