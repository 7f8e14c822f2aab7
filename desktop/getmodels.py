"""Getting a first model without a terminal: the demo models or a Hugging Face download, run as
`layerbridge models ...` child processes (torch and the hub stay out of the tray's process) with
their progress read from the output; a disk-space check; and a watch on the registry folder so
the catalogue follows models added by any process."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QObject, QProcess, QProcessEnvironment, QTimer, Signal

HF_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$")
PERCENT = re.compile(r"(\d{1,3}(?:\.\d+)?)%")
# `models add hf:` prints `[#####    ]  40%   123.4/456.7 MiB file`: the total is the download's size
TOTAL_MIB = re.compile(r"[\d.]+/([\d.]+) MiB")
# a diffusers SD 1.5 repo is ~2-5 GiB, SDXL ~7-14 GiB: below this the download cannot fit
MIN_FREE_BYTES = 8 << 30


def hf_problem(repo: str) -> str | None:
    """Why `repo` is not a Hugging Face model id (org/name), or None."""
    repo = repo.strip().removeprefix("hf:").removeprefix("https://huggingface.co/")
    if not HF_ID.match(repo):
        return (f"{repo!r} is not a Hugging Face model id: write it as organisation/name "
                "(e.g. stabilityai/sd-turbo)")
    return None


def space_problem(folder: Path, need: int = MIN_FREE_BYTES) -> str | None:
    """Why a download into `folder` would not fit, or None."""
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if free < need:
        return (f"only {free / 2**30:.1f} GiB free on the disk of {folder}; a model needs up to "
                f"{need / 2**30:.0f} GiB: free some space first")
    return None


def total_of(line: str) -> int | None:
    """The whole download's size in bytes, when a progress line says it."""
    found = TOTAL_MIB.search(line)
    return int(float(found.group(1)) * (1 << 20)) if found else None


def percent_of(line: str) -> int | None:
    """The last percentage a progress line shows (tqdm's `Fetching 15 files:  40%|...`)."""
    found = PERCENT.findall(line)
    if not found:
        return None
    return max(0, min(100, int(float(found[-1]))))


class ModelsCommand(QObject):
    """One `layerbridge --data-dir D models ...` child: its lines, progress, and its outcome."""

    line = Signal(str)
    progress = Signal(int)  # percent; -1 while unknown
    sized = Signal(int)  # the download's total bytes, once known
    finished = Signal(bool, str)  # succeeded, what to tell the user

    def __init__(self, data_dir: Path, args: list[str], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.data_dir = data_dir
        self.args = args
        self.lines: list[str] = []
        self.cancelled = False
        self.total: int | None = None
        self.why_cancelled = "cancelled"
        self._proc: QProcess | None = None
        self._partial = b""

    @property
    def running(self) -> bool:
        return self._proc is not None

    def start(self) -> None:
        proc = QProcess(self)
        proc.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        env = QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")
        proc.setProcessEnvironment(env)
        proc.readyReadStandardOutput.connect(self._read)
        proc.finished.connect(self._finished)
        proc.errorOccurred.connect(self._error)
        self._proc = proc
        self.progress.emit(-1)
        proc.start(sys.executable, ["-m", "layerbridge.daemon.cli", "--data-dir",
                                    str(self.data_dir), "models", *self.args])

    def cancel(self, why: str = "cancelled") -> None:
        if self._proc is not None:
            self.cancelled, self.why_cancelled = True, why
            self._proc.kill()

    def _read(self) -> None:
        assert self._proc is not None
        data = self._partial + bytes(self._proc.readAllStandardOutput().data())
        *parts, self._partial = re.split(rb"[\r\n]", data)  # tqdm redraws with \r
        for raw in parts:
            text = raw.decode(errors="replace").strip()
            if not text:
                continue
            self.lines.append(text)
            self.line.emit(text)
            pct = percent_of(text)
            if pct is not None:
                self.progress.emit(pct)
            total = total_of(text)
            if total is not None and self.total is None:
                self.total = total
                self.sized.emit(total)

    def _error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart and self._proc is not None:
            self._done(False, f"could not run layerbridge: {self._proc.errorString()}")

    def _finished(self, code: int, _status: QProcess.ExitStatus) -> None:
        if self._proc is not None:
            self._read()
        if self.cancelled:
            self._done(False, self.why_cancelled)
        elif code == 0:
            self._done(True, self.lines[-1] if self.lines else "done")
        else:
            errors = [t for t in self.lines if t.startswith("layerbridge:")]
            why = errors[-1] if errors else (self.lines[-1] if self.lines else f"exit code {code}")
            self._done(False, why.removeprefix("layerbridge: "))

    def _done(self, ok: bool, message: str) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.deleteLater()
        self.finished.emit(ok, message)


def demo_command(data_dir: Path, parent: QObject | None = None) -> ModelsCommand:
    """Build the tiny demo models (seconds; random weights: for trying the app, not for art)."""
    return ModelsCommand(data_dir, ["demo"], parent)


def hf_command(data_dir: Path, repo: str, parent: QObject | None = None) -> ModelsCommand:
    repo = repo.strip().removeprefix("hf:").removeprefix("https://huggingface.co/")
    return ModelsCommand(data_dir, ["add", f"hf:{repo}"], parent)


class RegistryWatcher(QObject):
    """Says (debounced) when the registry folder changes: a model added or removed by the CLI,
    another tray, or the daemon itself."""

    changed = Signal()

    def __init__(self, registry: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        registry.mkdir(parents=True, exist_ok=True)
        self.folder = registry
        self._watch = QFileSystemWatcher([str(registry)], self)
        self._debounce = QTimer(self, singleShot=True, interval=250)
        self._watch.directoryChanged.connect(lambda _p: self._debounce.start())
        self._debounce.timeout.connect(self.changed)
