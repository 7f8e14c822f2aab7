"""LoRAs & embeddings tab: list with base architecture, trigger words and default weight, an
editor for that metadata, import/remove, and a preview thumbnail made on demand."""

from __future__ import annotations

from layerbridge.daemon.protocol.messages import ModelInfo
from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .catalog import CatalogController
from .widgets import StatusLine, act, confirm, selected_key, table


class AdaptersTab(QWidget):
    def __init__(self, catalog: CatalogController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.catalog = catalog
        self.view = table(catalog.adapters, self, stretch=3, row_height=52)
        self.view.setIconSize(QSize(48, 48))
        self.status = StatusLine(self)

        buttons = QHBoxLayout()
        self.import_button = QPushButton("Import…", self)
        self.remove_button = QPushButton("Remove…", self)
        buttons.addWidget(self.import_button)
        buttons.addStretch(1)
        buttons.addWidget(self.remove_button)
        self.import_button.clicked.connect(self._import)
        self.remove_button.clicked.connect(self._remove)

        self.editor = QGroupBox("Selected", self)
        form = QFormLayout(self.editor)
        self.name = QLineEdit(self.editor)
        self.words = QLineEdit(self.editor)
        self.words.setPlaceholderText("comma separated, added to the prompt")
        self.weight = QDoubleSpinBox(self.editor)
        self.weight.setRange(-4.0, 4.0)
        self.weight.setSingleStep(0.05)
        self.weight.setValue(1.0)
        self.save = QPushButton("Save", self.editor)
        self.preview_button = QPushButton("Generate preview", self.editor)
        self.thumb = QLabel(self.editor)
        self.thumb.setFixedSize(128, 128)
        self.thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.thumb.setStyleSheet("border: 1px solid palette(mid);")
        form.addRow("Name", self.name)
        form.addRow("Trigger words", self.words)
        form.addRow("Default weight", self.weight)
        row = QHBoxLayout()
        row.addWidget(self.save)
        row.addWidget(self.preview_button)
        row.addStretch(1)
        form.addRow(row)
        form.addRow("Preview", self.thumb)
        self.save.clicked.connect(self._save)
        self.preview_button.clicked.connect(self._preview)
        self.editor.setEnabled(False)

        self.view.selectionModel().selectionChanged.connect(lambda *_: self._selected())
        catalog.adapters.dataChanged.connect(lambda *_: self._show_thumb())
        catalog.thumbnailReady.connect(lambda _id: self._show_thumb())

        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.editor)
        layout.addWidget(self.status)

    def current(self) -> ModelInfo | None:
        key = selected_key(self.view)
        return None if key is None else self.catalog.adapters.get(key)

    def select(self, model_id: str) -> None:
        row = self.catalog.adapters.row_of(model_id)
        if row is not None:
            self.view.selectRow(row)

    def _selected(self) -> None:
        m = self.current()
        self.editor.setEnabled(m is not None)
        if m is None:
            return
        self.editor.setTitle(f"{m.id} — {'LoRA' if m.kind == 'lora' else 'embedding'} "
                             f"for {m.arch}")
        self.name.setText(m.name)
        self.words.setText(", ".join(m.trigger_words))
        self.weight.setValue(1.0 if m.default_weight is None else m.default_weight)
        self._show_thumb()

    def _show_thumb(self) -> None:
        m = self.current()
        pixmap = self.catalog.thumbnails.get(m.id) if m else None
        if pixmap is None:
            self.thumb.setText("no preview yet")
        else:
            self.thumb.setPixmap(pixmap.scaled(128, 128, Qt.AspectRatioMode.KeepAspectRatio,
                                               Qt.TransformationMode.SmoothTransformation))

    def _save(self) -> None:
        m = self.current()
        if m is None:
            return
        act(self.status, self.catalog.update(m.id, name=self.name.text().strip() or None,
                                             trigger_words=self.words.text().split(","),
                                             default_weight=round(self.weight.value(), 3)),
            f"saved {m.id}")

    def _preview(self) -> None:
        m = self.current()
        if m is not None:
            self.status.ok(f"generating a preview of {m.id}…")
            act(self.status, self.catalog.preview(m.id), f"preview of {m.id} ready")

    def _import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import a LoRA or embedding", "",
                                              "Adapters (*.safetensors *.pt *.bin);;All files (*)")
        if path:
            act(self.status, self.catalog.add(path), lambda m: f"imported {m.id} ({m.kind})")

    def _remove(self) -> None:
        m = self.current()
        if m and confirm(self, "Remove", f"Remove {m.id}? Its file stays on disk."):
            act(self.status, self.catalog.remove(m.id), f"removed {m.id}")
