"""Logs tab: the local daemon's console output, live (follow), filtered by level and text, with
the log folder one click away. A remote daemon's log stays on its machine: the tab says so."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .core import TrayCore
from .logview import LogLine, classify, level_of, passes
from .process import DaemonProcess
from .widgets import StatusLine, open_folder

CHOICES = [("Everything", "DEBUG"), ("Info and above", "INFO"),
           ("Warnings and errors", "WARNING"), ("Errors only", "ERROR")]


class LogsTab(QWidget):
    def __init__(self, core: TrayCore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.core = core
        self.lines: list[LogLine] = []
        self.level = QComboBox(self)
        for title, level in CHOICES:
            self.level.addItem(title, level)
        self.level.setCurrentIndex(1)
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("filter: text the line contains")
        self.follow = QCheckBox("Follow", self)
        self.follow.setChecked(True)
        self.open_button = QPushButton("Open log folder", self)
        self.where = QLabel(self)
        self.where.setWordWrap(True)
        self.view = QPlainTextEdit(self)
        self.view.setReadOnly(True)
        self.view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.view.setMaximumBlockCount(5000)
        self.status = StatusLine(self)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Show", self))
        bar.addWidget(self.level)
        bar.addWidget(self.search, 1)
        bar.addWidget(self.follow)
        bar.addWidget(self.open_button)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.where)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.status)
        self.level.currentIndexChanged.connect(lambda _i: self.rerender())
        self.search.textChanged.connect(lambda _t: self.rerender())
        self.follow.toggled.connect(self._follow)
        self.open_button.clicked.connect(self._open)
        core.targetChanged.connect(lambda _t: self.attach())
        self._attached: DaemonProcess | None = None
        self._first = True
        self.attach()

    def attach(self) -> None:
        """Show the managed daemon's log (the local child's; none for a remote daemon)."""
        process = self.core.process if self.core.is_local else None
        if process is self._attached and not self._first:
            self._where()
            return
        if self._attached is not None:
            self._attached.logLine.disconnect(self.add)
        self._attached, self._first = process, False
        self.lines = classify(list(process.log)) if process is not None else []
        if process is not None:
            process.logLine.connect(self.add)
        self._where()
        self.rerender()

    def _where(self) -> None:
        process = self.core.process if self.core.is_local else None
        if process is None:
            self.where.setText("This window manages a remote daemon: its log is on that machine "
                               "(DATA_DIR/logs/daemon.log there).")
        else:
            self.where.setText(f"The daemon's output, also in {process.log_file} (rotated at "
                               "1 MiB); the daemon's own log is daemon.log beside it.")
        self.open_button.setEnabled(process is not None)

    def add(self, text: str) -> None:
        line = LogLine(text, level_of(text, self.lines[-1].level if self.lines else "INFO"))
        self.lines.append(line)
        if len(self.lines) > 5000:
            del self.lines[:1000]
        if self._passes(line):
            self.view.appendPlainText(line.text)
            if self.follow.isChecked():
                self._to_end()

    def shown(self) -> list[str]:
        """The lines the view shows now."""
        text = self.view.toPlainText()
        return text.split("\n") if text else []

    def rerender(self) -> None:
        self.view.setPlainText("\n".join(line.text for line in self.lines if self._passes(line)))
        if self.follow.isChecked():
            self._to_end()

    def _passes(self, line: LogLine) -> bool:
        return passes(line, str(self.level.currentData()), self.search.text().strip())

    def _follow(self, on: bool) -> None:
        if on:
            self._to_end()

    def _to_end(self) -> None:
        self.view.moveCursor(QTextCursor.MoveOperation.End)
        self.view.ensureCursorVisible()

    def _open(self) -> None:
        process = self.core.process
        if process is not None:
            open_folder(self.status, Path(process.log_file).parent)
