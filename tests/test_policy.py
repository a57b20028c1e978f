"""Policies load as validated data; a typo is refused with file, key and reason."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from llmosd.errors import ConfigError
from llmosd.policy import POLICY_DIR, PolicyHolder, load_policy


def write(tmp_path: Path, mutate) -> Path:
    data = yaml.safe_load((POLICY_DIR / "default.yaml").read_text())
    mutate(data)
    p = tmp_path / "site.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def test_default_policy_expresses_the_contract() -> None:
    p = load_policy()
    assert p.services.crash_loop.count == 3 and p.services.crash_loop.window.total_seconds() == 600
    assert (
        p.xid_class(79) == "hardware" and p.xid_class(13) == "application" and p.xid_class(94) == "contained"
    )
    assert set(p.gpu.xid_notify_admin) == {74, 79, 119, 120}
    assert "/var/cache/apt" in p.disks.disposable and p.disks.full_percent == 95
    assert p.approval.kinds == ["host.reboot"]
    assert {"bad_config", "permission", "port_in_use", "broken_release", "transient", "unknown"} <= set(
        p.fault_classes
    )


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda d: d.update(autonomy="yolo"), "autonomy"),
        (lambda d: d["services"].update(crash_lop={"count": 3}), "services.crash_lop"),
        (lambda d: d["services"]["crash_loop"].update(window="ten minutes"), "services.crash_loop.window"),
        (lambda d: d["fault_classes"]["oom"].update(patterns=["(unclosed"]), "fault_classes.oom"),
        (
            lambda d: d["rate_limits"].append({"kind": "gpu.explode", "max": 1, "window": "1h"}),
            "rate_limits[8]",
        ),
        (lambda d: d["disks"].update(disposable=["relative/path"]), "disks"),
        (lambda d: d.update(allowed_kinds=["noop", "format.disk"]), "unknown action kinds"),
    ],
)
def test_typos_are_refused_with_file_key_and_reason(tmp_path: Path, mutate, where: str) -> None:
    p = write(tmp_path, mutate)
    with pytest.raises(ConfigError) as e:
        load_policy(p)
    msg = str(e.value)
    assert str(p) in msg and where in msg and "\n" not in msg


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    p = tmp_path / "broken.yaml"
    p.write_text("autonomy: observe\nservices: [unclosed\n")
    with pytest.raises(ConfigError, match=r"broken.yaml: line \d+"):
        load_policy(p)


def test_holder_keeps_the_last_good_policy(tmp_path: Path) -> None:
    p = write(tmp_path, lambda d: d.update(autonomy="supervised"))
    holder = PolicyHolder(p)
    assert holder.policy.autonomy == "supervised"
    p.write_text(p.read_text().replace("supervised", "sometimes"))
    reason = holder.reload()
    assert reason is not None and "autonomy" in reason
    assert holder.policy.autonomy == "supervised"
    p.write_text(p.read_text().replace("sometimes", "observe"))
    assert holder.reload() is None and holder.policy.autonomy == "observe"


def test_maintenance_window() -> None:
    w = load_policy().updates.window  # sat/sun 02:00-06:00
    assert w.contains(datetime(2026, 11, 21, 3, 0, tzinfo=UTC))
    assert not w.contains(datetime(2026, 11, 20, 3, 0, tzinfo=UTC))  # a Friday
    assert w.next_start(datetime(2026, 11, 20, 14, 3, tzinfo=UTC)) == datetime(2026, 11, 21, 2, 0, tzinfo=UTC)
