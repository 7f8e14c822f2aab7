"""Where Layerbridge keeps its files, and its settings (a JSON file in the data dir).

Paths come from `--data-dir`, then `LAYERBRIDGE_HOME`, then the platform's user data dir.
Imports nothing heavy.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from .errors import InvalidInput
from .protocol.limits import ServerLimits
from .protocol.vocab import DEVICE_PATTERN

log = logging.getLogger("layerbridge.config")

DEFAULT_PORT = 7842
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")

# A resident-model budget below this cannot hold even an SD-1.5 UNet in fp16 (~1.6 GiB), and
# above this no single accelerator exists (the largest hold 288 GB): both are typing mistakes.
MIN_MEMORY_BUDGET_MB = 256
MAX_MEMORY_BUDGET_MB = 512 * 1024

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$", re.IGNORECASE)
_ORIGIN = re.compile(r"^(?P<scheme>[a-z][a-z0-9+.-]*)://(?P<host>\[[^\]]*\]|[^/:?#\[\]]*)(?::(?P<port>[0-9]{1,5}))?$")


def is_lan(host: str) -> bool:
    """Anything but a loopback name is LAN mode: reachable from other machines, so TLS."""
    return host not in LOOPBACK_HOSTS


def _host_syntax(value: str) -> str:
    """An IP literal or a hostname (RFC 1123 labels); raises ValueError saying what is wrong."""
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    if value != value.strip() or not value:
        raise ValueError("empty, or spaces around it")
    if value.startswith("["):
        raise ValueError("write an IPv6 address without brackets")
    name = value[:-1] if value.endswith(".") else value
    labels = name.split(".")
    if len(name) > 253 or not all(_LABEL.match(label) for label in labels):
        raise ValueError("not an IP address or a hostname (letters, digits, '-' and '.')")
    if labels[-1].isdigit():
        raise ValueError("not a valid IP address")
    return value


def check_bind_host(value: str, field: str = "host") -> str:
    """`value` if it is an IP literal or a hostname; InvalidInput naming `field` otherwise."""
    try:
        return _host_syntax(value)
    except ValueError as exc:
        raise InvalidInput(field, value, str(exc)) from None


def _host_name(value: str) -> str:
    try:
        return _host_syntax(value)
    except ValueError as exc:
        raise ValueError(f"{exc}; give a name or an address without a port") from None


def _origin(value: str) -> str:
    """`null` or `scheme://host[:port]`, written as browsers send it (lower case, no path)."""
    if value == "null":
        return value
    if value != value.lower():
        raise ValueError("browsers send origins in lower case; this one would never match")
    match = _ORIGIN.match(value)
    if match is None:
        raise ValueError("an origin is scheme://host[:port] with no path, or 'null'")
    host = match["host"]
    try:
        _host_syntax(host[1:-1] if host.startswith("[") else host)
    except ValueError as exc:
        raise ValueError(f"host {host!r}: {exc}") from None
    if match["port"] is not None and not 1 <= int(match["port"]) <= 65535:
        raise ValueError("the port must be 1-65535")
    return value


BindHost = Annotated[str, AfterValidator(_host_syntax)]
HostNames = Annotated[list[Annotated[str, AfterValidator(_host_name)]], Field(max_length=64)]
Origins = Annotated[list[Annotated[str, AfterValidator(_origin)]], Field(max_length=64)]


def physical_memory_mb() -> int | None:
    """This machine's RAM, where the platform says (POSIX); None elsewhere."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    except (AttributeError, ValueError, OSError):
        return None


class EngineSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device: str = Field(default="auto", pattern=DEVICE_PATTERN,
                        description="auto, cuda, cuda:N (one GPU of several), mps or cpu")
    dtype: Literal["auto", "fp16", "bf16", "fp32"] = Field(
        default="auto", description="auto: fp16 on GPUs, fp32 on CPU"
    )
    memory_budget_mb: int | None = Field(
        default=None, description=f"VRAM (or RAM on CPU) for resident models, {MIN_MEMORY_BUDGET_MB}-"
        f"{MAX_MEMORY_BUDGET_MB} MiB; None: 85% of free"
    )
    preview_interval_s: float = Field(default=0.25, ge=0.0, description="at most one preview per interval")
    threads: int | None = Field(default=None, ge=1, le=1024, description="torch CPU threads; None: torch's default")

    @field_validator("memory_budget_mb")
    @classmethod
    def _budget(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is None:
            return None
        if value < MIN_MEMORY_BUDGET_MB:
            raise ValueError(f"below the minimum of {MIN_MEMORY_BUDGET_MB} MiB (leave it empty for automatic)")
        if value > MAX_MEMORY_BUDGET_MB:
            raise ValueError(f"above the ceiling of {MAX_MEMORY_BUDGET_MB} MiB (512 GiB; no accelerator has more)")
        ram = physical_memory_mb()
        if info.data.get("device") == "cpu" and ram is not None and value > ram:
            raise ValueError(f"more than this machine's {ram} MiB of memory (device is cpu)")
        return value


class ServerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: BindHost = Field(default="127.0.0.1", description="bind address; anything but loopback is LAN mode")
    port: int = Field(default=DEFAULT_PORT, ge=0, le=65535, description="0: a free port, chosen at each start")
    allowed_origins: Origins = Field(
        default_factory=list, description="browser origins allowed besides none and 'null'"
    )
    allowed_hosts: HostNames = Field(
        default_factory=list, description="Host header values allowed besides loopback (LAN mode)"
    )
    send_queue: int = Field(default=512, ge=8, le=65536,
                            description="messages queued per client before it is dropped")
    tls_cert: str | None = Field(default=None, description="LAN mode: the studio's certificate (PEM); "
                                 "None: a self-signed one made in the data dir")
    tls_key: str | None = Field(default=None, description="its private key (PEM), unless the cert file holds it")
    limits: ServerLimits = Field(default_factory=ServerLimits,
                                 description="per-client and daemon-wide bounds (welcome.limits)")


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    server: ServerSettings = Field(default_factory=ServerSettings)
    engine: EngineSettings = Field(default_factory=EngineSettings)
    default_model: str | None = None


def settings_error(exc: ValidationError) -> InvalidInput:
    """The first error of a settings ValidationError, naming the field as settings.json does."""
    return _named(exc.errors(include_url=False)[0])


def _named(err: Any) -> InvalidInput:
    field = ".".join(str(p) for p in err["loc"]) or "settings"
    if err["type"] == "extra_forbidden":
        return InvalidInput.worded(field, f"{field}: unknown setting")
    return InvalidInput(field, err.get("input"), str(err["msg"]).removeprefix("Value error, "))


def checked(settings: Settings) -> Settings:
    """`settings` validated again as a whole (`model_copy(update=...)` validates nothing);
    raises InvalidInput naming the first bad field and its value."""
    try:
        return Settings.model_validate(settings.model_dump())
    except ValidationError as exc:
        raise settings_error(exc) from None


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

    @property
    def tls(self) -> Path:
        return self.root / "tls"

    @property
    def runtime(self) -> Path:
        """Written by a running daemon: its URL, bound port and certificate fingerprint."""
        return self.root / "daemon.json"

    def ensure(self) -> Paths:
        for folder in (self.root, self.models, self.blobs, self.logs):
            # 0700: prompts, canvases and results are private to this user (files.py fixes older dirs)
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
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
    """The saved settings. A bad value never stops the daemon: that field takes its default and
    the log says why (the file is left as it is until the next save)."""
    try:
        raw: Any = json.loads(paths.settings.read_text())
    except FileNotFoundError:
        return Settings()
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        log.warning("%s cannot be read (%s): starting with the default settings", paths.settings, exc)
        return Settings()
    if not isinstance(raw, dict):
        log.warning("%s does not hold a JSON object: starting with the default settings", paths.settings)
        return Settings()
    for _ in range(64):  # each pass drops at least one bad field
        try:
            return Settings.model_validate(raw)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                log.warning("%s: %s; using its default", paths.settings, _named(err).message)
                _drop(raw, err["loc"])
    return Settings()


def _drop(raw: dict[str, Any], loc: tuple[int | str, ...]) -> None:
    """Remove the setting at `loc` (for a list item: the whole list), so it takes its default."""
    keys = [k for k in loc if isinstance(k, str)]
    if not keys:
        raw.clear()
        return
    node: Any = raw
    for key in keys[:-1]:
        node = node.get(key) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(keys[-1], None)
    else:
        raw.pop(keys[0], None)


def save_settings(paths: Paths, settings: Settings) -> None:
    """Validate `settings` as a whole, then write them atomically (readable only by this user).
    Raises InvalidInput naming the first bad field: nothing is written then."""
    settings = checked(settings)
    paths.ensure()
    tmp = paths.settings.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(settings.model_dump_json(indent=2))
    tmp.replace(paths.settings)
