"""The manager window: which daemon it manages (named at the top, switchable), then one tab per
concern, each a view over a TrayCore controller."""

from __future__ import annotations

from layerbridge.daemon.protocol.messages import Welcome
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from .about import AboutDialog
from .core import TrayCore
from .icons import icon
from .tab_adapters import AdaptersTab
from .tab_clients import ClientsTab
from .tab_gpu import GpuTab
from .tab_home import HomeTab
from .tab_jobs import JobsTab
from .tab_logs import LogsTab
from .tab_models import ModelsTab
from .tab_settings import SettingsTab
from .tab_train import TrainTab
from .tasks import spawn
from .traystate import TrayStatus


class ManagerWindow(QMainWindow):
    def __init__(self, core: TrayCore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.core = core
        self.resize(980, 640)
        self.tabs = QTabWidget(self)
        self.models = ModelsTab(core.catalog)
        self.home = HomeTab(core, import_path=self._import, show_connect=self.show_connect)
        self.adapters = AdaptersTab(core.catalog)
        self.train = TrainTab(core.training)
        self.gpu = GpuTab(core.gpu, disk=core.disk_use)
        self.clients = ClientsTab(core.clients, active_jobs=core.jobs.active_for)
        self.jobs = JobsTab(core.jobs)
        self.logs = LogsTab(core)
        self.settings = SettingsTab(core.settings, core.vault, local=core.is_local,
                                    connect_remote=core.connect_remote, use_local=core.use_local)
        pages: list[tuple[QWidget, str]] = [
            (self.home, "Home"), (self.models, "Models"), (self.adapters, "LoRAs && embeddings"),
            (self.train, "Train"), (self.gpu, "Machine"),
            (self.clients, "Clients"), (self.jobs, "Jobs"), (self.logs, "Logs"),
            (self.settings, "Settings"),
        ]
        for widget, title in pages:
            self.tabs.addTab(widget, title)

        self.target = QLabel(self)
        self.target.setWordWrap(True)
        self.switch_local = QPushButton("Use this computer's daemon", self)
        self.switch_remote = QPushButton("Connect to a remote daemon…", self)
        self.switch_local.clicked.connect(core.use_local)
        self.switch_remote.clicked.connect(lambda: self.tabs.setCurrentWidget(self.settings))
        bar = QHBoxLayout()
        bar.addWidget(self.target, 1)
        bar.addWidget(self.switch_local)
        bar.addWidget(self.switch_remote)
        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.addLayout(bar)
        layout.addWidget(self.tabs, 1)
        self.setCentralWidget(body)

        self.about = QAction("About Layerbridge…", self)
        self.about.triggered.connect(lambda: AboutDialog(core, self).open())
        self.menuBar().addMenu("&Help").addAction(self.about)
        self.state_label = QLabel(self)
        self.statusBar().addWidget(self.state_label, 1)
        core.state.changed.connect(self._state)
        core.connection.connected.connect(self._connected)
        core.targetChanged.connect(self._target)
        core.settingsRestored.connect(self.settings.show_restored)
        self._state(core.state.status)
        self._target(core.target)
        if core.connection.welcome is not None and core.connection.is_connected:
            self._connected(core.connection.welcome)

    def _import(self, path: str) -> None:
        self.tabs.setCurrentWidget(self.models)
        self.models.import_path(path)

    def show_connect(self) -> None:
        """How to connect a client: the Clients tab's connect page."""
        self.tabs.setCurrentWidget(self.clients)
        self.clients.show_connect()

    def _target(self, text: str) -> None:
        self.target.setText(f"<b>Managing:</b> {text}")
        kind = "local" if self.core.is_local else "remote"
        self.setWindowTitle(f"Layerbridge — {kind}: {self.core.url or 'not running'}")
        self.switch_local.setVisible(not self.core.is_local)
        self.settings.set_local(self.core.is_local)

    def _state(self, status: TrayStatus) -> None:
        self.setWindowIcon(icon(status))
        self.state_label.setText(status.tooltip.replace("\n", " — "))

    def _connected(self, welcome: Welcome) -> None:
        if welcome.scope == "admin":
            spawn(self.core.settings.load())
            spawn(self.core.gpu.load_settings())
