"""The GPU tab's state: device, memory, what is loaded (live from `status`), the saved memory
budget and precision (`settings.*`), and unloading one model or everything."""

from __future__ import annotations

from dataclasses import dataclass

from layerbridge.daemon.protocol.messages import (
    EngineUnload,
    Ok,
    ResultsCleaned,
    ResultsCleanup,
    SettingsGet,
    SettingsInfo,
    SettingsReply,
    SettingsSet,
    StatusReply,
    StorageGet,
    StorageReply,
)
from PySide6.QtCore import QObject, Signal

from .catalog import human_size
from .connection import DaemonConnection
from .settings_ctl import is_lan


@dataclass(frozen=True)
class GpuView:
    device: str = "not started"
    kind: str = ""
    dtype: str = ""
    used_bytes: int = 0
    total_bytes: int = 0
    loaded: tuple[str, ...] = ()
    queued: int = 0
    running: int = 0
    gpu_count: int = 0

    @property
    def memory(self) -> str:
        if not self.total_bytes:
            return "—"
        return f"{human_size(self.used_bytes)} of {human_size(self.total_bytes)}"

    @property
    def percent(self) -> int:
        return round(100 * self.used_bytes / self.total_bytes) if self.total_bytes else 0


def view_of(status: StatusReply | None) -> GpuView:
    if status is None:
        return GpuView(device="not connected")
    d = status.device
    base = GpuView(loaded=tuple(status.loaded), queued=status.queue.queued,
                   running=status.queue.running)
    if d is None:
        return base
    return GpuView(device=d.name, kind=d.type, dtype=d.dtype, used_bytes=d.memory_used_bytes,
                   total_bytes=d.memory_total_bytes, loaded=base.loaded, queued=base.queued,
                   running=base.running, gpu_count=d.gpu_count)


class GpuController(QObject):
    changed = Signal(object)  # GpuView, only when it differs
    settingsChanged = Signal(object, bool)  # SettingsInfo, restart required

    def __init__(self, connection: DaemonConnection, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.connection = connection
        # a controller made after the connection has a status starts from it (the next
        # statusChanged only comes when the status changes)
        self.view = view_of(connection.status) if connection.status is not None else GpuView()
        self.settings: SettingsInfo | None = None
        self.restart_required = False
        connection.statusChanged.connect(self._status)
        connection.disconnected.connect(lambda _why: self._status(None))

    def _status(self, status: StatusReply | None) -> None:
        view = view_of(status)
        if view != self.view:
            self.view = view
            self.changed.emit(view)

    def _settings(self, reply: SettingsReply) -> None:
        if (reply.settings, reply.restart_required) != (self.settings, self.restart_required):
            self.settings, self.restart_required = reply.settings, reply.restart_required
            self.settingsChanged.emit(reply.settings, reply.restart_required)

    async def load_settings(self) -> SettingsInfo:
        reply = await self.connection.request(SettingsGet(), SettingsReply)
        self._settings(reply)
        return reply.settings

    async def save_engine(self, *, dtype: str, memory_budget_mb: int | None,
                          device: str | None = None) -> bool:
        """Save precision, budget and device (they apply at the daemon's next start); returns
        whether a restart is needed."""
        current = await self.load_settings()
        update: dict[str, object] = {"dtype": dtype, "memory_budget_mb": memory_budget_mb}
        if device is not None:
            update["device"] = device
        changed = current.model_copy(update=update)
        # the host is the one already saved (and confirmed, if LAN): re-sending it changes nothing
        reply = await self.connection.request(
            SettingsSet(settings=changed, confirm_lan=is_lan(current.host)), SettingsReply)
        self._settings(reply)
        return reply.restart_required

    async def storage(self) -> StorageReply:
        return await self.connection.request(StorageGet(), StorageReply)

    async def cleanup(self, older_than_days: int) -> ResultsCleaned:
        """Forget finished jobs older than that, and the blobs no job still uses."""
        return await self.connection.request(ResultsCleanup(older_than_days=older_than_days),
                                             ResultsCleaned)

    async def unload_all(self) -> None:
        await self.connection.request(EngineUnload(), Ok)
        await self.connection.refresh_status()

    async def unload(self, model_id: str) -> None:
        """Free one loaded model (an entry of `view.loaded`); the others stay warm."""
        try:
            await self.connection.request(EngineUnload(model_id=model_id), Ok)
        finally:  # also when it was gone already: the list shows what is loaded now
            await self.connection.refresh_status()
