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
    Welcome,
)
from PySide6.QtCore import QObject, Signal

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
    Column("Last seen", lambda c: ago(c.last_seen)),
]


class ClientsController(QObject):
    changed = Signal()

    def __init__(self, connection: DaemonConnection, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.connection = connection
        self.table: RecordTableModel[ClientRecord] = RecordTableModel(
            CLIENT_COLUMNS, key=lambda c: c.name)
        connection.connected.connect(self._on_connected)

    def _on_connected(self, welcome: Welcome) -> None:
        if welcome.scope == "admin":
            spawn(self.refresh())

    async def refresh(self) -> None:
        reply = await self.connection.request(ClientsList(), ClientsReply)
        if self.table.set_records(reply.clients):
            self.changed.emit()

    async def pair(self, name: str, *, admin: bool = False) -> str:
        """Pair a new client; returns its token (the daemon keeps only a hash: show it now)."""
        reply = await self.connection.request(
            ClientsPair(name=name, scope="admin" if admin else "client"), Paired)
        try:
            await self.refresh()
        except Exception:  # noqa: BLE001 - the token exists only in this reply: it must reach the user
            log.warning("paired %s, but the client list did not refresh", name, exc_info=True)
        return reply.token

    async def revoke(self, name: str) -> None:
        await self.connection.request(ClientsRevoke(name=name), Ok)
        await self.refresh()
