"""A keyed, read-only Qt table model that applies a new list of records as the smallest change:
rows inserted, removed or updated in place, so views keep their selection and signals fire only
when something really changed. Widget-free; every tab's table sits on one of these."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

R = TypeVar("R")
Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class Column(Generic[R]):
    title: str
    text: Callable[[R], str]
    tooltip: Callable[[R], str] | None = None
    align_right: bool = False


class RecordTableModel(QAbstractTableModel, Generic[R]):
    """Rows are records (any value with ==), identified by `key(record)`."""

    KeyRole = Qt.ItemDataRole.UserRole + 1
    RecordRole = Qt.ItemDataRole.UserRole + 2

    def __init__(self, columns: Sequence[Column[R]], key: Callable[[R], Hashable],
                 decoration: Callable[[R], Any] | None = None) -> None:
        super().__init__()
        self._columns = list(columns)
        self._key = key
        self._decoration = decoration
        self._rows: list[R] = []

    # ------------------------------------------------------------------ reading

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._columns)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self._columns[section].title
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        record, column = self._rows[index.row()], self._columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.text(record)
        if role == Qt.ItemDataRole.ToolTipRole and column.tooltip is not None:
            return column.tooltip(record)
        if role == Qt.ItemDataRole.DecorationRole and index.column() == 0 and self._decoration:
            return self._decoration(record)
        if role == Qt.ItemDataRole.TextAlignmentRole and column.align_right:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == self.KeyRole:
            return self._key(record)
        if role == self.RecordRole:
            return record
        return None

    def records(self) -> list[R]:
        return list(self._rows)

    def record(self, row: int) -> R:
        return self._rows[row]

    def row_keys(self) -> list[Hashable]:
        return [self._key(r) for r in self._rows]

    def row_of(self, key: Hashable) -> int | None:
        for row, record in enumerate(self._rows):
            if self._key(record) == key:
                return row
        return None

    def get(self, key: Hashable) -> R | None:
        row = self.row_of(key)
        return None if row is None else self._rows[row]

    # ------------------------------------------------------------------ changing

    def set_records(self, records: Sequence[R]) -> bool:
        """Make the rows equal `records`; returns whether anything changed."""
        new = list(records)
        new_keys = [self._key(r) for r in new]
        if len(set(new_keys)) != len(new_keys):
            raise ValueError("records must have distinct keys")
        changed = False
        wanted = set(new_keys)
        for row in range(len(self._rows) - 1, -1, -1):
            if self._key(self._rows[row]) not in wanted:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._rows[row]
                self.endRemoveRows()
                changed = True
        present = {self._key(r) for r in self._rows}
        for row, (key, record) in enumerate(zip(new_keys, new, strict=True)):
            if row < len(self._rows) and self._key(self._rows[row]) == key:
                changed |= self._replace(row, record)
            elif key not in present:
                self.beginInsertRows(QModelIndex(), row, row)
                self._rows.insert(row, record)
                self.endInsertRows()
                changed = True
            else:  # reordered: rare (a sort order changed); a reset is simplest and correct
                self.beginResetModel()
                self._rows = new
                self.endResetModel()
                return True
        return changed

    def upsert(self, record: R, *, first: bool = False) -> bool:
        """Update the row with the record's key, or add it (at the top when `first`)."""
        row = self.row_of(self._key(record))
        if row is not None:
            return self._replace(row, record)
        at = 0 if first else len(self._rows)
        self.beginInsertRows(QModelIndex(), at, at)
        self._rows.insert(at, record)
        self.endInsertRows()
        return True

    def refresh_row(self, key: Hashable) -> None:
        """Something the row shows but the record does not hold changed (a thumbnail arrived)."""
        row = self.row_of(key)
        if row is not None:
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(self._columns) - 1))

    def _replace(self, row: int, record: R) -> bool:
        if self._rows[row] == record:
            return False
        self._rows[row] = record
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(self._columns) - 1))
        return True
