"""Clients tab: paired clients, pair a new one (its token shown once, with a copy button), and
revoke (takes effect at once)."""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .clients import ClientsController
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


class ClientsTab(QWidget):
    def __init__(self, clients: ClientsController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clients = clients
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
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.status)

    def ask_pair(self) -> None:
        name, ok = QInputDialog.getText(self, "Pair a client",
                                        "Name (letters, digits, . _ -), e.g. photoshop-anna:")
        if ok and name.strip():
            self.pair(name.strip(), admin=self.admin.isChecked())

    def pair(self, name: str, *, admin: bool = False) -> None:
        async def run() -> None:
            token = await self.clients.pair(name, admin=admin)
            TokenDialog(name, token, self).open()

        act(self.status, run(), f"paired {name}")

    def _revoke(self) -> None:
        key = selected_key(self.view)
        if key and confirm(self, "Revoke", f"Revoke {key}? Its connections close at once."):
            act(self.status, self.clients.revoke(key), f"revoked {key}")
