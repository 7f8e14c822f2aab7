"""The manager window: one tab per concern, each a view over a TrayCore controller."""

from __future__ import annotations

from layerbridge.daemon.protocol.messages import Welcome
from PySide6.QtWidgets import QLabel, QMainWindow, QTabWidget, QWidget

from .core import TrayCore
from .icons import icon
from .tab_adapters import AdaptersTab
from .tab_clients import ClientsTab
from .tab_gpu import GpuTab
from .tab_jobs import JobsTab
from .tab_models import ModelsTab
from .tab_settings import SettingsTab
from .tasks import spawn
from .traystate import TrayStatus


class ManagerWindow(QMainWindow):
    def __init__(self, core: TrayCore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.core = core
        self.setWindowTitle("Layerbridge")
        self.resize(920, 600)
        self.tabs = QTabWidget(self)
        self.models = ModelsTab(core.catalog)
        self.adapters = AdaptersTab(core.catalog)
        self.gpu = GpuTab(core.gpu)
        self.clients = ClientsTab(core.clients)
        self.jobs = JobsTab(core.jobs)
        self.settings = SettingsTab(core.settings, core.vault, local=core.process is not None,
                                    connect_remote=core.connect_remote)
        for widget, title in ((self.models, "Models"), (self.adapters, "LoRAs && embeddings"),
                              (self.gpu, "GPU"), (self.clients, "Clients"), (self.jobs, "Jobs"),
                              (self.settings, "Settings")):
            self.tabs.addTab(widget, title)
        self.setCentralWidget(self.tabs)
        self.state_label = QLabel(self)
        self.statusBar().addWidget(self.state_label, 1)
        core.state.changed.connect(self._state)
        core.connection.connected.connect(self._connected)
        self._state(core.state.status)
        if core.connection.welcome is not None and core.connection.is_connected:
            self._connected(core.connection.welcome)

    def _state(self, status: TrayStatus) -> None:
        self.setWindowIcon(icon(status))
        self.state_label.setText(status.tooltip.replace("\n", " — "))

    def _connected(self, welcome: Welcome) -> None:
        if welcome.scope == "admin":
            spawn(self.core.settings.load())
            spawn(self.core.gpu.load_settings())
