"""`daemon.json` in the data dir: what a running daemon bound (URL, port, TLS fingerprint), for
the tray and the local CLI, which would otherwise guess from the settings (port 0, `--port`).

Written when the daemon listens, removed when it stops; a stale file (its process gone) is
ignored. Imports nothing heavy.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from .config import Paths


class Runtime(BaseModel):
    model_config = ConfigDict(extra="ignore")

    url: str  # as bound: wss://0.0.0.0:7842 when listening on every interface
    local_url: str  # how a client on this machine reaches it
    host: str
    port: int
    pid: int
    tls_fingerprint: str | None = None  # SHA-256 of the served certificate, in LAN mode
    started_at: float


def local_url(scheme: str, host: str, port: int) -> str:
    """The URL a client on this machine uses: loopback for a wildcard bind."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}"


def write_runtime(paths: Paths, *, url: str, host: str, port: int, tls_fingerprint: str | None) -> Runtime:
    scheme = url.split("://", 1)[0]
    info = Runtime(url=url, local_url=local_url(scheme, host, port), host=host, port=port,
                   pid=os.getpid(), tls_fingerprint=tls_fingerprint, started_at=time.time())
    tmp = paths.runtime.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(info.model_dump_json(indent=2))
    tmp.replace(paths.runtime)
    return info


def clear_runtime(paths: Paths) -> None:
    """Remove the file if it is this process's (a second daemon refused its port leaves the
    first one's file alone)."""
    info = read_runtime(paths, check_alive=False)
    if info is not None and info.pid == os.getpid():
        paths.runtime.unlink(missing_ok=True)


def read_runtime(paths: Paths, *, check_alive: bool = True) -> Runtime | None:
    """The running daemon's runtime record, or None (none running, or the file is stale)."""
    try:
        info = Runtime.model_validate(json.loads(Path(paths.runtime).read_text()))
    except (OSError, ValueError, ValidationError):
        return None
    if check_alive and not _alive(info.pid):
        return None
    return info


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name != "posix":
        return True  # no cheap check there; a stale file is replaced at the next start
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
