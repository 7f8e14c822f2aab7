"""Models tab: checkpoints (and ControlNets) with import, remove, set default, open folder."""

from __future__ import annotations

from pathlib import Path

from layerbridge.daemon.engine.detect import PICKLE_SUFFIXES
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .catalog import CatalogController
from .widgets import StatusLine, act, confirm, open_folder, selected_key, table

MODEL_FILES = ("Model files (*.safetensors " + " ".join(f"*{s}" for s in PICKLE_SUFFIXES)
               + ");;All files (*)")


class ModelsTab(QWidget):
    def __init__(self, catalog: CatalogController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.catalog = catalog
        self.view = table(catalog.checkpoints, self)
        self.status = StatusLine(self)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 0)  # the daemon reports no fraction: a busy bar
        self.progress.setMaximumHeight(8)
        self.progress.setTextVisible(False)
        self.progress.hide()
        catalog.busyChanged.connect(self.progress.setVisible)

        buttons = QHBoxLayout()
        self.import_file = QPushButton("Import file…", self)
        self.import_folder = QPushButton("Import folder…", self)
        self.set_default = QPushButton("Set default", self)
        self.open_folder = QPushButton("Open folder", self)
        self.remove = QPushButton("Remove…", self)
        self.refresh = QPushButton("Refresh", self)
        for b in (self.import_file, self.import_folder, self.set_default, self.open_folder):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.refresh)
        buttons.addWidget(self.remove)
        self.refresh.clicked.connect(
            lambda: act(self.status, catalog.refresh(), "the list is what the daemon has now"))
        self.import_file.clicked.connect(self._import_file)
        self.import_folder.clicked.connect(self._import_folder)
        self.set_default.clicked.connect(self._set_default)
        self.open_folder.clicked.connect(self._open_folder)
        self.remove.clicked.connect(self._remove)

        # records whose files are gone or damaged: named, with why, and removable in one click
        self.broken_note = QLabel(self)
        self.broken_note.setWordWrap(True)
        self.remove_broken = QPushButton("Remove broken…", self)
        self.remove_broken.clicked.connect(self._remove_broken)
        broken_row = QHBoxLayout()
        broken_row.addWidget(self.broken_note, 1)
        broken_row.addWidget(self.remove_broken)
        catalog.changed.connect(self._show_broken)
        self._show_broken()

        layout = QVBoxLayout(self)
        layout.addLayout(broken_row)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.status)

    def _import_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import a checkpoint", "",
            MODEL_FILES)
        if path:
            self.import_path(path)

    def _import_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Import a diffusers folder")
        if path:
            self.import_path(path)

    def import_path(self, path: str) -> None:
        pickle = path.lower().endswith(PICKLE_SUFFIXES)
        if pickle and QMessageBox.warning(
                self, "Pickle checkpoint",
                "This file is a pickle: loading one can run code. Import it only if you trust "
                "where it comes from.", QMessageBox.StandardButton.Yes
                | QMessageBox.StandardButton.Cancel) != QMessageBox.StandardButton.Yes:
            return
        self.status.ok(f"importing {path}…")
        act(self.status, self.catalog.add(path, allow_pickle=pickle),
            lambda m: f"imported {m.name} ({m.arch}, {m.kind}) as {m.id}")

    def _set_default(self) -> None:
        key = selected_key(self.view)
        if key:
            act(self.status, self.catalog.set_default(key), f"{key} is now the default model")

    def _open_folder(self) -> None:
        key = selected_key(self.view)
        if key:
            async def run() -> None:
                path = Path(await self.catalog.locate(key))
                open_folder(self.status, path if path.is_dir() else path.parent)

            act(self.status, run())

    def _remove(self) -> None:
        key = selected_key(self.view)
        if not key:
            return
        if confirm(self, "Remove model", f"Remove {key} from Layerbridge? Its files stay on disk."):
            act(self.status, self.catalog.remove(key), f"removed {key}")

    def _show_broken(self) -> None:
        broken = self.catalog.broken
        self.broken_note.setText("Cannot be served: " + "; ".join(
            f"{b.id} ({b.reason})" for b in broken) + "." if broken else "")
        self.broken_note.setVisible(bool(broken))
        self.remove_broken.setVisible(bool(broken))

    def _remove_broken(self) -> None:
        ids = ", ".join(b.id for b in self.catalog.broken)
        if ids and confirm(self, "Remove broken models",
                           f"Unregister {ids}? Whatever files remain stay on disk."):
            act(self.status, self.catalog.remove_broken(),
                lambda removed: f"removed {', '.join(removed)}")
