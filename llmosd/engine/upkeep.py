"""Host upkeep incidents: full disks, pending updates and a reboot that an
update left waiting (CONTRACT §5, Disks and Updates)."""

from __future__ import annotations

import posixpath
from datetime import datetime

from pydantic import TypeAdapter, ValidationError

from llmosd.contract import Disk, HistoryEntry, Instant, Snapshot, make_action
from llmosd.engine.candidates import Incident, Option, each, notify
from llmosd.guard import disposable_root, running_jobs
from llmosd.policy import Policy

_WHEN: TypeAdapter[datetime] = TypeAdapter(Instant)


def disk_incidents(snap: Snapshot, policy: Policy) -> list[Incident]:
    full = [d for d in snap.host.disks if d.used_percent >= policy.disks.full_percent]
    return each(full, lambda d: _disk(d, snap, policy))


def _mount_of(path: str, snap: Snapshot) -> str | None:
    inside = [
        d.mount for d in snap.host.disks if path == d.mount or path.startswith(d.mount.rstrip("/") + "/")
    ]
    return max(inside, key=len, default=None)


def _disk(d: Disk, snap: Snapshot, policy: Policy) -> list[Incident]:
    # Only disposable folders on this very mount are cleaned; `..` in a reported
    # path is resolved first, so it cannot smuggle user data in.
    paths = [posixpath.normpath(f.path) for f in d.largest] if d.largest else policy.disks.disposable
    clean = [
        p
        for p in dict.fromkeys(paths)
        if _mount_of(p, snap) == d.mount and disposable_root(p, policy.disks.disposable, lambda x: x)
    ]
    summary = f"{d.mount} is {d.used_percent:.1f}% full"
    if clean:
        option = Option([make_action("disk.cleanup", p) for p in clean], "disposable caches fill the disk",
                        f"clean {', '.join(clean)}")  # fmt: skip
    else:
        msg = f"{d.mount} is {d.used_percent:.1f}% full and holds no disposable data"
        option = Option([notify("admin", d.mount, msg)], "user data fills the disk",
                        "notify an admin; user data is never deleted")  # fmt: skip
    return [Incident(70, d.mount, summary, [option])]


def update_incidents(snap: Snapshot, policy: Policy) -> list[Incident]:
    out = []
    jobs = running_jobs(snap)
    if snap.updates:
        names = ", ".join(u.package for u in snap.updates)
        if snap.host.in_maintenance_window and not jobs:
            out.append(
                Incident(
                    10,
                    "updates",
                    f"updates pending ({names}) inside the maintenance window, no jobs running",
                    [
                        Option(
                            [make_action("update.apply", "all")], "a quiet maintenance window", "apply them"
                        )
                    ],
                )
            )
        elif not any(h.action.kind == "update.defer" and _deferral_active(h, snap.now) for h in snap.history):
            until = policy.updates.window.next_start(snap.now)
            why = (
                "outside the maintenance window"
                if not snap.host.in_maintenance_window
                else f"jobs {jobs} are running"
            )
            out.append(
                Incident(
                    10,
                    "updates",
                    f"updates pending ({names}) but {why}",
                    [
                        Option(
                            [make_action("update.defer", "all", until=until)],
                            "a busy host",
                            f"defer them to the next window ({until:%a %H:%M})",
                        )
                    ],
                )
            )
    if (
        snap.host.reboot_required
        and snap.host.in_maintenance_window
        and not jobs
        and not any(g.processes for g in snap.gpus)
    ):
        out.append(
            Incident(
                5,
                "host",
                "an applied update waits for a reboot; the host is idle inside the window",
                [
                    Option(
                        [make_action("host.reboot", snap.host.hostname)],
                        "an idle window",
                        "reboot it, with a person's approval",
                    )
                ],
            )
        )
    return out


def _deferral_active(h: HistoryEntry, now: datetime) -> bool:
    raw = h.action.params.get("until")
    if raw is None:
        return True  # deferred until further notice
    try:
        return _WHEN.validate_python(raw) > now
    except ValidationError:
        return False
