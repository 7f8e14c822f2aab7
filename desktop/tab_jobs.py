"""Jobs tab: the live queue and recent history with thumbnails; cancel, re-run, open results."""

from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from .jobs import JobsController
from .widgets import StatusLine, act, open_folder, selected_key, table


class JobsTab(QWidget):
    def __init__(self, jobs: JobsController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.jobs = jobs
        self.view = table(jobs.table, self, stretch=0, row_height=52)
        self.view.setIconSize(QSize(48, 48))
        self.status = StatusLine(self)
        self.cancel = QPushButton("Cancel", self)
        self.rerun = QPushButton("Re-run", self)
        self.open_results = QPushButton("Open result folder", self)
        buttons = QHBoxLayout()
        for b in (self.cancel, self.rerun, self.open_results):
            buttons.addWidget(b)
        buttons.addStretch(1)
        self.cancel.clicked.connect(self._cancel)
        self.rerun.clicked.connect(self._rerun)
        self.open_results.clicked.connect(self._open)
        jobs.jobFailed.connect(lambda job_id, text: self.status.error(f"{job_id[:8]}: {text}"))
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.status)

    def _cancel(self) -> None:
        key = selected_key(self.view)
        row = self.jobs.table.get(key) if key else None
        if row is None:
            return
        if not row.active:
            self.status.ok(f"{key[:8]} is {row.state} already: nothing to cancel")
            return
        act(self.status, self.jobs.cancel(key), f"cancelling {key[:8]}…")

    def _rerun(self) -> None:
        key = selected_key(self.view)
        if key:
            act(self.status, self.jobs.rerun(key), lambda new: f"re-running as {new[:8]}")

    def _open(self) -> None:
        key = selected_key(self.view)
        if key:
            async def run() -> None:
                folder = await self.jobs.save_results(key)
                if open_folder(self.status, folder):
                    self.status.ok(f"saved to {folder} and opened it")

            act(self.status, run())
