"""What a run folder holds (ONNX, checkpoint, recipe, report...), with sizes."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from gui.widgets.anatomy_table import fmt_bytes


def folder_size(path: Path) -> int:
    """Bytes of a file, or of everything under a folder."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


class ArtifactList(QTableWidget):
    """Two columns, name and size; folders end with '/'. Hidden temp files are skipped."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(0, 2, parent)
        self.setHorizontalHeaderLabels(["Run folder", "Size"])
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        self.setShowGrid(False)
        self.setAlternatingRowColors(True)
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)

    def show_folder(self, folder: Path) -> None:
        """List the folder's top-level entries (a missing folder lists nothing)."""
        entries = sorted(p for p in folder.iterdir() if not p.name.startswith(".")) if folder.is_dir() else []
        self.setRowCount(len(entries))
        for row, p in enumerate(entries):
            name = QTableWidgetItem(p.name + ("/" if p.is_dir() else ""))
            name.setToolTip(str(p))
            size = QTableWidgetItem(fmt_bytes(folder_size(p)))
            size.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.setItem(row, 0, name)
            self.setItem(row, 1, size)
        # as tall as its rows, so it lines up with the card beside it instead of filling the page
        rows_height = sum(self.rowHeight(r) for r in range(self.rowCount()))
        self.setFixedHeight(self.horizontalHeader().sizeHint().height() + rows_height + 4)
