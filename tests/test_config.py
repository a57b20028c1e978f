"""The daemon's TOML config: defaults, one-line errors naming file and key, CLI overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmosd.config import load_config
from llmosd.errors import ConfigError


def test_a_missing_default_file_means_defaults(tmp_path: Path) -> None:
    cfg = load_config(None, state_dir=str(tmp_path))
    assert cfg.sample_interval_s == 2.0 and cfg.decide_every_min == 5 and cfg.engine == "llm"
    r = cfg.retention
    assert (r.raw_hours, r.minute_days, r.tenmin_days) == (24, 7, 90)
    assert cfg.state_dir == tmp_path and cfg.simulate is None


def test_file_values_and_overrides(tmp_path: Path) -> None:
    f = tmp_path / "llmosd.toml"
    f.write_text(
        'sample_interval_s = 5\nunits = ["nginx.service"]\n[retention]\nraw_hours = 6\n'
        '[supervised.vllm]\ncommand = ["vllm", "serve"]\n'
    )
    cfg = load_config(f, sample_interval_s=1.0, engine=None)
    assert cfg.sample_interval_s == 1.0  # the flag wins; a flag not given does not
    assert cfg.units == ["nginx.service"] and cfg.retention.raw_hours == 6
    assert cfg.supervised["vllm"].command == ["vllm", "serve"]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("sample_intervl_s = 2\n", "sample_intervl_s"),
        ("sample_interval_s = -1\n", "sample_interval_s"),
        ('engine = "gpt"\n', "engine"),
        ("log_tokens = 4\n", "log_tokens"),
        ("[retention]\nraw_days = 1\n", "retention.raw_days"),
        ("units = [\n", "not valid TOML"),
    ],
)
def test_bad_config_is_one_line_naming_file_and_key(tmp_path: Path, text: str, where: str) -> None:
    f = tmp_path / "llmosd.toml"
    f.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_config(f)
    msg = str(e.value)
    assert str(f) in msg and where in msg and "\n" not in msg


def test_a_named_config_that_is_missing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.toml")


def test_a_bad_option_is_blamed_on_the_command_line_not_the_file(tmp_path: Path) -> None:
    good = tmp_path / "llmosd.toml"
    good.write_text("sample_interval_s = 5\n")
    with pytest.raises(ConfigError, match=r"^a command-line option: sample_interval_s: ") as e:
        load_config(good, sample_interval_s=-1)
    assert str(good) not in str(e.value)
    good.write_text("sample_interval_s = -1\n")
    with pytest.raises(ConfigError, match=rf"^{good}: sample_interval_s: "):
        load_config(good, engine="rules")
