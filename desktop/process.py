"""`DaemonProcess`: the local daemon as a child process (QProcess). It keeps the child's output,
finds the URL in the `Layerbridge listening on ws://...` line, and restarts a daemon that died
with exponential backoff, giving up (state FAILED) after too many crashes in a row."""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
import time
from collections import deque
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

READY_LINE = re.compile(r"Layerbridge listening on (wss?://\S+)")
TRAY_PREFIX = "[tray] "
ERROR_WORDS = re.compile(r"\b(ERROR|CRITICAL|Error|Exception|error:|failed)\b|^layerbridge: ")
LOG_BYTES = 1 << 20  # the console log rotates at 1 MiB, keeping 3 older files
LOG_BACKUPS = 3


def last_error_line(lines: list[str]) -> str:
    """The daemon's own last error in its output (not the tray's notes about it): the last line
    that reads as an error, else its last line at all."""
    own = [line.strip() for line in lines if line.strip() and not line.startswith(TRAY_PREFIX)]
    for line in reversed(own):
        if ERROR_WORDS.search(line):
            return line
    return own[-1] if own else ""


class ProcessState(Enum):
    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    BACKOFF = "backoff"  # crashed; a restart is scheduled
    FAILED = "failed"  # crashed too often; waits for the user


_ALLOWED = {
    ProcessState.STOPPED: {ProcessState.STARTING},
    ProcessState.STARTING: {ProcessState.RUNNING, ProcessState.STOPPING, ProcessState.BACKOFF,
                            ProcessState.FAILED},
    ProcessState.RUNNING: {ProcessState.STOPPING, ProcessState.BACKOFF, ProcessState.FAILED},
    ProcessState.STOPPING: {ProcessState.STOPPED},
    ProcessState.BACKOFF: {ProcessState.STARTING, ProcessState.STOPPED},
    ProcessState.FAILED: {ProcessState.STARTING, ProcessState.STOPPED},
}


class IllegalTransition(RuntimeError):
    pass


@dataclass(frozen=True)
class Backoff:
    first_s: float = 1.0
    max_s: float = 30.0
    max_crashes: int = 5  # in a row, each within `stable_s` of its start
    stable_s: float = 60.0  # running this long forgives earlier crashes
    ready_timeout_s: float = 120.0  # the first start imports torch: give it time

    def delay(self, crashes: int) -> float:
        return min(self.first_s * 2.0 ** max(crashes - 1, 0), self.max_s)


def daemon_command(data_dir: Path, port: int | None = None) -> tuple[str, list[str]]:
    """The child's program and arguments: this interpreter running `layerbridge serve`."""
    args = ["-m", "layerbridge.daemon.cli", "--data-dir", str(data_dir), "serve"]
    if port is not None:
        args += ["--port", str(port)]
    return sys.executable, args


class DaemonProcess(QObject):
    stateChanged = Signal(str)  # ProcessState.value
    ready = Signal(str)  # the daemon's ws:// URL
    crashed = Signal(int, str)  # exit code, the last lines it printed
    restartScheduled = Signal(int, float)  # crashes in a row, seconds until the restart
    logLine = Signal(str)

    def __init__(self, data_dir: Path, *, port: int | None = None, backoff: Backoff = Backoff(),
                 log_lines: int = 2000, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.data_dir = Path(data_dir)
        self.port = port
        self.backoff = backoff
        self.state = ProcessState.STOPPED
        self.url: str | None = None
        self.crashes = 0
        self.log: deque[str] = deque(maxlen=log_lines)
        self.log_file = self.data_dir / "logs" / "daemon-console.log"
        self._file_log: logging.Logger | None = None
        self._started_at = 0.0
        self._since_start = 0
        self._partial = b""
        self._proc: QProcess | None = None
        self._restart = QTimer(self, singleShot=True)
        self._restart.timeout.connect(self._spawn)
        self._restart_after_stop = False
        self._ready_timer = QTimer(self, singleShot=True)
        self._ready_timer.timeout.connect(self._not_ready)
        self._kill_timer = QTimer(self, singleShot=True)
        self._kill_timer.timeout.connect(self._kill)

    # ------------------------------------------------------------------ control

    @property
    def running(self) -> bool:
        return self.state in (ProcessState.STARTING, ProcessState.RUNNING)

    def pid(self) -> int | None:
        if self._proc is None:
            return None
        pid = int(self._proc.processId())
        return pid or None

    def start(self) -> None:
        """Start the daemon (the user asked: earlier crashes are forgiven)."""
        if self.state is ProcessState.STOPPING:
            self._restart_after_stop = True
            return
        if self.running:
            return
        self._restart.stop()
        self.crashes = 0
        self._spawn()

    def _spawn(self) -> None:
        self._go(ProcessState.STARTING)
        self.url = None
        self._partial = b""
        proc = QProcess(self)
        proc.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        env = QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")
        proc.setProcessEnvironment(env)
        proc.readyReadStandardOutput.connect(self._read)
        proc.finished.connect(self._finished)
        proc.errorOccurred.connect(self._error)
        program, args = daemon_command(self.data_dir, self.port)
        self._proc = proc
        self._started_at = time.monotonic()
        self._since_start = 0
        self._note(f"[tray] starting: {program} {' '.join(args)}")
        proc.start(program, args)
        self._ready_timer.start(int(self.backoff.ready_timeout_s * 1000))

    def stop(self, *, force: bool = False) -> None:
        """Stop the child (SIGTERM, SIGKILL after 10 s, or at once with `force`) and do not
        restart it."""
        self._restart.stop()
        self._ready_timer.stop()
        self._restart_after_stop = False  # a restart in progress ends stopped, as asked
        if self.state in (ProcessState.BACKOFF, ProcessState.FAILED):
            self._go(ProcessState.STOPPED)
            return
        if not self.running or self._proc is None:
            return
        self._go(ProcessState.STOPPING)
        self._note("[tray] stopping")
        if force:
            self._proc.kill()
        else:
            self._proc.terminate()
            self._kill_timer.start(10_000)

    def restart(self) -> None:
        if self.running:
            self.stop()
            self._restart_after_stop = True
        else:
            self.start()

    def wait_stopped(self, timeout_ms: int = 15_000) -> bool:
        """Block until the child has exited (for quitting the app)."""
        if self._proc is None or self._proc.state() == QProcess.ProcessState.NotRunning:
            return True
        return bool(self._proc.waitForFinished(timeout_ms))

    # ------------------------------------------------------------------ child events

    def _read(self) -> None:
        assert self._proc is not None
        data = self._partial + bytes(self._proc.readAllStandardOutput().data())
        *lines, self._partial = data.split(b"\n")
        for raw in lines:
            line = raw.decode(errors="replace").rstrip("\r")
            self._note(line)
            match = READY_LINE.search(line)
            if match and self.state is ProcessState.STARTING:
                self._ready_timer.stop()
                self.url = match.group(1)
                self._go(ProcessState.RUNNING)
                self.ready.emit(self.url)

    def _error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            reason = self._proc.errorString() if self._proc else ""
            self._note(f"[tray] the daemon failed to start: {reason}")
            self._finished(-1, QProcess.ExitStatus.CrashExit)

    def _not_ready(self) -> None:
        self._note(f"[tray] no 'listening' line after {self.backoff.ready_timeout_s:.0f} s: "
                   "killing it")
        self._kill()

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()

    def _finished(self, code: int, status: QProcess.ExitStatus) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        self._ready_timer.stop()
        self._kill_timer.stop()
        proc.deleteLater()
        if self.state is ProcessState.STOPPING:
            self._note(f"[tray] the daemon stopped (exit code {code})")
            self._go(ProcessState.STOPPED)
            if self._restart_after_stop:
                self._restart_after_stop = False
                self._spawn()
            return
        if self.state not in (ProcessState.STARTING, ProcessState.RUNNING):
            return
        if time.monotonic() - self._started_at >= self.backoff.stable_s:
            self.crashes = 0
        self.crashes += 1
        crash = "crashed" if status == QProcess.ExitStatus.CrashExit else f"exited with code {code}"
        self._note(f"[tray] the daemon {crash}")
        self.crashed.emit(code, "\n".join(list(self.log)[-self._since_start:]))
        if self.crashes >= self.backoff.max_crashes:
            self._note(f"[tray] {self.crashes} crashes in a row: not restarting it again")
            self._go(ProcessState.FAILED)
            return
        delay = self.backoff.delay(self.crashes)
        self._go(ProcessState.BACKOFF)
        self._note(f"[tray] restarting it in {delay:.1f} s (crash {self.crashes})")
        self.restartScheduled.emit(self.crashes, delay)
        self._restart.start(int(delay * 1000))

    # ------------------------------------------------------------------ helpers

    def _go(self, new: ProcessState) -> None:
        if new not in _ALLOWED[self.state]:
            allowed = sorted(s.value for s in _ALLOWED[self.state])
            raise IllegalTransition(f"expected one of {allowed}, got {new.value} "
                                    f"(from {self.state.value})")
        self.state = new
        self.stateChanged.emit(new.value)

    @property
    def ever_ready(self) -> bool:
        """Whether the last start reached its 'listening' line."""
        return self.url is not None

    def note(self, text: str) -> None:
        """Add the tray's own line to the daemon's log (marked as the tray's)."""
        self._note(TRAY_PREFIX + text)

    def _note(self, line: str) -> None:
        self.log.append(line)
        self._since_start = min(self._since_start + 1, self.log.maxlen or 1)
        file_log = self._file()
        if file_log is not None:
            file_log.info(line)
        self.logLine.emit(line)

    def _file(self) -> logging.Logger | None:
        """The console log on disk, rotated by size (the in-memory log keeps the latest lines)."""
        if self._file_log is None:
            try:
                self.log_file.parent.mkdir(parents=True, exist_ok=True)
                handler = logging.handlers.RotatingFileHandler(
                    self.log_file, maxBytes=LOG_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8")
            except OSError:
                return None  # the in-memory log still has it
            handler.setFormatter(logging.Formatter("%(message)s"))
            file_log = logging.getLogger(f"layerbridge.desktop.console.{id(self)}")
            file_log.propagate = False
            file_log.setLevel(logging.INFO)
            file_log.handlers[:] = [handler]
            self._file_log = file_log
        return self._file_log

    def close_log(self) -> None:
        if self._file_log is not None:
            for handler in self._file_log.handlers:
                handler.close()
            self._file_log.handlers.clear()
            self._file_log = None

