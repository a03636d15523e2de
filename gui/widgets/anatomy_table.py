"""Per-layer anatomy table: filterable, and sorted by the raw numbers (not their text)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtWidgets import QHeaderView, QLabel, QLineEdit, QTableView, QVBoxLayout, QWidget

COLUMNS = ("Layer", "Type", "Params", "Non-zero", "Bytes", "FLOPs", "Share %")
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
Index = QModelIndex | QPersistentModelIndex


def fmt_count(n: float) -> str:
    """1234567 -> '1.23 M'; small numbers in full with separators."""
    for unit, div in (("G", 1e9), ("M", 1e6)):
        if abs(n) >= div:
            return f"{n / div:.2f} {unit}"
    return f"{int(n):,}"


def fmt_bytes(n: float) -> str:
    """Bytes in B / KB / MB / GB (decimal units, as file managers show them)."""
    for unit, div in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if abs(n) >= div:
            return f"{n / div:.2f} {unit}"
    return f"{int(n)} B"


class AnatomyModel(QAbstractTableModel):
    """Rows of engine.models.summary.LayerRow; UserRole gives the sortable raw value."""

    def __init__(self, parent: Any = None):
        super().__init__(parent)
        self.rows: list[Any] = []

    def set_rows(self, rows: list[Any]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = 0) -> Any:
        if not index.isValid():
            return None
        r = self.rows[index.row()]
        raw = (r.name or "(root)", r.type, r.params, r.nonzero, r.bytes, r.flops, r.share * 100)
        col = index.column()
        if role == Qt.ItemDataRole.UserRole:
            return raw[col]
        if role == Qt.ItemDataRole.DisplayRole:
            if col < 2:
                return raw[col]
            if col == 4:
                return fmt_bytes(r.bytes)
            if col == 5:
                return fmt_count(r.flops) if r.flops else "–"
            if col == 6:
                return f"{raw[6]:.2f}"
            return f"{raw[col]:,}"
        if role == Qt.ItemDataRole.TextAlignmentRole and col >= 2:
            return _RIGHT
        if role == Qt.ItemDataRole.ToolTipRole and col == 3 and r.params:
            return f"{1 - r.nonzero / r.params:.1%} of this layer's weights are zero"
        if role == Qt.ItemDataRole.ToolTipRole and col < 2:
            return raw[col]
        return None


class AnatomyTable(QWidget):
    """Filter box over a sortable table of layers."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = AnatomyModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(Qt.ItemDataRole.UserRole)
        self.proxy.setFilterKeyColumn(-1)  # match the name or the type
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)

        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter layers by name or type, e.g. attn or Linear")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self.proxy.setFilterFixedString)
        self.count = QLabel()
        self.proxy.rowsInserted.connect(self._update_count)
        self.proxy.rowsRemoved.connect(self._update_count)
        self.proxy.modelReset.connect(self._update_count)
        self.proxy.layoutChanged.connect(self._update_count)

        self.view = QTableView()
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # model order until a click
        self.view.setAlternatingRowColors(True)
        self.view.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # both ends of a name matter
        self.view.setWordWrap(False)
        self.view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(22)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in range(1, len(COLUMNS)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.filter)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.count)

    def set_rows(self, rows: list[Any]) -> None:
        """Show a summary's LayerRows (in model order)."""
        self.model.set_rows(rows)
        self.view.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self.proxy.sort(-1)

    def _update_count(self, *_: Any) -> None:
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        self.count.setText(f"{shown} of {total} layers" if shown != total else f"{total} layers")
