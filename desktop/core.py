"""`TrayCore`: the app without widgets. It owns the local daemon process (or points at a remote
daemon), the one admin connection, the controllers behind every tab, and the tray's state and
notifications. The widgets (tray.py, manager.py) only display it and call its actions."""

from __future__ import annotations

from pathlib import Path

from layerbridge.daemon.config import Paths, data_dir
from layerbridge.daemon.protocol.messages import Ok, QueuePause, StatusReply
from PySide6.QtCore import QObject, Signal

from .catalog import CatalogController, PreviewSettings
from .clients import ClientsController
from .config import TrayConfig
from .connection import DaemonConnection, LinkState
from .gpu import GpuController
from .jobs import JobsController
from .process import Backoff, DaemonProcess, ProcessState
from .settings_ctl import SettingsController
from .traystate import TrayStateModel
from .vault import TokenVault, local_admin_token, remote_account


class TrayCore(QObject):
    notify = Signal(str, str, bool)  # title, message, is an error

    def __init__(self, config: TrayConfig, *, vault: TokenVault | None = None,
                 port: int | None = None, backoff: Backoff | None = None,
                 preview: PreviewSettings | None = None, poll_ms: int = 1000,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.vault = vault or TokenVault()
        self.paths: Paths | None = None
        self.process: DaemonProcess | None = None
        self.connection = DaemonConnection(poll_ms=poll_ms, parent=self)
        if config.mode == "local":
            self.paths = data_dir(config.data_dir).ensure()
            self.process = DaemonProcess(self.paths.root, port=port, backoff=backoff or Backoff(),
                                         parent=self)
            self.process.ready.connect(self._daemon_ready)
            self.process.stateChanged.connect(self._process_state)
            self.process.crashed.connect(self._daemon_crashed)
            self.process.restartScheduled.connect(self._restart_scheduled)
        results = (self.paths.root if self.paths else Path.home() / "Layerbridge") / "results"
        self.catalog = CatalogController(self.connection, preview or PreviewSettings(), parent=self)
        self.clients = ClientsController(self.connection, parent=self)
        self.jobs = JobsController(self.connection, results, parent=self)
        self.gpu = GpuController(self.connection, parent=self)
        self.settings = SettingsController(self.connection, config, parent=self)
        self.state = TrayStateModel(self)
        self.connection.stateChanged.connect(lambda _s: self._refresh_state())
        self.connection.statusChanged.connect(lambda _s: self._refresh_state())
        self.connection.disconnected.connect(lambda _why: self._refresh_state())
        self.jobs.jobFailed.connect(self._job_failed)
        self._detail = ""

    @property
    def config(self) -> TrayConfig:
        """The tray's preferences: the settings controller holds (and saves) the one copy."""
        return self.settings.config

    # ------------------------------------------------------------------ actions

    def start(self) -> None:
        """What launching the tray does: start (or reach) the daemon."""
        if self.process is not None:
            if self.config.start_daemon:
                self.process.start()
        elif self.config.remote_url:
            token = self.vault.get(remote_account(self.config.remote_url))
            if token:
                self.connection.open(self.config.remote_url, token)
            else:
                self._detail = "paste an admin token for the remote daemon in Settings"
        self._refresh_state()

    def connect_remote(self, url: str, token: str) -> bool:
        """Use a remote daemon; returns whether its token went to the OS keyring."""
        self.settings.set_remote(url)  # the next launch connects here again (the token: the keyring)
        stored = self.vault.set(remote_account(url), token)
        self.connection.open(url, token)
        return stored

    def start_daemon(self) -> None:
        if self.process is not None:
            self.process.start()

    def stop_daemon(self) -> None:
        if self.process is not None:
            self.process.stop()

    def restart_daemon(self) -> None:
        if self.process is not None:
            self.process.restart()

    async def pause_queue(self, paused: bool) -> None:
        await self.connection.request(QueuePause(paused=paused), Ok)
        await self.connection.refresh_status()

    async def shutdown(self, *, force: bool = False) -> None:
        await self.connection.close()
        if self.process is not None:
            self.process.stop(force=force)

    # ------------------------------------------------------------------ events

    def _daemon_ready(self, url: str) -> None:
        assert self.paths is not None
        self._detail = ""
        self.connection.open(url, local_admin_token(self.paths, self.vault))
        if self.process is not None and self.process.crashes:
            self.notify.emit("Layerbridge restarted",
                             "The daemon crashed and was restarted; queued jobs resume.", False)

    def _process_state(self, _state: str) -> None:
        state = self.process.state if self.process is not None else None
        if state is ProcessState.STOPPED:
            self._detail = ""
        if state in (ProcessState.STOPPED, ProcessState.FAILED):
            self.connection.stop()  # nothing to reconnect to until it starts again
        self._refresh_state()

    def _daemon_crashed(self, code: int, tail: str) -> None:
        last = tail.strip().splitlines()[-1] if tail.strip() else ""
        self._detail = f"the daemon exited (code {code}): {last}"[:300]
        self.notify.emit("Layerbridge daemon died", self._detail, True)

    def _restart_scheduled(self, crashes: int, delay: float) -> None:
        self._detail = f"the daemon crashed; restarting it in {delay:.0f} s (attempt {crashes})"
        self._refresh_state()

    def _job_failed(self, job_id: str, message: str) -> None:
        if self.config.notify:
            self.notify.emit("Layerbridge job failed", message, True)

    def _refresh_state(self) -> None:
        process = self.process.state if self.process is not None else None
        status: StatusReply | None = self.connection.status
        link = self.connection.state
        detail = self._detail
        refused = self.connection.refused
        if link is LinkState.DISCONNECTED and refused:
            detail = detail or refused
        elif process is None and link is LinkState.DISCONNECTED and self.connection.last_error:
            detail = detail or self.connection.last_error
        self.state.update(process, link, status, detail, refused=bool(refused))
