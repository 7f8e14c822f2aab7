"""`TrayCore`: the app without widgets. It owns the local daemon process (or points at a remote
daemon), the one admin connection, the controllers behind every tab, and the tray's state and
notifications. The widgets (tray.py, manager.py) only display it and call its actions."""

from __future__ import annotations

from pathlib import Path

from layerbridge.daemon.client import RemoteError
from layerbridge.daemon.config import Paths, data_dir
from layerbridge.daemon.engine.registry import RECORDS
from layerbridge.daemon.protocol.messages import Ok, QueuePause, StatusReply
from layerbridge.daemon.runtime import read_runtime
from PySide6.QtCore import QObject, Signal

from .catalog import CatalogController, PreviewSettings
from .clients import ClientsController
from .config import TrayConfig
from .connection import DaemonConnection, LinkState
from .disk import DiskUse, measure, of_reply
from .getmodels import RegistryWatcher
from .gpu import GpuController
from .jobs import JobsController
from .process import Backoff, DaemonProcess, ProcessState, last_error_line
from .recovery import SettingsGuard
from .settings_ctl import SettingsController
from .tasks import spawn
from .training import TrainController
from .traystate import TrayStateModel
from .vault import TRAY_CLIENT, TokenVault, local_admin_token, remote_account


class TrayCore(QObject):
    notify = Signal(str, str, bool)  # title, message, is an error
    targetChanged = Signal(str)  # the daemon this app manages, in words (local or remote, URL)
    settingsRestored = Signal(str)  # why the saved daemon settings were put back

    def __init__(self, config: TrayConfig, *, vault: TokenVault | None = None,
                 port: int | None = None, backoff: Backoff | None = None,
                 preview: PreviewSettings | None = None, poll_ms: int = 1000,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.vault = vault or TokenVault()
        self.paths: Paths | None = None
        self.process: DaemonProcess | None = None  # the local child, made when first used
        self.guard: SettingsGuard | None = None
        self.watcher: RegistryWatcher | None = None
        self._port = port
        self._backoff = backoff or Backoff()
        self.connection = DaemonConnection(poll_ms=poll_ms, parent=self)
        if config.mode == "local":
            self._local(config)
        results = (self.paths.root if self.paths else Path.home() / "Layerbridge") / "results"
        self.catalog = CatalogController(self.connection, preview or PreviewSettings(),
                                         parent=self, previews_dir=self._previews_dir(config))
        self.clients = ClientsController(self.connection, parent=self)
        self.jobs = JobsController(self.connection, results, parent=self)
        self.gpu = GpuController(self.connection, parent=self)
        self.training = TrainController(self.connection, self.catalog, parent=self,
                                        kind_of=self._kind_of)
        self.settings = SettingsController(self.connection, config, parent=self)
        self.state = TrayStateModel(self)
        self.connection.stateChanged.connect(lambda _s: self._refresh_state())
        self.connection.statusChanged.connect(lambda _s: self._refresh_state())
        self.connection.disconnected.connect(lambda _why: self._refresh_state())
        self.connection.connected.connect(lambda _w: self.targetChanged.emit(self.target))
        self.jobs.jobFailed.connect(self._job_failed)
        self._detail = ""

    def _local(self, config: TrayConfig) -> DaemonProcess:
        if self.process is None:
            self.paths = data_dir(config.data_dir).ensure()
            self.guard = SettingsGuard(self.paths)
            self.watcher = RegistryWatcher(self.paths.models / RECORDS, self)
            self.watcher.changed.connect(self._registry_changed)
            self.process = DaemonProcess(self.paths.root, port=self._port, backoff=self._backoff,
                                         parent=self)
            self.process.ready.connect(self._daemon_ready)
            self.process.stateChanged.connect(self._process_state)
            self.process.crashed.connect(self._daemon_crashed)
            self.process.restartScheduled.connect(self._restart_scheduled)
        return self.process

    def _previews_dir(self, config: TrayConfig) -> Path:
        """LoRA thumbnails: in the local data dir, else in this user's cache, per daemon."""
        if config.mode == "local" and self.paths is not None:
            return self.paths.root / "previews"
        import platformdirs

        url = config.remote_url
        slug = "".join(c if c.isalnum() else "-" for c in url) or "remote"
        return Path(platformdirs.user_cache_dir("layerbridge", appauthor=False)) / "previews" / slug

    @property
    def config(self) -> TrayConfig:
        """The tray's preferences: the settings controller holds (and saves) the one copy."""
        return self.settings.config

    @property
    def is_local(self) -> bool:
        """Whether this app manages the daemon it runs itself (else a remote one)."""
        return self.config.mode == "local"

    @property
    def url(self) -> str:
        """The daemon's address: the one bound (the local child's), not the one saved."""
        if self.is_local:
            if self.connection.is_connected and self.connection.url:
                return self.connection.url  # LAN mode: the local address, not 0.0.0.0
            return (self.process.url if self.process else None) or ""
        return self.config.remote_url

    @property
    def target(self) -> str:
        """The daemon this window manages, in words."""
        if self.is_local:
            where = self.url or "not running"
            folder = f", data in {self.paths.root}" if self.paths else ""
            return f"this computer's daemon ({where}{folder})"
        return f"remote daemon {self.config.remote_url or '(no URL yet)'}"

    async def disk_use(self) -> DiskUse:
        """Disk used by models, blobs (uploads and results) and the ledger, as the daemon
        measures it; an older daemon without `storage.get`: what can be measured here."""
        try:
            return of_reply(await self.gpu.storage())
        except RemoteError as exc:
            if exc.code not in ("bad_message", "unknown_type"):
                raise
        models = self.catalog.checkpoints.records() + self.catalog.adapters.records()
        return await measure(models, self.paths if self.is_local else None)

    def _kind_of(self, job_id: str) -> str | None:
        row = self.jobs.table.get(job_id)
        return row.kind if row is not None else None

    def active_jobs(self) -> int:
        """Jobs queued or running on the managed daemon (what quitting or stopping would hold)."""
        status = self.connection.status
        if status is not None:
            return status.queue.queued + status.queue.running
        return sum(1 for r in self.jobs.table.records() if r.active)

    # ------------------------------------------------------------------ actions

    def start(self) -> None:
        """What launching the tray does: start (or reach) the daemon."""
        if self.is_local:
            if self.config.start_daemon:
                self._local(self.config).start()
        elif self.config.remote_url:
            token = self.vault.get(remote_account(self.config.remote_url))
            if token:
                self.connection.open(self.config.remote_url, token,
                                     tls_fingerprint=self.config.remote_fingerprint)
            else:
                self._detail = "paste an admin token for the remote daemon in Settings"
        self._refresh_state()
        self.targetChanged.emit(self.target)

    def connect_remote(self, url: str, token: str, fingerprint: str | None = None) -> bool:
        """Manage the daemon at `url` from now on (this launch and the next): the local child
        stops. A wss:// daemon with a self-signed certificate is pinned to its `fingerprint`.
        Returns whether the token went to the OS keyring."""
        if self.process is not None:
            self.process.stop()
        self.settings.set_remote(url, fingerprint or None)  # the token goes to the keyring
        stored = self.vault.set(remote_account(url), token)
        self._detail = ""
        self.clients.own_name = None  # a pasted token: its paired name is not known here
        self.catalog.previews_dir = self._previews_dir(self.config)
        self.connection.open(url, token, tls_fingerprint=fingerprint or None)
        self._refresh_state()
        self.targetChanged.emit(self.target)
        return stored

    def use_local(self) -> None:
        """Manage this computer's daemon again: the remote link closes, the child starts."""
        was_local = self.is_local
        self.settings.set_local()
        if not was_local:
            self.connection.stop()
            self._detail = ""
        self._local(self.config).start()
        self.catalog.previews_dir = self._previews_dir(self.config)
        self._refresh_state()
        self.targetChanged.emit(self.target)

    def start_daemon(self) -> bool:
        """Start the local daemon; False (nothing done) while a remote daemon is managed."""
        if not self.is_local:
            return False
        self._local(self.config).start()
        return True

    def stop_daemon(self) -> bool:
        if not self.is_local or self.process is None:
            return False
        self.process.stop()
        return True

    def restart_daemon(self) -> bool:
        """Restart the local daemon. A window managing a remote daemon is never pointed at the
        local child: this does nothing there and returns False."""
        if not self.is_local:
            return False
        self._local(self.config).restart()
        return True

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
        if not self.is_local:
            # a child that came up after the switch to a remote daemon: not what this app manages
            if self.process is not None:
                self.process.stop()
            return
        if self.guard is not None:
            self.guard.remember_started()
        self._detail = ""
        self.clients.own_name = TRAY_CLIENT
        # LAN mode: the child speaks wss:// with the certificate it wrote in its runtime file
        running = read_runtime(self.paths)
        pin = running.tls_fingerprint if running is not None else None
        if running is not None and url.startswith("wss://"):
            url = running.local_url
        self.connection.open(url, local_admin_token(self.paths, self.vault), tls_fingerprint=pin)
        self.targetChanged.emit(self.target)
        if self.process is not None and self.process.crashes:
            self._notify("Layerbridge restarted",
                         "The daemon crashed and was restarted; queued jobs resume.", False)

    def _process_state(self, _state: str) -> None:
        if not self.is_local:
            return  # the child stopping after a switch to a remote daemon: not this link's business
        state = self.process.state if self.process is not None else None
        if state is ProcessState.STOPPED:
            self._detail = ""
        if state in (ProcessState.STOPPED, ProcessState.FAILED):
            self.connection.stop()  # nothing to reconnect to until it starts again
        self._refresh_state()
        self.targetChanged.emit(self.target)

    def _daemon_crashed(self, code: int, tail: str) -> None:
        cause = last_error_line(tail.splitlines())
        self._detail = f"the daemon exited (code {code}): {cause}"[:300]
        process = self.process
        if (process is not None and not process.ever_ready and self.guard is not None
                and self.guard.restore()):
            why = (f"The daemon did not start with the saved settings ({cause}). The settings it "
                   f"last started with are back; the refused ones are in "
                   f"{self.guard.refused_file.name}.")
            self._detail = f"restored the last working settings: {cause}"[:300]
            process.note(f"restored the settings the daemon last started with ({cause})")
            self.settingsRestored.emit(why)
            self._notify("Layerbridge settings restored", why, True)
            return
        self._notify("Layerbridge daemon died", self._detail, True)

    def _restart_scheduled(self, crashes: int, delay: float) -> None:
        if not self._detail.startswith("restored"):
            self._detail = (f"the daemon crashed; restarting it in {delay:.0f} s "
                            f"(attempt {crashes})")
        self._refresh_state()

    def _registry_changed(self) -> None:
        if self.is_local and self.connection.is_connected:
            spawn(self.catalog.refresh())  # the daemon reads the registry afresh

    def _job_failed(self, job_id: str, message: str) -> None:
        self._notify("Layerbridge job failed", message, True)

    def _notify(self, title: str, message: str, error: bool) -> None:
        if self.config.notify:
            self.notify.emit(title, message, error)

    def _refresh_state(self) -> None:
        process = self.process.state if (self.process is not None and self.is_local) else None
        status: StatusReply | None = self.connection.status
        link = self.connection.state
        detail = self._detail
        refused = self.connection.refused
        if link is LinkState.DISCONNECTED and refused:
            detail = detail or refused
        elif process is None and link is LinkState.DISCONNECTED and self.connection.last_error:
            detail = detail or self.connection.last_error
        self.state.update(process, link, status, detail, refused=bool(refused))
