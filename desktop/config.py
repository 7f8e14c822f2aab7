"""The tray's own preferences (which daemon, autostart). No secrets: tokens live in the vault."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class TrayConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")

    mode: Literal["local", "remote"] = Field(
        default="local", description="local: run the daemon as a child; remote: connect to url")
    data_dir: str | None = Field(default=None, description="the local daemon's data dir")
    remote_url: str = ""
    remote_fingerprint: str | None = Field(
        default=None, description="a wss:// remote daemon's certificate SHA-256, pinned")
    start_daemon: bool = Field(default=True, description="local: start the daemon with the tray")
    autostart: bool = False
    notify: bool = True
    welcomed: bool = Field(default=False, description="the first launch's window was shown")


def config_path() -> Path:
    env = os.environ.get("LAYERBRIDGE_TRAY_CONFIG")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("layerbridge", appauthor=False)) / "tray.json"


def load_config(path: Path | None = None) -> TrayConfig:
    path = path or config_path()
    try:
        return TrayConfig.model_validate(json.loads(path.read_text()))
    except (OSError, ValueError, ValidationError):
        return TrayConfig()


def save_config(config: TrayConfig, path: Path | None = None) -> None:
    path = path or config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(config.model_dump_json(indent=2))
    tmp.replace(path)
