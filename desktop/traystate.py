"""What the tray icon shows: stopped / starting / idle / busy (queue length) / error, computed
from the child process, the connection and the daemon's status. Emits only on a real change."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from layerbridge.daemon.protocol.messages import StatusReply
from PySide6.QtCore import QObject, Signal

from .connection import LinkState
from .process import ProcessState


class Look(Enum):
    STOPPED = "stopped"
    STARTING = "starting"
    IDLE = "idle"
    BUSY = "busy"
    PAUSED = "paused"  # the queue is held: jobs wait, nothing runs
    ERROR = "error"


@dataclass(frozen=True)
class TrayStatus:
    look: Look
    queue: int = 0  # jobs queued or running
    detail: str = ""
    paused: bool = False

    @property
    def tooltip(self) -> str:
        head = {
            Look.STOPPED: "Layerbridge: stopped",
            Look.STARTING: "Layerbridge: starting…",
            Look.IDLE: "Layerbridge: idle",
            Look.BUSY: f"Layerbridge: busy ({self.queue} job{'s' if self.queue != 1 else ''})",
            Look.PAUSED: (f"Layerbridge: paused ({self.queue} waiting)" if self.queue
                          else "Layerbridge: paused"),
            Look.ERROR: "Layerbridge: error",
        }[self.look]
        if self.paused and self.look is not Look.PAUSED:
            head += " — queue paused"
        return f"{head}\n{self.detail}" if self.detail else head


def compute(process: ProcessState | None, link: LinkState, status: StatusReply | None,
            detail: str = "", *, refused: bool = False) -> TrayStatus:
    """`process` is None for a remote daemon (the tray does not own it); `refused`: the daemon
    refused the tray's token, so waiting will not connect it."""
    if process in (ProcessState.FAILED,):
        return TrayStatus(Look.ERROR, detail=detail or "the daemon keeps crashing")
    if process is ProcessState.BACKOFF:
        return TrayStatus(Look.ERROR, detail=detail or "the daemon crashed; restarting it")
    if process in (ProcessState.STOPPED, ProcessState.STOPPING):
        return TrayStatus(Look.STOPPED, detail=detail)
    if refused and link is LinkState.DISCONNECTED:
        return TrayStatus(Look.ERROR, detail=detail or "the daemon refused the tray's token")
    if link is LinkState.CONNECTED and status is not None:
        queue = status.queue.queued + status.queue.running
        look = Look.BUSY if queue else Look.IDLE
        if status.queue.paused and not status.queue.running:
            look = Look.PAUSED  # jobs waiting on a held queue are not work being done
        return TrayStatus(look, queue=queue, detail=detail, paused=status.queue.paused)
    if process is None and link is LinkState.DISCONNECTED and detail:
        return TrayStatus(Look.ERROR, detail=detail)
    return TrayStatus(Look.STARTING, detail=detail)


class TrayStateModel(QObject):
    changed = Signal(object)  # TrayStatus

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.status = TrayStatus(Look.STOPPED)

    def update(self, process: ProcessState | None, link: LinkState, status: StatusReply | None,
               detail: str = "", *, refused: bool = False) -> TrayStatus:
        new = compute(process, link, status, detail, refused=refused)
        if new != self.status:
            self.status = new
            self.changed.emit(new)
        return new
