"""Host upkeep incidents: full disks, pending updates and a reboot that an
update left waiting (CONTRACT §5, Disks and Updates)."""

from __future__ import annotations

from datetime import datetime

from pydantic import TypeAdapter, ValidationError

from llmosd.contract import HistoryEntry, Instant, Snapshot, make_action
from llmosd.engine.candidates import Incident, Option, notify
from llmosd.guard import running_jobs
from llmosd.policy import Policy

_WHEN: TypeAdapter[datetime] = TypeAdapter(Instant)


def disk_incidents(snap: Snapshot, policy: Policy) -> list[Incident]:
    out = []
    mounts = sorted((d.mount for d in snap.host.disks), key=len, reverse=True)
    for d in snap.host.disks:
        if d.used_percent < policy.disks.full_percent:
            continue

        def on_this(path: str, mount: str = d.mount) -> bool:
            return (
                next((m for m in mounts if path == m or path.startswith(m.rstrip("/") + "/")), None) == mount
            )

        paths = [f.path for f in d.largest] if d.largest else policy.disks.disposable
        clean = [
            p
            for p in paths
            if on_this(p)
            and any(p == r or p.startswith(r.rstrip("/") + "/") for r in policy.disks.disposable)
        ]
        summary = f"{d.mount} is {d.used_percent:.1f}% full"
        if clean:
            acts = [make_action("disk.cleanup", p) for p in clean]
            out.append(
                Incident(
                    70,
                    d.mount,
                    summary,
                    [Option(acts, "disposable caches fill the disk", f"clean {', '.join(clean)}")],
                )
            )
        else:
            msg = f"{d.mount} is {d.used_percent:.1f}% full and holds no disposable data"
            out.append(
                Incident(
                    70,
                    d.mount,
                    summary,
                    [
                        Option(
                            [notify("admin", d.mount, msg)],
                            "user data fills the disk",
                            "notify an admin; user data is never deleted",
                        )
                    ],
                )
            )
    return out


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
