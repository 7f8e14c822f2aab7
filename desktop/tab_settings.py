"""Settings tab: port and bind address (loopback by default; LAN mode only after an explicit
confirmation, with the allowed origins and host names), data dir, autostart, and where the
tray's token is kept."""

from __future__ import annotations

from collections.abc import Callable

from layerbridge.daemon.errors import LayerbridgeError
from layerbridge.daemon.protocol.messages import SettingsInfo
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from .settings_ctl import SettingsController, is_lan
from .vault import TokenVault
from .widgets import EditGuard, StatusLine, act

LAN_WARNING = (
    "LAN mode makes the daemon reachable from other machines on the network. Every connection "
    "still needs a paired token, but anyone on the network can try. Use it for a studio GPU "
    "server on a trusted network only.")


class SettingsTab(QWidget):
    def __init__(self, settings: SettingsController, vault: TokenVault, *, local: bool,
                 connect_remote: Callable[[str, str, str | None], bool] | None = None,
                 use_local: Callable[[], None] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self._connect_remote = connect_remote
        self._use_local = use_local
        net = QGroupBox("Network (applies when the daemon restarts)", self)
        form = QFormLayout(net)
        self.port = QSpinBox(net)
        self.port.setRange(0, 65535)
        self.loopback = QRadioButton("This computer only (127.0.0.1)", net)
        self.lan = QRadioButton("LAN (on-premise server)", net)
        self.loopback.setChecked(True)
        self.lan_host = QLineEdit("0.0.0.0", net)
        self.confirm = QCheckBox("I understand: other machines on the network can reach it", net)
        self.origins = QPlainTextEdit(net)
        self.origins.setPlaceholderText("allowed browser origins, one a line "
                                        "(e.g. https://www.figma.com)")
        self.origins.setMaximumHeight(70)
        self.hosts = QLineEdit(net)
        self.hosts.setPlaceholderText("host names clients use, comma separated (gpu.studio.lan)")
        bind = QVBoxLayout()
        bind.addWidget(self.loopback)
        lan_row = QHBoxLayout()
        lan_row.addWidget(self.lan)
        lan_row.addWidget(self.lan_host, 1)
        bind.addLayout(lan_row)
        warning = QLabel(LAN_WARNING, net)
        warning.setWordWrap(True)
        warning.setStyleSheet("color: #a15c00;")
        self.bound = QLabel(net)
        self.bound.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow("Listening now", self.bound)
        form.addRow("Port (saved)", self.port)
        form.addRow("Listen on", bind)
        form.addRow("", warning)
        form.addRow("", self.confirm)
        form.addRow("Allowed origins", self.origins)
        form.addRow("Host names", self.hosts)
        self.restart_note = QLabel(net)
        self.save = QPushButton("Save network settings", net)
        row = QHBoxLayout()
        row.addWidget(self.save)
        row.addWidget(self.restart_note, 1)
        form.addRow(row)
        self.lan.toggled.connect(self._lan_toggled)
        self._lan_toggled(False)

        app = QGroupBox("This app", self)
        aform = QFormLayout(app)
        self.data_dir = QLineEdit(settings.config.data_dir or "", app)
        self.browse = QPushButton("Choose…", app)
        drow = QHBoxLayout()
        drow.addWidget(self.data_dir, 1)
        drow.addWidget(self.browse)
        self.autostart = QCheckBox("Start Layerbridge when I log in", app)
        self.autostart.setChecked(settings.config.autostart)
        self.notify = QCheckBox("Show notifications (failed jobs, daemon crashes and restarts)", app)
        self.notify.setChecked(settings.config.notify)
        keyring_text = vault.explanation or "The tray's admin token is kept in the OS keyring."
        self.keyring = QLabel(keyring_text, app)
        self.keyring.setWordWrap(True)
        aform.addRow("Data dir", drow)
        aform.addRow("", self.autostart)
        aform.addRow("", self.notify)
        aform.addRow("Token", self.keyring)
        self.remote_url = QLineEdit(settings.config.remote_url, app)
        self.remote_url.setPlaceholderText("ws://gpu.studio.lan:7842 (leave empty: this computer)")
        self.remote_token = QLineEdit(app)
        self.remote_token.setEchoMode(QLineEdit.EchoMode.Password)
        self.remote_token.setPlaceholderText("admin token from `layerbridge pair --admin`")
        self.remote_fingerprint = QLineEdit(settings.config.remote_fingerprint or "", app)
        self.remote_fingerprint.setPlaceholderText(
            "wss:// with a self-signed certificate: its SHA-256, as `layerbridge serve` prints it")
        self.remote_connect = QPushButton("Connect", app)
        self.local_button = QPushButton("Use this computer's daemon", app)
        rrow = QHBoxLayout()
        rrow.addWidget(self.remote_token, 1)
        rrow.addWidget(self.remote_connect)
        rrow.addWidget(self.local_button)
        aform.addRow("Remote daemon", self.remote_url)
        aform.addRow("Certificate", self.remote_fingerprint)
        aform.addRow("", rrow)
        self.remote_connect.clicked.connect(self._remote)
        self.local_button.clicked.connect(self._local)
        self.notify.toggled.connect(self._notify)

        self.status = StatusLine(self)
        layout = QVBoxLayout(self)
        layout.addWidget(net)
        layout.addWidget(app)
        layout.addStretch(1)
        layout.addWidget(self.status)

        self.guard = EditGuard(lambda: (
            self.port.value(), self.lan.isChecked(), self.lan_host.text(), self.confirm.isChecked(),
            self.origins.toPlainText(), self.hosts.text()))
        settings.loaded.connect(self.show_settings)
        settings.connection.connected.connect(lambda _w: self._bound())
        settings.connection.disconnected.connect(lambda _why: self._bound())
        self._bound()
        self.set_local(local)
        self.save.clicked.connect(self._save)
        self.browse.clicked.connect(self._browse)
        self.autostart.toggled.connect(self._autostart)
        if settings.daemon is not None:
            self.show_settings(settings.daemon, settings.restart_required)

    def show_settings(self, info: SettingsInfo, restart: bool) -> None:
        if not self.guard.may_show():
            self.status.ok("the daemon's settings were reloaded; your unsaved edits are kept")
            return
        self.port.setValue(info.port)
        lan = is_lan(info.host)
        self.lan.setChecked(lan)
        self.loopback.setChecked(not lan)
        if lan:
            self.lan_host.setText(info.host)
        self.confirm.setChecked(lan)
        self.origins.setPlainText("\n".join(info.allowed_origins))
        self.hosts.setText(", ".join(info.allowed_hosts))
        if info.data_dir and not self.data_dir.text():
            self.data_dir.setText(info.data_dir)
        self.restart_note.setText("saved; restart the daemon to apply" if restart else "")
        self.guard.shown()

    def set_local(self, local: bool) -> None:
        """Which daemon the window manages changed: local-only controls follow."""
        self.data_dir.setReadOnly(not local)
        self.browse.setEnabled(local)
        self.local_button.setEnabled(not local and self._use_local is not None)

    def show_restored(self, why: str) -> None:
        self.status.error(why)

    def _bound(self) -> None:
        conn = self.settings.connection
        self.bound.setText(conn.url if conn.is_connected and conn.url else "not connected")

    def _local(self) -> None:
        if self._use_local is not None:
            self._use_local()
            self.status.ok("managing this computer's daemon; starting it")

    def _notify(self, on: bool) -> None:
        self.settings.set_notify(on)
        self.status.ok("notifications on" if on else "notifications off")

    def _lan_toggled(self, on: bool) -> None:
        for w in (self.lan_host, self.confirm, self.hosts):
            w.setEnabled(on)

    def _save(self) -> None:
        lan = self.lan.isChecked()
        if lan and not self.confirm.isChecked():
            QMessageBox.warning(self, "LAN mode", LAN_WARNING + "\n\nTick the confirmation first.")
            return
        host = self.lan_host.text().strip() if lan else "127.0.0.1"
        act(self.status, self.guard.save(self.settings.save(
            host=host, port=self.port.value(),
            allowed_origins=self.origins.toPlainText().splitlines(),
            allowed_hosts=self.hosts.text().split(",") if lan else [], confirm_lan=lan)),
            lambda restart: "saved; restart the daemon to apply" if restart else "saved")

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Data dir", self.data_dir.text())
        if path:
            self.data_dir.setText(path)
            self.settings.set_data_dir(path)
            self.status.ok("data dir saved; restart the daemon from the tray to use it")

    def _remote(self) -> None:
        url, token = self.remote_url.text().strip(), self.remote_token.text().strip()
        if not (url.startswith(("ws://", "wss://")) and token) or self._connect_remote is None:
            self.status.error("enter a ws:// or wss:// URL and an admin token")
            return
        pin = self.remote_fingerprint.text().strip() or None
        if pin is not None:
            from layerbridge.daemon.tls import parse_fingerprint

            try:
                pin = parse_fingerprint(pin)
            except LayerbridgeError as exc:
                self.status.error(exc.message)
                return
        stored = self._connect_remote(url, token, pin)
        self.remote_token.clear()
        self.status.ok(f"connecting to {url}; token kept in the OS keyring" if stored else
                       f"connecting to {url}; no keyring: the token is kept for this session only")

    def _autostart(self, on: bool) -> None:
        try:
            self.settings.set_autostart(on)
            self.status.ok("Layerbridge starts at login" if on else "autostart off")
        except OSError as exc:
            self.status.error(f"could not change autostart: {exc}")
