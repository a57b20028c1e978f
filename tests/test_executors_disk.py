"""disk.cleanup on a real directory tree with links pointing out of it."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from llmosd.contract import make_action, parse_snapshot
from llmosd.errors import ExecutorError
from llmosd.executors import runner
from llmosd.executors.disk import DiskArea
from llmosd.policy import Policy, load_policy

SNAP = parse_snapshot({"id": "t", "now": "2026-11-20T14:00:00Z", "host": {"hostname": "h"}})
OLD = time.time() - 3 * 86400


def old(p: Path) -> Path:
    os.utime(p, (OLD, OLD), follow_symlinks=False)
    return p


def write(p: Path, size: int = 10, aged: bool = True) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(b"x" * size)
    return old(p) if aged else p


def disposable(root: Path) -> Policy:
    policy = load_policy()
    return policy.model_copy(update={"disks": policy.disks.model_copy(update={"disposable": [str(root)]})})


@pytest.fixture
def tree(tmp_path: Path) -> tuple[DiskArea, Path, Path]:
    cache, outside = tmp_path / "cache", tmp_path / "precious"
    write(outside / "thesis.tex")
    write(outside / "deep" / "data.bin")
    return DiskArea(disposable(cache), runner.run), cache, outside


def test_cleanup_removes_old_files_and_never_follows_links_out(tree: tuple[DiskArea, Path, Path]) -> None:
    area, cache, outside = tree
    write(cache / "pkg.deb", 2 * 2**20)
    young = write(cache / "partial.deb", aged=False)
    write(cache / "sub" / "a" / "old.whl")
    keep_dir = cache / "busy"
    write(keep_dir / "old.whl")
    write(keep_dir / "new.whl", aged=False)
    (cache / "to-dir").symlink_to(outside)
    (cache / "to-file").symlink_to(outside / "thesis.tex")
    old(cache / "to-dir")
    old(cache / "to-file")
    os.mkfifo(cache / "pipe")
    old(cache / "pipe")

    a = make_action("disk.cleanup", str(cache))
    detail = area.do(a, SNAP)
    assert "2.0 MiB freed" in detail
    left = sorted(str(p.relative_to(cache)) for p in cache.rglob("*"))
    assert left == ["busy", "busy/new.whl", "partial.deb", "pipe"]
    assert young.exists() and cache.is_dir()
    # Links went as links; what they pointed at is untouched.
    assert (outside / "thesis.tex").exists() and (outside / "deep" / "data.bin").exists()
    ok, why = area.check(a, SNAP, SNAP.now)
    assert ok, why


def test_a_target_that_resolves_outside_is_refused(tree: tuple[DiskArea, Path, Path]) -> None:
    area, cache, outside = tree
    cache.mkdir()
    (cache / "innocent").symlink_to(outside)
    for target in (cache / "innocent", cache / "innocent" / "deep", outside):
        with pytest.raises(ExecutorError, match="outside every disposable path"):
            area.do(make_action("disk.cleanup", str(target)), SNAP)
    assert (outside / "thesis.tex").exists() and (outside / "deep" / "data.bin").exists()


@pytest.mark.skipif(shutil.which("journalctl") is None, reason="journalctl is not installed")
def test_the_journal_is_vacuumed_not_deleted(tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    write(journal / "system.journal")
    policy = load_policy()
    policy = policy.model_copy(
        update={"disks": policy.disks.model_copy(update={"disposable": [str(journal)]})}
    )
    area = DiskArea(
        policy, runner.run, journalctl=("journalctl", f"--directory={journal}"), journal=str(journal)
    )
    detail = area.do(make_action("disk.cleanup", str(journal)), SNAP)
    assert detail.startswith("journal vacuumed to 500M")
    assert (journal / "system.journal").exists()  # vacuum only drops archived files, never the active one
