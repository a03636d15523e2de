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
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QHeaderView, QLabel, QLineEdit, QTableView, QVBoxLayout, QWidget

from gui.widgets.elided_label import ElidedLabel
from gui.widgets.layer_names import short_layer_name, strip_common_prefix

MIN_NAME_WIDTH = 100  # the Layer column never gets narrower than this when fitted

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
        self.shown_names: list[str] = []  # names without the prefix every layer shares
        self.prefix = ""

    def set_rows(self, rows: list[Any]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        named = [r.name for r in self.rows if r.name]
        stripped = dict(zip(named, strip_common_prefix(named), strict=True))
        # abbreviated as on the charts (encoder.layer.0.attention -> enc.L0.attn), so the layer
        # number survives a narrow column; the full name is the tooltip and the filter's text
        self.shown_names = [
            short_layer_name(stripped.get(r.name, "") or r.name, limit=10_000) or "(root)" for r in self.rows
        ]
        first = next(iter(stripped.items()), ("", ""))
        self.prefix = first[0][: len(first[0]) - len(first[1])].rstrip(".")
        self.endResetModel()
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, 0)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return f"Layer (in {self.prefix})" if section == 0 and self.prefix else COLUMNS[section]
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
            if col == 0:
                return self.shown_names[index.row()]
            if col == 1:
                return raw[col]
            if col == 4:
                return fmt_bytes(r.bytes)
            if col == 5:
                return fmt_count(r.flops) if r.flops else "–"
            if col == 6:
                return f"{raw[6]:.2f}"
            return fmt_count(raw[col])  # millions as "11.72 M": the exact count is the tooltip
        if role == Qt.ItemDataRole.TextAlignmentRole and col >= 2:
            return _RIGHT
        if role == Qt.ItemDataRole.ToolTipRole and col == 3 and r.params:
            return f"{r.nonzero:,} non-zero: {1 - r.nonzero / r.params:.1%} of this layer's weights are zero"
        if role == Qt.ItemDataRole.ToolTipRole and col == 2:
            return f"{r.params:,} parameters"
        if role == Qt.ItemDataRole.ToolTipRole and col < 2:
            return raw[col]
        return None


class LayerView(QTableView):
    """Table whose Layer column takes the width the others leave, until the user drags it."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.user_sized = False  # the user dragged the Layer column: keep their width
        self._fitting = False
        header = self.horizontalHeader()
        header.sectionResized.connect(self._section_resized)

    def _section_resized(self, index: int, _old: int, _new: int) -> None:
        if index == 0 and not self._fitting and self.horizontalHeader().underMouse():
            self.user_sized = True

    def fit_name_column(self) -> None:
        """Give the Layer column what is left of the viewport (names elide from the left)."""
        if self.user_sized or self.model() is None:
            return
        header = self.horizontalHeader()
        others = sum(header.sectionSize(c) for c in range(1, header.count()))
        self._fitting = True
        header.resizeSection(0, max(MIN_NAME_WIDTH, self.viewport().width() - others))
        self._fitting = False

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.fit_name_column()


class AnatomyTable(QWidget):
    """Filter box over a sortable table of layers; the selected layer's full name below."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = AnatomyModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(Qt.ItemDataRole.UserRole)
        self.proxy.setFilterKeyColumn(-1)  # match the name or the type
        self.proxy.setFilterRole(Qt.ItemDataRole.UserRole)  # the full name, not the shown one
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

        self.view = LayerView()
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # model order until a click
        self.view.setAlternatingRowColors(True)
        # the end of a name is what tells layers apart ('…layer.3.attention.self.query')
        self.view.setTextElideMode(Qt.TextElideMode.ElideLeft)
        self.view.setWordWrap(False)
        self.view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(22)
        header = self.view.horizontalHeader()
        # Interactive: drag the Layer column wider, or double-click its edge to fit full names
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(False)
        for col in range(1, len(COLUMNS)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.sectionResized.connect(lambda col, *_: col and self.view.fit_name_column())
        self.selected = ElidedLabel("", Qt.TextElideMode.ElideLeft)
        self.selected.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.view.selectionModel().currentRowChanged.connect(self._show_selected)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.filter)
        layout.addWidget(self.view, 1)
        footer = QVBoxLayout()
        footer.setSpacing(0)
        footer.addWidget(self.count)
        footer.addWidget(self.selected)
        layout.addLayout(footer)

    def set_rows(self, rows: list[Any]) -> None:
        """Show a summary's LayerRows (in model order)."""
        self.model.set_rows(rows)
        self.view.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self.proxy.sort(-1)
        self.selected.setText("")
        self.view.fit_name_column()

    def _show_selected(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not current.isValid():
            self.selected.setText("")
            return
        source = self.proxy.mapToSource(current)
        row = self.model.rows[source.row()]
        self.selected.setText(f"{row.name or '(root)'}  ·  {row.type}")

    def _update_count(self, *_: Any) -> None:
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        self.count.setText(f"{shown} of {total} layers" if shown != total else f"{total} layers")
