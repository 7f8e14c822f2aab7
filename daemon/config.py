"""Where Layerbridge keeps its files, and its settings (a JSON file in the data dir).

Paths come from `--data-dir`, then `LAYERBRIDGE_HOME`, then the platform's user data dir.
Imports nothing heavy.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import InvalidInput
from .protocol.limits import ServerLimits

DEFAULT_PORT = 7842
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


class EngineSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device: Literal["auto", "cuda", "mps", "cpu"] = "auto"
    dtype: Literal["auto", "fp16", "bf16", "fp32"] = Field(
        default="auto", description="auto: fp16 on GPUs, fp32 on CPU"
    )
    memory_budget_mb: int | None = Field(
        default=None, ge=256, description="VRAM (or RAM on CPU) for resident models; None: 85% of free"
    )
    preview_interval_s: float = Field(default=0.25, ge=0.0, description="at most one preview per interval")
    threads: int | None = Field(default=None, ge=1, description="torch CPU threads; None: torch's default")


class ServerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=DEFAULT_PORT, ge=0, le=65535)
    allowed_origins: list[str] = Field(
        default_factory=list, description="browser origins allowed besides none and 'null'"
    )
    allowed_hosts: list[str] = Field(
        default_factory=list, description="Host header values allowed besides loopback (LAN mode)"
    )
    send_queue: int = Field(default=512, ge=8, description="messages queued per client before it is dropped")
    limits: ServerLimits = Field(default_factory=ServerLimits,
                                 description="per-client and daemon-wide bounds (welcome.limits)")


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    server: ServerSettings = Field(default_factory=ServerSettings)
    engine: EngineSettings = Field(default_factory=EngineSettings)
    default_model: str | None = None


@dataclass(frozen=True)
class Paths:
    root: Path

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def blobs(self) -> Path:
        return self.root / "blobs"

    @property
    def ledger(self) -> Path:
        return self.root / "ledger.sqlite3"

    @property
    def settings(self) -> Path:
        return self.root / "settings.json"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def ensure(self) -> Paths:
        for folder in (self.root, self.models, self.blobs, self.logs):
            folder.mkdir(parents=True, exist_ok=True)
        return self


def data_dir(explicit: str | os.PathLike[str] | None = None) -> Paths:
    if explicit:
        return Paths(Path(explicit).expanduser().resolve())
    env = os.environ.get("LAYERBRIDGE_HOME")
    if env:
        return Paths(Path(env).expanduser().resolve())
    import platformdirs

    return Paths(Path(platformdirs.user_data_dir("layerbridge", appauthor=False)))


def load_settings(paths: Paths) -> Settings:
    if not paths.settings.exists():
        return Settings()
    try:
        return Settings.model_validate(json.loads(paths.settings.read_text()))
    except (ValidationError, json.JSONDecodeError) as exc:
        raise InvalidInput("settings", str(paths.settings), f"cannot be read: {exc}") from None


def save_settings(paths: Paths, settings: Settings) -> None:
    paths.ensure()
    tmp = paths.settings.with_suffix(".tmp")
    tmp.write_text(settings.model_dump_json(indent=2))
    tmp.replace(paths.settings)
