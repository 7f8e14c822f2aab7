"""Home: what Layerbridge is, the daemon starting, and the way to a first image. With no model
yet, an empty state offers the demo models, importing a file or folder, or a Hugging Face
download (progress, cancel, a disk-space check); with one, a test image and the next step
(connecting Photoshop or Figma)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from layerbridge.daemon.protocol.messages import JobParams
from layerbridge.daemon.protocol.vocab import JobKind
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .about import WHAT
from .core import TrayCore
from .getmodels import ModelsCommand, demo_command, hf_command, hf_problem, space_problem
from .tab_models import MODEL_FILES
from .traystate import Look, TrayStatus
from .widgets import StatusLine, act

TEST_PROMPT = "a lighthouse on a cliff at dawn, watercolor"


class HomeTab(QWidget):
    def __init__(self, core: TrayCore, *, import_path: Callable[[str], None],
                 show_connect: Callable[[], None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.core = core
        self._import_path = import_path
        self.command: ModelsCommand | None = None
        title = QLabel("<h2>Layerbridge</h2>", self)
        self.what = QLabel(WHAT, self)
        self.what.setWordWrap(True)
        self.daemon = QLabel(self)
        self.daemon.setWordWrap(True)
        self.starting = QProgressBar(self)
        self.starting.setRange(0, 0)
        self.starting.setMaximumHeight(8)
        self.starting.setTextVisible(False)

        # ---- no model yet
        self.empty = QGroupBox("Get a model", self)
        self.where = QLabel(self.empty)
        self.where.setWordWrap(True)
        self.where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.demo = QPushButton("Build the demo models", self.empty)
        self.demo.setToolTip("Tiny models with random weights, built in seconds without a "
                             "download: they prove the set-up works (the images are noise).")
        self.import_file = QPushButton("Import a file…", self.empty)
        self.import_file.setToolTip(".safetensors checkpoints, LoRAs, embeddings and "
                                    "ControlNets; .ckpt/.pt/.bin pickles after a warning")
        self.import_folder = QPushButton("Import a diffusers folder…", self.empty)
        self.hf_id = QLineEdit(self.empty)
        self.hf_id.setPlaceholderText("Hugging Face id, e.g. stabilityai/sd-turbo")
        self.download = QPushButton("Download", self.empty)
        self.cancel = QPushButton("Cancel", self.empty)
        self.cancel.setEnabled(False)
        self.progress = QProgressBar(self.empty)
        self.progress.hide()
        self.get_status = StatusLine(self.empty)
        row = QHBoxLayout()
        for b in (self.demo, self.import_file, self.import_folder):
            row.addWidget(b)
        row.addStretch(1)
        hf = QHBoxLayout()
        hf.addWidget(self.hf_id, 1)
        hf.addWidget(self.download)
        hf.addWidget(self.cancel)
        elayout = QVBoxLayout(self.empty)
        elayout.addWidget(self.where)
        elayout.addLayout(row)
        elayout.addLayout(hf)
        elayout.addWidget(self.progress)
        elayout.addWidget(self.get_status)

        # ---- a model: try it, then connect a client
        self.ready = QGroupBox("Try it", self)
        self.models_line = QLabel(self.ready)
        self.models_line.setWordWrap(True)
        self.test = QPushButton("Generate a test image", self.ready)
        self.connect_button = QPushButton("Connect Photoshop or Figma…", self.ready)
        self.image = QLabel(self.ready)
        self.image.setFixedSize(192, 192)
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setStyleSheet("border: 1px solid palette(mid);")
        self.test_status = StatusLine(self.ready)
        trow = QHBoxLayout()
        trow.addWidget(self.test)
        trow.addWidget(self.connect_button)
        trow.addStretch(1)
        rlayout = QVBoxLayout(self.ready)
        rlayout.addWidget(self.models_line)
        rlayout.addLayout(trow)
        rlayout.addWidget(self.image)
        rlayout.addWidget(self.test_status)

        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(self.what)
        layout.addWidget(self.daemon)
        layout.addWidget(self.starting)
        layout.addWidget(self.empty)
        layout.addWidget(self.ready)
        layout.addStretch(1)

        self.demo.clicked.connect(self.build_demo)
        self.import_file.clicked.connect(self._pick_file)
        self.import_folder.clicked.connect(self._pick_folder)
        self.download.clicked.connect(lambda: self.download_hf(self.hf_id.text()))
        self.hf_id.returnPressed.connect(lambda: self.download_hf(self.hf_id.text()))
        self.cancel.clicked.connect(self._cancel)
        self.test.clicked.connect(self.generate_test)
        self.connect_button.clicked.connect(show_connect)
        core.state.changed.connect(self._state)
        core.targetChanged.connect(lambda _t: self._update())
        core.catalog.changed.connect(self._update)
        core.connection.connected.connect(lambda _w: self._update())
        self._state(core.state.status)

    # ------------------------------------------------------------------ what it shows

    def _state(self, status: TrayStatus) -> None:
        starting = status.look is Look.STARTING
        self.starting.setVisible(starting)
        head = status.tooltip.splitlines()[0].removeprefix("Layerbridge: ")
        note = (" — the first start loads the engine; this can take a minute"
                if starting and self.core.is_local else "")
        detail = f"<br>{status.detail}" if status.detail else ""
        self.daemon.setText(f"<b>Daemon:</b> {head}{note}{detail}")
        self._update()

    def _update(self) -> None:
        checkpoints = [m for m in self.core.catalog.checkpoints.records() if m.kind == "checkpoint"]
        connected = self.core.connection.is_connected
        self.empty.setVisible(not checkpoints or self.busy)
        self.ready.setVisible(bool(checkpoints))
        local = self.core.is_local and self.core.paths is not None
        if local and self.core.paths is not None:
            self.where.setText(
                f"No model yet. Models live in {self.core.paths.models} (an imported file or "
                "folder stays where it is; the registry records where).")
        else:
            self.where.setText("No model on this daemon yet. Imported paths are paths on the "
                               "daemon's machine; a download lands on its disk.")
        self.demo.setEnabled(local and not self.busy)
        self.download.setEnabled((local or connected) and not self.busy)
        for b in (self.import_file, self.import_folder):
            b.setEnabled(connected)
        default = next((m for m in checkpoints if m.default), checkpoints[0] if checkpoints else None)
        if default is not None:
            self.models_line.setText(
                f"{len(checkpoints)} checkpoint{'s' if len(checkpoints) != 1 else ''}; the "
                f"default is <b>{default.name}</b> ({default.arch}). Generate a test image, then "
                "connect the Photoshop panel or the Figma plugin.")
        self.test.setEnabled(connected and default is not None)

    @property
    def busy(self) -> bool:
        return self.command is not None and self.command.running

    # ------------------------------------------------------------------ getting a model

    def build_demo(self) -> None:
        if self.core.paths is None or self.busy:
            return
        self.get_status.ok("building the demo models (loads the engine once; about 30 s)…")
        self._run(demo_command(self.core.paths.root, self))

    def download_hf(self, repo: str) -> None:
        problem = hf_problem(repo)
        if problem:
            self.get_status.error(problem)
            return
        if not self.core.is_local or self.core.paths is None:
            # the daemon downloads onto its own disk; it reports no progress over the wire
            self.get_status.ok(f"the daemon is downloading {repo.strip()}…")
            act(self.get_status, self.core.catalog.add(f"hf:{repo.strip().removeprefix('hf:')}"),
                lambda m: f"downloaded and added {m.name} as {m.id}")
            return
        problem = space_problem(self.core.paths.models)
        if problem:
            self.get_status.error(problem)
            return
        self.get_status.ok(f"downloading {repo.strip()}…")
        command = hf_command(self.core.paths.root, repo, self)
        models = self.core.paths.models
        command.sized.connect(lambda total: self._fits(command, models, total))
        self._run(command)

    def _fits(self, command: ModelsCommand, folder: Path, total: int) -> None:
        """The download said its size: stop it now if the disk cannot hold it."""
        problem = space_problem(folder, need=total)
        if problem:
            command.cancel(f"stopped: {problem}")

    def _run(self, command: ModelsCommand) -> None:
        self.command = command
        self.progress.setRange(0, 0)
        self.progress.show()
        self.cancel.setEnabled(True)
        command.progress.connect(self._progress)
        command.line.connect(lambda text: self.get_status.ok(text[:160]))
        command.finished.connect(self._finished)
        command.start()
        self._update()

    def _progress(self, percent: int) -> None:
        if percent < 0:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 100)
            self.progress.setValue(percent)

    def _finished(self, ok: bool, message: str) -> None:
        self.progress.hide()
        self.cancel.setEnabled(False)
        if ok:
            self.get_status.ok(message)
        else:
            plain = message == "cancelled" or message.startswith("stopped:")
            self.get_status.error(message if plain else f"failed: {message}")
        self._update()

    def _cancel(self) -> None:
        if self.command is not None:
            self.command.cancel()

    def _pick_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import a model file", "", MODEL_FILES)
        if path:
            self._import_path(path)

    def _pick_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Import a diffusers folder")
        if path:
            self._import_path(path)

    # ------------------------------------------------------------------ the first image

    def generate_test(self) -> None:
        checkpoints = [m for m in self.core.catalog.checkpoints.records() if m.kind == "checkpoint"]
        model = next((m for m in checkpoints if m.default), checkpoints[0] if checkpoints else None)
        if model is None:
            return
        p = self.core.catalog.preview_settings
        params = JobParams(kind=JobKind.GENERATE, model=model.id, prompt=TEST_PROMPT, seed=p.seed,
                           steps=p.steps, width=p.width, height=p.height)

        async def run() -> str:
            images = await self.core.connection.run(params)
            pixmap = QPixmap()
            pixmap.loadFromData(images[0], "PNG")
            self.image.setPixmap(pixmap.scaled(192, 192, Qt.AspectRatioMode.KeepAspectRatio,
                                               Qt.TransformationMode.SmoothTransformation))
            return f"made with {model.name}: it works. Next: connect Photoshop or Figma."

        self.test_status.ok(f"generating with {model.name}…")
        act(self.test_status, run(), lambda text: str(text))
