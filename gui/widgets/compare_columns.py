"""Fitting the Compare table into the window's width: capped names, least needed columns hidden."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHeaderView, QTableView

from gui.widgets.compare_table import COLUMNS, CompareModel

# hidden in this order when the window is too narrow for every column (sparsity and latency
# stay: they are what a pruned variant is compared by, next to its metric)
OPTIONAL_COLUMNS = ("Size MB", "Params", "Non-zero", "ONNX MB")
METHOD_MIN = 150  # the method column shrinks to this before columns are hidden
ALWAYS_HIDDEN = ("ID",)  # in the model for selection and tooltips, not worth a column
NAME_CAPS = {"Name": 180, "Parent": 150}  # widest these columns get (the rest elides)


def setup_columns(view: QTableView) -> None:
    """Resize modes, eliding and the hidden ID column of the Compare table's header."""
    header = view.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(COLUMNS.index("Method"), QHeaderView.ResizeMode.Stretch)
    for name in NAME_CAPS:  # sized by fit_columns, and by the user
        header.setSectionResizeMode(COLUMNS.index(name), QHeaderView.ResizeMode.Interactive)
    view.setTextElideMode(Qt.TextElideMode.ElideMiddle)
    header.setMinimumSectionSize(40)
    # ids are for copying (Name's tooltip has it); the method needs the room more
    view.setColumnHidden(COLUMNS.index("ID"), True)


def fit_columns(view: QTableView, model: CompareModel) -> None:
    """Cap the name columns and hide the least needed ones while the table is too wide.

    A narrow window (1024 px) keeps every metric, the status and the method readable
    instead of a horizontal scroll bar hiding them; hidden numbers stay in the CSV.
    """
    header = view.horizontalHeader()
    # hidden flags belong to column positions, and a metric column appearing shifts them:
    # start from every column shown (the ID stays hidden) and hide by name below
    for c, name in enumerate(model.columns):
        view.setColumnHidden(c, name in ALWAYS_HIDDEN)
    for name, cap in NAME_CAPS.items():  # long names elide in the middle (tooltips have them)
        col = model.column(name)
        if col >= 0 and not view.isColumnHidden(col):
            header.resizeSection(col, min(view.sizeHintForColumn(col) + 12, cap))
    width = view.viewport().width() - view.verticalScrollBar().sizeHint().width()

    def needed() -> int:
        total = 0
        for c in range(model.columnCount()):
            if view.isColumnHidden(c):
                continue
            name = model.columns[c]
            w = max(view.sizeHintForColumn(c), header.sectionSizeHint(c))
            total += METHOD_MIN if name == "Method" else min(w, NAME_CAPS.get(name, w))
        return total

    for name in OPTIONAL_COLUMNS:
        if needed() <= width:
            break
        if model.column(name) >= 0:
            view.setColumnHidden(model.column(name), True)
