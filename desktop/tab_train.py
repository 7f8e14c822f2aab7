"""Train tab: a LoRA from a folder of images. Pick the folder, see each image with the caption it
trains with, set the trigger word, name and steps, start; the loss curve and the samples follow
the job; stop, resume; the trained LoRA lands in the LoRA list."""

from __future__ import annotations

import re

from layerbridge.daemon.errors import InvalidInput
from layerbridge.daemon.protocol.training import TRAIN_LIMITS
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from .losschart import LossChart
from .training import TrainController, TrainRun, TrainSet, build_spec, final_caption
from .widgets import StatusLine, act, confirm

SAMPLE = 160


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def progress_text(run: TrainRun) -> str:
    """One line: where the job is, its loss and the time left."""
    if run.state == "queued":
        return f"{run.name}: queued (training runs when no interactive job waits)"
    if run.state == "running" and run.phase == "class_images":
        return f"{run.name}: making class images, {run.step} of {run.steps}"
    if run.state == "running":
        loss = f" · loss {run.loss:.4f}" if run.loss is not None else ""
        eta = f" · {_duration(run.eta_s)} left" if run.eta_s is not None else ""
        return f"{run.name}: step {run.step} of {run.steps}{loss}{eta}"
    if run.state == "failed":
        return f"{run.name}: failed: {run.error}"
    if run.state == "cancelled":
        return f"{run.name}: stopped at step {run.step} of {run.steps}"
    return f"{run.name}: trained, {run.steps} steps"


def suggested_name(folder: str) -> str:
    """A LoRA id from a folder's name (`Brand shots 2024` → `brand-shots-2024`)."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", folder.strip().lower()).strip("-._")
    return slug[:64]


class TrainTab(QWidget):
    def __init__(self, training: TrainController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.training = training
        self.catalog = training.catalog

        images = QGroupBox("Images", self)
        iform = QFormLayout(images)
        self.folder = QLineEdit(images)
        self.folder.setPlaceholderText("a folder of png, jpg or webp images (20–100 work well)")
        self.choose = QPushButton("Choose…", images)
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(self.choose)
        iform.addRow("Folder", row)
        self.caption_ext = QLineEdit(".txt", images)
        self.caption_ext.setToolTip("a caption file beside each image: IMAGE-NAME + this")
        self.template = QLineEdit("{trigger}", images)
        self.template.setToolTip("the caption of an image without a caption file; {trigger} is "
                                 "the trigger word (put in front when missing)")
        iform.addRow("Caption files", self.caption_ext)
        iform.addRow("Other captions", self.template)
        self.list = QListWidget(images)
        self.list.setIconSize(QSize(64, 64))
        self.list.setWordWrap(True)
        self.list.setAlternatingRowColors(True)
        iform.addRow(self.list)

        lora = QGroupBox("LoRA", self)
        form = QFormLayout(lora)
        self.name = QLineEdit(lora)
        self.name.setPlaceholderText("the id it is registered under, e.g. brand-style")
        self.trigger = QLineEdit(lora)
        self.trigger.setPlaceholderText("a rare word that calls the LoRA, e.g. lbbrand")
        self.model = QComboBox(lora)
        self.steps = QSpinBox(lora)
        self.steps.setRange(1, TRAIN_LIMITS["max_steps"])
        self.steps.setValue(1000)
        self.rank = QSpinBox(lora)
        self.rank.setRange(1, TRAIN_LIMITS["max_rank"])
        self.rank.setValue(16)
        self.resolution = QSpinBox(lora)
        self.resolution.setRange(64, TRAIN_LIMITS["max_resolution"])
        self.resolution.setSingleStep(64)
        self.resolution.setValue(512)
        self.resolution.setSuffix(" px")
        self.sample_every = QSpinBox(lora)
        self.sample_every.setRange(0, TRAIN_LIMITS["max_steps"])
        self.sample_every.setValue(100)
        self.sample_every.setSpecialValueText("at the end only")
        self.sample_every.setSuffix(" steps")
        form.addRow("Name", self.name)
        form.addRow("Trigger word", self.trigger)
        form.addRow("Base model", self.model)
        form.addRow("Steps", self.steps)
        form.addRow("Rank", self.rank)
        form.addRow("Resolution", self.resolution)
        form.addRow("Sample every", self.sample_every)
        self.start = QPushButton("Start", lora)
        self.stop = QPushButton("Stop", lora)
        self.resume = QPushButton("Resume", lora)
        self.resume.setToolTip("train the stopped job again: same images, settings and seed")
        buttons = QHBoxLayout()
        for b in (self.start, self.stop, self.resume):
            buttons.addWidget(b)
        buttons.addStretch(1)
        form.addRow(buttons)
        self.progress = QProgressBar(lora)
        self.progress_label = QLabel(lora)
        self.progress_label.setWordWrap(True)
        self.chart = LossChart(lora)
        self.sample = QLabel("samples appear here", lora)
        self.sample.setFixedSize(SAMPLE, SAMPLE)
        self.sample.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.sample.setStyleSheet("border: 1px solid palette(mid);")
        form.addRow(self.progress)
        form.addRow(self.progress_label)
        watch = QHBoxLayout()
        watch.addWidget(self.chart, 1)
        watch.addWidget(self.sample)
        form.addRow(watch)

        self.status = StatusLine(self)
        columns = QHBoxLayout()
        columns.addWidget(images, 1)
        columns.addWidget(lora, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(columns, 1)
        layout.addWidget(self.status)

        self.choose.clicked.connect(self._choose)
        self.folder.editingFinished.connect(self.read_folder)
        self.caption_ext.editingFinished.connect(self.read_folder)
        self.trigger.textChanged.connect(lambda _t: self.show_set(self.training.train_set))
        self.template.textChanged.connect(lambda _t: self.show_set(self.training.train_set))
        self.start.clicked.connect(self.start_training)
        self.stop.clicked.connect(lambda: self.stop_training())
        self.resume.clicked.connect(self.resume_training)
        training.setRead.connect(self.show_set)
        training.runChanged.connect(self.show_run)
        training.sampleArrived.connect(self.show_sample)
        training.loraTrained.connect(
            lambda lora_id: self.status.ok(f"trained {lora_id}: it is in the LoRA list now"))
        self.catalog.changed.connect(self._models)
        self._read_as = ""  # the folder and caption extension last read
        self._models()
        self.show_run(training.run)

    # ------------------------------------------------------------------ the folder

    def _choose(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "A folder of training images",
                                                  self.folder.text())
        if folder:
            self.folder.setText(folder)
            self.read_folder()

    def read_folder(self) -> None:
        key = f"{self.folder.text()}\0{self.caption_ext.text()}"
        if key == self._read_as or not self.folder.text().strip():
            return
        self._read_as = key
        self.list.clear()
        self.status.ok(f"reading {self.folder.text()}…")

        async def run() -> str:
            try:
                found = await self.training.read(self.folder.text(), self.caption_ext.text())
            except Exception:
                self._read_as = ""  # the same folder, fixed, is read again
                raise
            if not self.name.text().strip():
                self.name.setText(suggested_name(found.folder.name))
            sidecars = sum(1 for i in found.images if i.caption_file is not None)
            return (f"{len(found.images)} images, {sidecars} with a caption file "
                    f"({self.caption_ext.text()})")

        act(self.status, run(), lambda text: str(text))

    def show_set(self, train_set: TrainSet | None) -> None:
        self.list.clear()
        if train_set is None:
            return
        trigger = self.trigger.text()
        template = self.template.text()
        for image, caption in zip(train_set.images, train_set.captions(template), strict=True):
            pixmap = QPixmap()
            pixmap.loadFromData(image.thumb, "PNG")
            item = QListWidgetItem(QIcon(pixmap), f"{image.path.name}\n{final_caption(caption, trigger)}")
            item.setToolTip(f"caption from {image.caption_file.name}" if image.caption_file
                            else "caption from the template (no caption file)")
            self.list.addItem(item)

    def _models(self) -> None:
        current = self.model.currentData()
        self.model.clear()
        for m in self.catalog.checkpoints.records():
            if m.kind == "checkpoint" and not m.arch.endswith("-inpaint"):
                self.model.addItem(f"{m.name} ({m.arch})", m.id)
        choice = current or next((m.id for m in self.catalog.checkpoints.records() if m.default), None)
        self.model.setCurrentIndex(max(self.model.findData(choice), 0))

    # ------------------------------------------------------------------ the job

    def start_training(self) -> None:
        try:
            spec = build_spec(self.training.train_set, name=self.name.text(),
                              trigger=self.trigger.text(), steps=self.steps.value(),
                              rank=self.rank.value(), resolution=self.resolution.value(),
                              template=self.template.text(),
                              sample_every=self.sample_every.value())
        except InvalidInput as exc:  # worded for this form, its field named
            self.status.error(exc.message)
            return
        self.chart.clear()
        self.status.ok(f"uploading what the daemon lacks of {len(spec.images)} images…")
        act(self.status, self.training.start(spec, str(self.model.currentData() or "")),
            lambda run: (f"training {run.name}: {self.training.uploaded} of {len(spec.images)} "
                         "images uploaded, the others the daemon had"))

    def stop_training(self, *, confirmed: bool = False) -> None:
        run = self.training.run
        if run is None or not run.active:
            self.status.ok("nothing is training")
            return
        if not confirmed and not confirm(
                self, "Stop training",
                f"Stop training {run.name} at step {run.step} of {run.steps}? The daemon keeps "
                "no checkpoint of a stopped job: Resume trains it again from the start."):
            return
        act(self.status, self.training.stop(), f"stopping {run.name}…")

    def resume_training(self) -> None:
        self.chart.clear()
        act(self.status, self.training.resume(),
            lambda run: f"training {run.name} again from step 0, same seed")

    def show_run(self, run: TrainRun | None) -> None:
        active = run is not None and run.active
        self.start.setEnabled(not active)
        self.stop.setEnabled(active)
        self.resume.setEnabled(run is not None and run.state in ("cancelled", "failed"))
        if run is None:
            self.progress.setValue(0)
            self.progress_label.setText("")
            return
        self.progress.setRange(0, max(run.steps, 1))
        self.progress.setValue(run.step if run.state != "done" else run.steps)
        self.progress_label.setText(progress_text(run))
        self.chart.set_points(run.losses, run.steps)
        if run.state == "failed":
            self.status.error(f"{run.name}: {run.error}")

    def show_sample(self, step: int, png: bytes) -> None:
        pixmap = QPixmap()
        if pixmap.loadFromData(png, "PNG"):
            self.sample.setPixmap(pixmap.scaled(SAMPLE, SAMPLE, Qt.AspectRatioMode.KeepAspectRatio,
                                                Qt.TransformationMode.SmoothTransformation))
            self.sample.setToolTip(f"sample at step {step}")
