"""`disk.cleanup`: delete old files under a path the policy marks disposable.

The target is resolved (symlinks, `..`) and must lie inside a disposable
root. The walk then works on directory file descriptors and never follows a
symlink: a link is removed as a link, whatever it points at, and nothing on
another filesystem mounted below the target is touched. Only regular files
and links older than `disks.min_age` go, plus empty old folders; the target
folder itself stays. The journal is not deleted file by file but vacuumed
with `journalctl --vacuum-size`.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from llmosd.contract import Action, Snapshot
from llmosd.errors import ExecutorError
from llmosd.executors.runner import Run
from llmosd.policy import Policy

JOURNAL = "/var/log/journal"


def inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def sweep(top: str, cutoff: float, *, dry: bool = False) -> tuple[int, int]:
    """Remove (or with dry=True, count) what is older than `cutoff` below `top`: (entries, bytes).

    A folder goes when it is empty and either old itself or emptied by this sweep (removing
    its files has just made its own time new).
    """
    n = freed = 0
    dev = os.lstat(top).st_dev
    emptied: set[int] = set()
    for _dir, dirs, files, fd in os.fwalk(top, topdown=False, follow_symlinks=False):
        if os.fstat(fd).st_dev != dev:
            continue
        gone = 0
        for name in files + dirs:
            try:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
                if st.st_dev != dev:
                    continue
                if stat.S_ISDIR(st.st_mode):
                    if dry or (st.st_mtime >= cutoff and st.st_ino not in emptied):
                        continue  # a dry count is about files; whether a folder empties depends on them
                    os.rmdir(name, dir_fd=fd)  # only succeeds when empty
                elif (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)) and st.st_mtime < cutoff:
                    if not dry:
                        os.unlink(name, dir_fd=fd)
                    freed += st.st_size if stat.S_ISREG(st.st_mode) else 0
                else:
                    continue  # young files; sockets, pipes, devices belong to someone running
            except OSError:
                continue  # vanished, busy, or a non-empty folder: leave it
            n, gone = n + 1, gone + 1
        if gone and gone == len(files) + len(dirs):
            emptied.add(os.fstat(fd).st_ino)
    return n, freed


class DiskArea:
    kinds = frozenset({"disk.cleanup"})

    def __init__(
        self, policy: Policy, run: Run, *, journalctl: Sequence[str] = ("journalctl",),
        journal: str = JOURNAL, clock: Callable[[], float] = time.time,
    ):  # fmt: skip
        self.policy, self.run, self.journalctl, self.clock = policy, run, tuple(journalctl), clock
        self.journal = os.path.realpath(journal)

    def _resolve(self, target: str) -> tuple[str, str]:
        """(real path, disposable root it lies in); refuses anything outside the policy's roots."""
        real = os.path.realpath(target)
        for root in self.policy.disks.disposable:
            if inside(real, os.path.realpath(root)):
                return real, root
        raise ExecutorError(f"{target} resolves to {real}, outside every disposable path")

    def do(self, a: Action, snap: Snapshot) -> str:
        real, root = self._resolve(a.target)
        if inside(real, self.journal):
            keep = self.policy.disks.journal_keep
            r = self.run([*self.journalctl, f"--vacuum-size={keep}"], timeout=300)
            if not r.ok:
                raise ExecutorError(r.why())
            return f"journal vacuumed to {keep}: {r.why()}"
        if not os.path.isdir(real):
            raise ExecutorError(f"{real} is not a folder")
        cutoff = self.clock() - self.policy.disks.min_age.total_seconds()
        n, freed = sweep(real, cutoff)
        return f"{real} (under {root}): removed {n} entries, {freed / 2**20:.1f} MiB freed"

    def check(self, a: Action, snap: Snapshot, since: datetime) -> tuple[bool | None, str]:
        real, _ = self._resolve(a.target)
        if inside(real, self.journal):
            r = self.run([*self.journalctl, "--disk-usage"], timeout=60)
            return (None, r.why()) if r.ok else (False, r.why())
        cutoff = self.clock() - self.policy.disks.min_age.total_seconds()
        n, size = sweep(real, cutoff, dry=True)
        return n == 0, f"{n} old entries ({size / 2**20:.1f} MiB) remain under {real}"
