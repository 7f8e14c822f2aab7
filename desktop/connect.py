"""How to connect a client: the daemon's address (and, over TLS, its certificate's SHA-256
fingerprint) with copy buttons, and the steps to install and pair the Photoshop panel and the
Figma plugin."""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from .connection import DaemonConnection


def peer_fingerprint(connection: DaemonConnection) -> str:
    """SHA-256 of the certificate the daemon presented on this connection ("" without TLS)."""
    der = connection.peer_certificate()
    if not der:
        return ""
    try:
        from layerbridge.daemon.tls import fingerprint  # the form `layerbridge pair` prints
    except ImportError:
        digest = hashlib.sha256(der).hexdigest().upper()
        return ":".join(digest[i : i + 2] for i in range(0, 64, 2))
    return str(fingerprint(der))


def steps(url: str) -> str:
    port = urlsplit(url).port if url else None
    other_port = (f"<br>This daemon listens on port {port}, not 7842: build the panel with "
                  f"<code>LAYERBRIDGE_PORTS={port} npm run build</code> and add "
                  f"<code>ws://localhost:{port}</code> to the Figma manifest's "
                  "<code>networkAccess.allowedDomains</code>."
                  if port and port != 7842 else "")
    return f"""
<p><b>Photoshop</b> (25.0 or later)</p>
<ol>
<li>Install the panel: double-click <code>layerbridge-photoshop.ccx</code> (made by
<code>npm run package</code> in <code>plugins/photoshop</code>), or in <i>UXP Developer Tool</i>
choose <i>Add Plugin…</i>, pick <code>plugins/photoshop/dist/manifest.json</code> and <i>Load</i>.</li>
<li>Open it from <i>Plugins → Layerbridge</i>.</li>
<li>Press <i>Pair new…</i> on this tab, name it (e.g. <code>photoshop-anna</code>) and copy the token.</li>
<li>In the panel open <i>Connection</i>, paste the token and press <i>Pair</i>: the dot turns green.</li>
</ol>
<p><b>Figma</b> (the desktop app)</p>
<ol>
<li>Build it once (<code>cd plugins/figma &amp;&amp; npm ci &amp;&amp; npm run build</code>), then in Figma
choose <i>Plugins → Development → Import plugin from manifest…</i> and pick
<code>plugins/figma/manifest.json</code>.</li>
<li>Run <i>Plugins → Development → Layerbridge</i>.</li>
<li>Press <i>Pair new…</i> on this tab (e.g. <code>figma-anna</code>) and copy the token.</li>
<li>In the plugin open <i>Connection</i>, paste the address above and the token, then
<i>Save and connect</i>. (In a browser, allow figma.com to reach apps on this device.)</li>
</ol>{other_port}"""


class ConnectPanel(QWidget):
    def __init__(self, connection: DaemonConnection, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.connection = connection
        self.address = QLineEdit(self)
        self.address.setReadOnly(True)
        self.copy_address = QPushButton("Copy", self)
        self.fingerprint = QLineEdit(self)
        self.fingerprint.setReadOnly(True)
        self.copy_fingerprint = QPushButton("Copy", self)
        self.fingerprint_label = QLabel("Certificate SHA-256", self)
        self.howto = QLabel(self)
        self.howto.setWordWrap(True)
        self.howto.setTextFormat(Qt.TextFormat.RichText)
        self.howto.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        arow = QHBoxLayout()
        arow.addWidget(QLabel("Daemon address", self))
        arow.addWidget(self.address, 1)
        arow.addWidget(self.copy_address)
        frow = QHBoxLayout()
        frow.addWidget(self.fingerprint_label)
        frow.addWidget(self.fingerprint, 1)
        frow.addWidget(self.copy_fingerprint)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(arow)
        layout.addLayout(frow)
        layout.addWidget(self.howto)
        self.copy_address.clicked.connect(lambda: self._copy(self.address, self.copy_address))
        self.copy_fingerprint.clicked.connect(
            lambda: self._copy(self.fingerprint, self.copy_fingerprint))
        connection.connected.connect(lambda _w: self.refresh())
        connection.disconnected.connect(lambda _why: self.refresh())
        self.refresh()

    def refresh(self) -> None:
        url = self.connection.url or ""
        self.address.setText(url if self.connection.is_connected else f"{url} (not connected)")
        fp = peer_fingerprint(self.connection) if self.connection.is_connected else ""
        for w in (self.fingerprint, self.copy_fingerprint, self.fingerprint_label):
            w.setVisible(bool(fp))
        self.fingerprint.setText(fp)
        self.howto.setText(steps(url))
        for b in (self.copy_address, self.copy_fingerprint):
            b.setText("Copy")

    def _copy(self, field: QLineEdit, button: QPushButton) -> None:
        QGuiApplication.clipboard().setText(field.text().removesuffix(" (not connected)"))
        button.setText("Copied")
