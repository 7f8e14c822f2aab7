"""Paired clients: a table model over `clients.list`, pairing (the token is returned once, to
show once) and revoking."""

from __future__ import annotations

import logging
import time

from layerbridge.daemon.protocol.messages import (
    ClientRecord,
    ClientsList,
    ClientsPair,
    ClientsReply,
    ClientsRevoke,
    Ok,
    Paired,
    StatusReply,
    Welcome,
)
from layerbridge.daemon.protocol.vocab import Scope
from PySide6.QtCore import QObject, QTimer, Signal

from .connection import DaemonConnection
from .tablemodel import Column, RecordTableModel
from .tasks import spawn

log = logging.getLogger(__name__)


def ago(t: float | None, now: float | None = None) -> str:
    if t is None:
        return "never"
    s = max(int((now or time.time()) - t), 0)
    if s < 60:
        return "just now"
    if s < 3600:
        return f"{s // 60} min ago"
    if s < 2 * 86400:
        return f"{s // 3600} h ago"
    return time.strftime("%Y-%m-%d", time.localtime(t))


CLIENT_COLUMNS: list[Column[ClientRecord]] = [
    Column("Name", lambda c: c.name),
    Column("Scope", lambda c: "admin" if c.scope == "admin" else "client"),
    Column("Paired", lambda c: time.strftime("%Y-%m-%d %H:%M", time.localtime(c.created_at))),
    Column("Connected", lambda c: "now" if c.connected else "",
           tooltip=lambda c: f"{c.connected} connection{'s' if c.connected != 1 else ''} open"),
    Column("Last seen", lambda c: ago(c.last_seen)),
]


class OwnClient(ValueError):
    """The tray was asked to revoke the token it connects with."""


class ClientsController(QObject):
    """The paired clients, live: listed again when the number of connections changes (a client
    connected or left) and every few seconds (last seen)."""

    changed = Signal()

    def __init__(self, connection: DaemonConnection, parent: QObject | None = None, *,
                 refresh_ms: int = 5000) -> None:
        super().__init__(parent)
        self.connection = connection
        self.own_name: str | None = None  # the paired name of the token this app connects with
        self.table: RecordTableModel[ClientRecord] = RecordTableModel(
            CLIENT_COLUMNS, key=lambda c: c.name)
        self._connections: int | None = None
        self._timer = QTimer(self, interval=refresh_ms)
        self._timer.timeout.connect(self._tick)
        connection.connected.connect(self._on_connected)
        connection.statusChanged.connect(self._on_status)
        connection.disconnected.connect(lambda _why: self._timer.stop())

    def _on_connected(self, welcome: Welcome) -> None:
        self._connections = None
        if welcome.scope == "admin":
            spawn(self.refresh())
            self._timer.start()

    def _on_status(self, status: StatusReply) -> None:
        if status.clients != self._connections:
            first = self._connections is None
            self._connections = status.clients
            if not first and self.connection.is_admin:
                spawn(self.refresh())

    def _tick(self) -> None:
        if self.connection.is_connected and self.connection.is_admin:
            spawn(self.refresh())

    async def refresh(self) -> None:
        reply = await self.connection.request(ClientsList(), ClientsReply)
        if self.table.set_records(reply.clients):
            self.changed.emit()

    async def pair(self, name: str, *, admin: bool = False) -> str:
        """Pair a new client; returns its token (the daemon keeps only a hash: show it now)."""
        reply = await self.connection.request(
            ClientsPair(name=name, scope=Scope.ADMIN if admin else Scope.CLIENT), Paired)
        try:
            await self.refresh()
        except Exception:  # noqa: BLE001 - the token exists only in this reply: it must reach the user
            log.warning("paired %s, but the client list did not refresh", name, exc_info=True)
        return reply.token

    async def revoke(self, name: str) -> None:
        """Revoke a client's token (its connections close at once). Refuses this app's own:
        revoking it would cut the connection that manages the daemon."""
        if self.own_name is not None and name == self.own_name:
            raise OwnClient(
                f"{name} is this app's own admin client: revoking it would disconnect this "
                "window from the daemon. It was not revoked. (To reset it, quit the app, run "
                f"`layerbridge pair --revoke {name}`, and start the app again: it pairs itself anew.)")
        await self.connection.request(ClientsRevoke(name=name), Ok)
        await self.refresh()
