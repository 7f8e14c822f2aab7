"""Clients tab: paired clients, pair a new one (its token shown once, with a copy button), and
revoke (takes effect at once)."""

from __future__ import annotations

from collections.abc import Callable

from layerbridge.daemon.protocol.messages import ClientsPair
from pydantic import ValidationError
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from .clients import ClientsController
from .connect import ConnectPanel
from .tasks import describe
from .widgets import StatusLine, act, confirm, selected_key, table


class TokenDialog(QDialog):
    """Shows a new client's token once."""

    def __init__(self, name: str, token: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Paired {name}")
        text = QLabel(f"Paste this token into <b>{name}</b>'s Layerbridge panel. It is shown "
                      "only now: the daemon keeps just a hash of it.", self)
        text.setWordWrap(True)
        self.token = QLineEdit(token, self)
        self.token.setReadOnly(True)
        self.token.setMinimumWidth(440)
        self.copy = QPushButton("Copy", self)
        self.copy.clicked.connect(self._copy)
        row = QHBoxLayout()
        row.addWidget(self.token, 1)
        row.addWidget(self.copy)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addLayout(row)
        layout.addWidget(buttons)

    def _copy(self) -> None:
        QGuiApplication.clipboard().setText(self.token.text())
        self.copy.setText("Copied")


def name_problem(name: str) -> str | None:
    """Why `name` cannot be a paired client's name, in words (checked before asking the daemon)."""
    try:
        ClientsPair(name=name)
    except ValidationError as exc:
        return describe(exc)
    return None


class ClientsTab(QWidget):
    def __init__(self, clients: ClientsController, parent: QWidget | None = None, *,
                 active_jobs: Callable[[str], int] | None = None) -> None:
        super().__init__(parent)
        self.clients = clients
        self._active_jobs = active_jobs or (lambda _name: 0)
        self.view = table(clients.table, self)
        self.status = StatusLine(self)
        self.pair_button = QPushButton("Pair new…", self)
        self.admin = QCheckBox("admin (may manage models and clients)", self)
        self.refresh = QPushButton("Refresh", self)
        self.revoke = QPushButton("Revoke…", self)
        buttons = QHBoxLayout()
        buttons.addWidget(self.pair_button)
        buttons.addWidget(self.admin)
        buttons.addStretch(1)
        buttons.addWidget(self.refresh)
        buttons.addWidget(self.revoke)
        self.pair_button.clicked.connect(self.ask_pair)
        self.refresh.clicked.connect(lambda: act(self.status, clients.refresh()))
        self.revoke.clicked.connect(self._revoke)
        self.connect_box = QGroupBox("Connect Photoshop or Figma", self)
        self.connect_panel = ConnectPanel(clients.connection, self.connect_box)
        QVBoxLayout(self.connect_box).addWidget(self.connect_panel)
        top = QWidget(self)
        tlayout = QVBoxLayout(top)
        tlayout.setContentsMargins(0, 0, 0, 0)
        tlayout.addLayout(buttons)
        tlayout.addWidget(self.view, 1)
        tlayout.addWidget(self.status)
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(top)
        split.addWidget(self.connect_box)
        split.setStretchFactor(0, 1)
        split.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(split)

    def show_connect(self) -> None:
        self.connect_panel.refresh()
        self.pair_button.setFocus()

    def ask_pair(self) -> None:
        name, ok = QInputDialog.getText(self, "Pair a client",
                                        "Name (letters, digits, . _ -), e.g. photoshop-anna:")
        if ok and name.strip():
            self.pair(name.strip(), admin=self.admin.isChecked())

    def pair(self, name: str, *, admin: bool = False) -> None:
        problem = name_problem(name)
        if problem:
            self.status.error(f"cannot pair that name: {problem}")
            return

        async def run() -> None:
            token = await self.clients.pair(name, admin=admin)
            TokenDialog(name, token, self).open()

        act(self.status, run(), f"paired {name}")

    def _revoke(self) -> None:
        key = selected_key(self.view)
        if key:
            self.revoke_client(key, ask=lambda text: confirm(self, "Revoke", text))

    def revoke_client(self, name: str, *, ask: Callable[[str], bool]) -> None:
        """Revoke `name` after `ask` agrees to what it would stop; this app's own client is
        refused with the reason."""
        if self.clients.own_name is not None and name == self.clients.own_name:
            act(self.status, self.clients.revoke(name))  # refused, with the reason shown
            return
        record = self.clients.table.get(name)
        text = f"Revoke {name}? Its connections close at once and its token stops working."
        busy = self._active_jobs(name)
        if busy:
            text += (f"\n\n{name} has {busy} job{'s' if busy != 1 else ''} queued or running: "
                     "it will not receive their results.")
        if record is not None and record.scope == "admin" and self.clients.own_name is None:
            text += ("\n\nThis is an admin client. If it is the token this window uses, the "
                     "window loses the daemon and needs a new admin token "
                     "(`layerbridge pair --name NAME --admin` on the daemon's machine).")
        if ask(text):
            act(self.status, self.clients.revoke(name), f"revoked {name}")
