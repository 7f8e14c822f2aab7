"""GPU tab: device, memory, loaded models (live from status), memory budget and precision
(saved, applied at the daemon's next start), unload one model or all."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from layerbridge.daemon.protocol.messages import SettingsInfo
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from .catalog import human_size
from .disk import DiskUse
from .gpu import GpuController, GpuView
from .widgets import EditGuard, StatusLine, act, confirm

DTYPES = ["auto", "fp16", "bf16", "fp32"]
DEVICES = [("Automatic (CUDA GPU, then Apple GPU, then CPU)", "auto"), ("NVIDIA GPU (CUDA)", "cuda"),
           ("Apple GPU (MPS)", "mps"), ("CPU", "cpu")]
MIN_BUDGET_MB = 256  # the daemon's own floor: less cannot hold any model


def budget_problem(budget_mb: int, device_bytes: int) -> str | None:
    """Why a memory budget cannot be saved (0 is automatic), in words; None when it can."""
    if budget_mb == 0:
        return None
    if budget_mb < MIN_BUDGET_MB:
        return (f"memory budget {budget_mb} MiB: at least {MIN_BUDGET_MB} MiB (less cannot hold "
                "a model), or 0 for automatic")
    total_mb = device_bytes // (1 << 20)
    if total_mb and budget_mb > total_mb:
        return f"memory budget {budget_mb} MiB: more than the device's {total_mb} MiB"
    return None


class LoadedRow(QWidget):
    """One loaded model in the list: its id and an Unload button for it alone."""

    def __init__(self, model_id: str, unload: Callable[[str], None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model_id = model_id
        self.label = QLabel(model_id, self)
        self.button = QPushButton("Unload", self)
        self.button.setToolTip(f"free the memory {model_id} holds; the next job that needs it "
                               "loads it again")
        self.button.clicked.connect(lambda: unload(model_id))
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 0, 4, 0)
        row.addWidget(self.label, 1)
        row.addWidget(self.button)


class GpuTab(QWidget):
    def __init__(self, gpu: GpuController, parent: QWidget | None = None, *,
                 disk: Callable[[], Coroutine[Any, Any, DiskUse]] | None = None) -> None:
        super().__init__(parent)
        self.gpu = gpu
        self._disk = disk
        live = QGroupBox("Device", self)
        form = QFormLayout(live)
        self.device = QLabel(live)
        self.memory = QProgressBar(live)
        self.memory.setFormat("%p%")
        self.memory_text = QLabel(live)
        self.queue = QLabel(live)
        self.loaded = QListWidget(live)
        self.loaded.setMaximumHeight(110)
        self.rows: dict[str, LoadedRow] = {}  # by model id: the rows shown now
        self.unload = QPushButton("Unload all", live)
        form.addRow("Device", self.device)
        form.addRow("Memory", self.memory)
        form.addRow("", self.memory_text)
        form.addRow("Queue", self.queue)
        form.addRow("Loaded", self.loaded)
        form.addRow("", self.unload)

        saved = QGroupBox("Engine settings (apply when the daemon restarts)", self)
        sform = QFormLayout(saved)
        self.budget = QSpinBox(saved)
        self.budget.setRange(0, 1024 * 1024)
        self.budget.setSingleStep(512)
        self.budget.setSuffix(" MiB")
        self.budget.setSpecialValueText("automatic (85% of free memory)")
        self.dtype = QComboBox(saved)
        self.dtype.addItems(DTYPES)
        self.device_choice = QComboBox(saved)
        for title, value in DEVICES:
            self.device_choice.addItem(title, value)
        self.save = QPushButton("Save", saved)
        self.restart_note = QLabel(saved)
        sform.addRow("Memory budget", self.budget)
        sform.addRow("Run on", self.device_choice)
        sform.addRow("Precision", self.dtype)
        row = QHBoxLayout()
        row.addWidget(self.save)
        row.addWidget(self.restart_note, 1)
        sform.addRow(row)

        storage = QGroupBox("Disk", self)
        dform = QFormLayout(storage)
        self.disk = QLabel("—", storage)
        self.disk.setWordWrap(True)
        self.measure = QPushButton("Measure", storage)
        drow = QHBoxLayout()
        drow.addWidget(self.disk, 1)
        drow.addWidget(self.measure)
        dform.addRow("Used", drow)
        self.days = QSpinBox(storage)
        self.days.setRange(1, 3650)
        self.days.setValue(30)
        self.days.setSuffix(" days")
        self.clean = QPushButton("Delete older results…", storage)
        crow = QHBoxLayout()
        crow.addWidget(QLabel("Finished jobs older than", storage))
        crow.addWidget(self.days)
        crow.addWidget(self.clean)
        crow.addStretch(1)
        dform.addRow("Clean up", crow)
        self.measure.clicked.connect(self.measure_disk)
        self.clean.clicked.connect(self._cleanup)
        self.measure.setEnabled(disk is not None)

        self.status = StatusLine(self)
        layout = QVBoxLayout(self)
        layout.addWidget(live)
        layout.addWidget(saved)
        layout.addWidget(storage)
        layout.addStretch(1)
        layout.addWidget(self.status)

        gpu.changed.connect(self.show_view)
        self.guard = EditGuard(lambda: (self.budget.value(), self.dtype.currentText(),
                                        self.device_choice.currentData()))
        gpu.settingsChanged.connect(self.show_settings)
        self.unload.clicked.connect(
            lambda: act(self.status, gpu.unload_all(), "unloaded every model"))
        self.save.clicked.connect(self._save)
        self.show_view(gpu.view)
        if gpu.settings is not None:
            self.show_settings(gpu.settings, gpu.restart_required)

    def _cleanup(self) -> None:
        days = self.days.value()
        if confirm(self, "Delete older results",
                   f"Forget the jobs that finished more than {days} days ago and delete the "
                   "images no remaining job uses? Clients can no longer fetch those results."):
            self.cleanup(days)

    def cleanup(self, days: int) -> None:
        async def run() -> str:
            done = await self.gpu.cleanup(days)
            if self._disk is not None:
                self.disk.setText((await self._disk()).text)
            return (f"forgot {done.jobs} finished job{'s' if done.jobs != 1 else ''}, deleted "
                    f"{done.blobs} blob{'s' if done.blobs != 1 else ''} "
                    f"({human_size(done.freed_bytes)})")

        act(self.status, run(), lambda text: str(text))

    def measure_disk(self) -> None:
        if self._disk is None:
            return
        disk = self._disk

        async def run() -> None:
            use = await disk()
            self.disk.setText(use.text)

        act(self.status, run())

    def show_view(self, view: GpuView) -> None:
        self.offer_gpus(view.gpu_count)
        kind = f" ({view.kind}, {view.dtype})" if view.kind else ""
        self.device.setText(f"{view.device}{kind}")
        self.memory.setValue(view.percent)
        self.memory_text.setText(view.memory)
        self.queue.setText(f"{view.running} running, {view.queued} queued")
        self.loaded.clear()
        self.rows = {}
        if not view.loaded:
            self.loaded.addItem("(nothing loaded)")
        for model_id in view.loaded:
            item = QListWidgetItem(self.loaded)
            row = self.rows[model_id] = LoadedRow(model_id, self.unload_one, self.loaded)
            item.setSizeHint(row.sizeHint())
            self.loaded.setItemWidget(item, row)
        self.unload.setEnabled(bool(view.loaded))

    def unload_one(self, model_id: str) -> None:
        row = self.rows.get(model_id)
        if row is not None:
            row.button.setEnabled(False)  # once: the list is rebuilt when the status comes
        act(self.status, self.gpu.unload(model_id), f"unloaded {model_id}")

    def offer_gpus(self, count: int) -> None:
        """On a machine with several GPUs, each can be chosen by its index (cuda:N)."""
        if count < 2:
            return
        for index in range(count):
            if self.device_choice.findData(f"cuda:{index}") < 0:
                self.device_choice.addItem(f"NVIDIA GPU {index} only (cuda:{index})", f"cuda:{index}")

    def show_settings(self, info: SettingsInfo, restart: bool) -> None:
        if not self.guard.may_show():
            self.status.ok("the daemon's settings were reloaded; your unsaved edits are kept")
            return
        self.budget.setValue(info.memory_budget_mb or 0)
        self.dtype.setCurrentText(info.dtype)
        if info.device.startswith("cuda:") and self.device_choice.findData(info.device) < 0:
            self.device_choice.addItem(f"NVIDIA GPU {info.device[5:]} only ({info.device})", info.device)
        self.device_choice.setCurrentIndex(max(self.device_choice.findData(info.device), 0))
        self.restart_note.setText("saved; restart the daemon to apply" if restart else "")
        self.guard.shown()

    def _save(self) -> None:
        budget = self.budget.value()
        problem = budget_problem(budget, self.gpu.view.total_bytes)
        if problem:
            self.status.error(problem)
            return
        act(self.status, self.guard.save(self.gpu.save_engine(
                dtype=self.dtype.currentText(), memory_budget_mb=budget or None,
                device=str(self.device_choice.currentData()))),
            lambda restart: "saved; restart the daemon to apply" if restart else "saved")
