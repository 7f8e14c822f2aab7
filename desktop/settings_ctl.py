"""The Settings tab's logic: the daemon's network settings (LAN mode only with an explicit
confirmation and an origin list), the tray's own data dir, and autostart."""

from __future__ import annotations

from layerbridge.daemon.config import LOOPBACK_HOSTS
from layerbridge.daemon.protocol.messages import (
    SettingsGet,
    SettingsInfo,
    SettingsReply,
    SettingsSet,
)
from PySide6.QtCore import QObject, Signal

from . import autostart
from .config import TrayConfig, save_config
from .connection import DaemonConnection


def is_lan(host: str) -> bool:
    return host.strip() not in LOOPBACK_HOSTS


class LanNotConfirmed(ValueError):
    """LAN mode was asked for without the user's explicit confirmation."""


class SettingsController(QObject):
    loaded = Signal(object, bool)  # SettingsInfo, restart required

    def __init__(self, connection: DaemonConnection, config: TrayConfig,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.connection = connection
        self.config = config
        self.daemon: SettingsInfo | None = None
        self.restart_required = False

    async def load(self) -> SettingsInfo:
        reply = await self.connection.request(SettingsGet(), SettingsReply)
        self._apply(reply)
        return reply.settings

    async def save(self, *, host: str, port: int, allowed_origins: list[str],
                   allowed_hosts: list[str] | None = None, confirm_lan: bool = False) -> bool:
        """Save the daemon's network settings; returns whether it must restart to use them."""
        host = host.strip()
        origins = [o.strip() for o in allowed_origins if o.strip()]
        if is_lan(host) and not confirm_lan:
            raise LanNotConfirmed(f"listening on {host} exposes the daemon to the network")
        # what the daemon has now, not what this tab last saw: the GPU tab saves the same record
        current = (await self.connection.request(SettingsGet(), SettingsReply)).settings
        hosts = current.allowed_hosts if allowed_hosts is None else allowed_hosts
        info = current.model_copy(update={"host": host, "port": port, "allowed_origins": origins,
                                          "allowed_hosts": [h.strip() for h in hosts if h.strip()]})
        reply = await self.connection.request(
            SettingsSet(settings=info, confirm_lan=confirm_lan), SettingsReply)
        self._apply(reply)
        return reply.restart_required

    def set_autostart(self, enabled: bool) -> None:
        autostart.set_enabled(enabled, self.config.data_dir)
        self.config = self.config.model_copy(update={"autostart": enabled})
        save_config(self.config)

    def set_data_dir(self, path: str | None) -> None:
        """The local daemon's data dir (the tray restarts its daemon to use it)."""
        self.config = self.config.model_copy(update={"data_dir": path or None})
        save_config(self.config)

    def set_remote(self, url: str, fingerprint: str | None = None) -> None:
        """Manage the daemon at `url` from now on, this launch and the next."""
        self.config = self.config.model_copy(update={"mode": "remote", "remote_url": url,
                                                     "remote_fingerprint": fingerprint})
        save_config(self.config)

    def set_local(self) -> None:
        """Manage this computer's daemon from now on, this launch and the next."""
        self.config = self.config.model_copy(update={"mode": "local"})
        save_config(self.config)

    def set_welcomed(self) -> None:
        self.config = self.config.model_copy(update={"welcomed": True})
        save_config(self.config)

    def set_notify(self, enabled: bool) -> None:
        self.config = self.config.model_copy(update={"notify": enabled})
        save_config(self.config)

    def _apply(self, reply: SettingsReply) -> None:
        self.daemon, self.restart_required = reply.settings, reply.restart_required
        self.loaded.emit(reply.settings, reply.restart_required)
