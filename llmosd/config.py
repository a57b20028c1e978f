"""The daemon's one TOML file: every option has a default, unknown keys are refused."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from llmosd.engine.prompt import LOG_TOKENS
from llmosd.errors import ConfigError, one_line
from llmosd.executors.supervise import ServiceSpec

DEFAULT_PATH = Path("/etc/llmosd/llmosd.toml")


def _is_root() -> bool:
    return os.geteuid() == 0


def default_state_dir() -> Path:
    if _is_root():
        return Path("/var/lib/llmosd")
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "llmosd"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Retention(_Strict):
    raw_hours: float = Field(default=24.0, gt=0)  # every sample kept this long
    minute_days: float = Field(default=7.0, gt=0)  # then one row per GPU per minute
    tenmin_days: float = Field(default=90.0, gt=0)  # then one per 10 minutes; older rows are deleted


class Config(_Strict):
    state_dir: Path = Field(default_factory=default_state_dir)
    socket: Path | None = None  # None: /run/llmosd/llmosd.sock as root, else state_dir/llmosd.sock
    sample_interval_s: float = Field(default=2.0, gt=0)
    decide_every_min: float = Field(default=5.0, gt=0)  # decide at least this often even if nothing changed
    policy: str = "default"  # a shipped policy name or a YAML path
    engine: Literal["rules", "llm"] = "llm"  # the rules decide when the model cannot load
    model: str | None = None
    device: str = "cpu"
    # On a CPU, most matrix multiplies in int8 and, with native bf16, the rest in bf16: faster, with
    # held-out accuracy unchanged (model.INT8_PROJECTIONS, model.BF16_PROJECTIONS); false keeps fp32.
    int8: bool = True
    # Log tokens the model reads per judgement. More reads causes further up a long log and costs
    # latency; a large model on a GPU can afford several hundred.
    log_tokens: int = Field(default=LOG_TOKENS, ge=16, le=8192)
    units: list[str] = Field(default_factory=list)  # systemd units to watch
    supervised: dict[str, ServiceSpec] = Field(default_factory=dict)  # services llmosd runs itself
    simulate: Path | None = None  # a GPU timeline replacing NVML
    retention: Retention = Retention()
    admin_group: str = "llmosd-admin"
    viewer_group: str = "llmosd-view"

    @model_validator(mode="after")
    def _socket_default(self) -> Config:
        if self.socket is None:
            run_dir = Path("/run/llmosd/llmosd.sock")
            self.socket = run_dir if _is_root() else self.state_dir / "llmosd.sock"
        return self

    @property
    def socket_path(self) -> Path:
        assert self.socket is not None  # set by the validator
        return self.socket


def load_config(path: str | Path | None = None, **overrides: Any) -> Config:
    """Read `path` (None: the default file, whose absence means all defaults); `overrides` win (CLI flags)."""
    p = Path(path) if path is not None else DEFAULT_PATH
    data: dict[str, Any] = {}
    try:
        data = tomllib.loads(p.read_text())
    except FileNotFoundError:
        if path is not None:
            raise ConfigError(f"{p}: no such config file") from None
    except OSError as e:
        raise ConfigError(f"{p}: cannot read config: {e.strerror or e}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{p}: not valid TOML: {e}") from None
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Config.model_validate({**data, **given})
    except ValidationError as e:
        # A bad value from a flag is not the file's fault, and the file may not even exist.
        flag = any(err["loc"] and err["loc"][0] in given for err in e.errors())
        raise ConfigError(one_line(e, "a command-line option" if flag else str(p))) from None
