"""The tray icon and its menu: state at a glance, daemon start/stop/restart, the manager window,
pairing, pausing the queue, quit; notifications when a job fails or the daemon dies."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from .core import TrayCore
from .icons import icon
from .process import ProcessState
from .tasks import spawn
from .traystate import Look, TrayStatus


class TrayIcon(QObject):
    openManager = Signal()
    pairRequested = Signal()
    quitRequested = Signal()
    aboutRequested = Signal()

    def __init__(self, core: TrayCore, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.core = core
        self.icon = QSystemTrayIcon(self)
        self.menu = QMenu()
        self.title = QAction("Layerbridge", self.menu, enabled=False)
        self.start = QAction("Start daemon", self.menu)
        self.stop = QAction("Stop daemon", self.menu)
        self.restart = QAction("Restart daemon", self.menu)
        self.manager = QAction("Open manager…", self.menu)
        self.pair = QAction("Pair a new client…", self.menu)
        self.pause = QAction("Pause queue", self.menu, checkable=True)
        self.target = QAction("", self.menu, enabled=False)
        self.about = QAction("About Layerbridge…", self.menu)
        self.quit = QAction("Quit Layerbridge", self.menu)
        self.menu.addAction(self.title)
        self.menu.addAction(self.target)
        self.menu.addSeparator()
        for a in (self.start, self.stop, self.restart):
            self.menu.addAction(a)
        self.local_separator = self.menu.addSeparator()
        for a in (self.manager, self.pair, self.pause):
            self.menu.addAction(a)
        self.menu.addSeparator()
        self.menu.addAction(self.about)
        self.menu.addAction(self.quit)
        self.icon.setContextMenu(self.menu)

        self.start.triggered.connect(core.start_daemon)
        self.stop.triggered.connect(core.stop_daemon)
        self.restart.triggered.connect(core.restart_daemon)
        self.manager.triggered.connect(self.openManager)
        self.pair.triggered.connect(self.pairRequested)
        self.pause.triggered.connect(self._pause)
        self.quit.triggered.connect(self.quitRequested)
        self.about.triggered.connect(self.aboutRequested)
        self.icon.activated.connect(self._activated)
        core.state.changed.connect(self.show_status)
        core.notify.connect(self.notify)
        core.targetChanged.connect(self._target)  # also each change of the local child's state
        core.connection.stateChanged.connect(lambda _s: self._enable())
        self._target(core.target)
        self.show_status(core.state.status)

    def show(self) -> None:
        self.icon.show()

    def show_status(self, status: TrayStatus) -> None:
        self.icon.setIcon(icon(status))
        self.icon.setToolTip(status.tooltip)
        self.title.setText(status.tooltip.splitlines()[0])
        self.pause.setChecked(status.paused)
        self._enable()

    def notify(self, title: str, message: str, error: bool) -> None:
        kind = (QSystemTrayIcon.MessageIcon.Critical if error
                else QSystemTrayIcon.MessageIcon.Information)
        self.icon.showMessage(title, message, kind, 8000)

    def _target(self, text: str) -> None:
        self.target.setText(("Local: " if self.core.is_local else "Remote: ")
                            + (self.core.url or "not running"))
        for a in (self.start, self.stop, self.restart, self.local_separator):
            a.setVisible(self.core.is_local)  # a remote daemon is started and stopped on its machine
        self._enable()

    def _enable(self) -> None:
        process = self.core.process if self.core.is_local else None
        running = process is not None and process.state in (
            ProcessState.STARTING, ProcessState.RUNNING)
        self.start.setEnabled(self.core.is_local and not running)
        self.stop.setEnabled(running or (process is not None
                                         and process.state is ProcessState.BACKOFF))
        self.restart.setEnabled(process is not None and process.state is ProcessState.RUNNING)
        connected = self.core.connection.is_connected
        self.pair.setEnabled(connected)
        self.pause.setEnabled(connected and self.core.state.status.look in (Look.IDLE, Look.BUSY, Look.PAUSED))

    def _pause(self, checked: bool) -> None:
        spawn(self.core.pause_queue(checked),
              lambda text: self.notify("Layerbridge", f"could not pause: {text}", True))

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger,
                      QSystemTrayIcon.ActivationReason.DoubleClick):
            self.openManager.emit()
