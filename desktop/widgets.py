"""Small widget helpers shared by the tabs: a table view set up the same way everywhere, running
a controller action with its error shown, a status line, and a yes/cancel confirmation."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import QAbstractItemModel, QObject, Qt, QTimer, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QMessageBox,
    QTableView,
    QWidget,
)

from .tablemodel import RecordTableModel
from .tasks import describe, spawn

T = TypeVar("T")


def table(model: QAbstractItemModel, parent: QWidget | None = None, *, stretch: int = 0,
          row_height: int | None = None) -> QTableView:
    view = QTableView(parent)
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setAlternatingRowColors(True)
    view.setShowGrid(False)
    view.verticalHeader().setVisible(False)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setTextElideMode(Qt.TextElideMode.ElideRight)  # the whole text is in the tooltip
    view.setWordWrap(False)
    header = view.horizontalHeader()
    # Interactive, grown to the rows as they arrive and change (an empty table would size every
    # column to its title), each at most MAX_COLUMN: one long error cannot push the other
    # columns off screen; the stretch column takes the rest.
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    if row_height:
        view.verticalHeader().setDefaultSectionSize(row_height)
    FitColumns(view, model, stretch)
    return view


MAX_COLUMN = 320


class FitColumns(QObject):
    """Grows a table's columns to their contents as rows arrive or change (never shrinks them:
    no jitter while a job's step counts up), each up to MAX_COLUMN."""

    def __init__(self, view: QTableView, model: QAbstractItemModel, stretch: int) -> None:
        super().__init__(view)
        self.view, self.model, self.stretch = view, model, stretch
        self._later = QTimer(self, singleShot=True, interval=50)
        self._later.timeout.connect(self.fit)
        model.rowsInserted.connect(lambda *_: self._later.start())
        model.dataChanged.connect(lambda *_: self._later.start())
        model.modelReset.connect(lambda: self._later.start())
        if model.rowCount() > 0:
            self.fit()

    def fit(self) -> None:
        header = self.view.horizontalHeader()
        for column in range(self.model.columnCount()):
            if column == self.stretch:
                continue
            wanted = max(self.view.sizeHintForColumn(column), header.sectionSizeHint(column))
            width = min(wanted, MAX_COLUMN)
            if width > header.sectionSize(column):
                header.resizeSection(column, width)


def selected_key(view: QTableView) -> Any:
    rows = view.selectionModel().selectedRows() if view.selectionModel() else []
    if not rows:
        return None
    return rows[0].data(RecordTableModel.KeyRole)


def confirm(parent: QWidget | None, title: str, text: str) -> bool:
    """Ask Yes/Cancel before something that cannot be undone from here; True on Yes."""
    buttons = QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel
    return QMessageBox.question(parent, title, text, buttons) == QMessageBox.StandardButton.Yes


class StatusLine(QLabel):
    """One line under a tab: what just happened, or what went wrong (in red)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

    def ok(self, text: str) -> None:
        self.setStyleSheet("color: palette(text);")
        self.setText(text)

    def error(self, text: str) -> None:
        self.setStyleSheet("color: #c62828;")
        self.setText(text)


def act(line: StatusLine, coro: Coroutine[Any, Any, Any], done: str | Callable[[Any], str] = "",
        ) -> None:
    """Run a controller action; say `done` when it worked, the error when it did not."""

    async def run() -> None:
        try:
            result = await coro
        except Exception as exc:  # noqa: BLE001 - shown to the user, never raised into Qt
            line.error(describe(exc))
            return
        text = done(result) if callable(done) else done
        if text:
            line.ok(text)

    spawn(run())


class EditGuard:
    """Keeps a form's unsaved edits when the daemon's values come again (they are reloaded after
    every reconnect, a daemon restart say): values are written into the form only while it still
    shows what was written last, or when this form's own save brought them."""

    def __init__(self, read: Callable[[], object]) -> None:
        self._read = read
        self._shown: object = None
        self._saving = False

    def may_show(self) -> bool:
        return self._saving or self._shown is None or self._read() == self._shown

    def shown(self) -> None:
        self._shown = self._read()

    async def save(self, coro: Coroutine[Any, Any, T]) -> T:
        self._saving = True
        try:
            return await coro
        finally:
            self._saving = False


def open_folder(line: StatusLine, folder: Path) -> bool:
    """Open `folder` in the file manager; says on `line` whether anything opened."""
    if not folder.is_dir():
        line.error(f"{folder} does not exist on this computer")
        return False
    if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
        line.error(f"could not open {folder}: no file manager answered (the path is selectable "
                   "here to copy)")
        return False
    line.ok(f"opened {folder}")
    return True
