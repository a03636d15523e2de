"""The Compare page's Lineage tab: a tool row (filter, expand / collapse all, save as PNG),
a one-line key to the drawing's colours and clicks, and the tree (gui.widgets.lineage_view)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gui.widgets.lineage_view import LineageView

KEY = ("<span style='color:#c62828'>red</span>: failed · "
       "<span style='color:#8a8a8a'>grey dashed</span>: cancelled · small boxes: a variant's files · "
       "click: select · double-click: Export page · <b>−</b> / <b>+N</b>: fold / unfold what is below")


class LineageTab(QWidget):
    """Tool row over the key over the tree; `view` is the LineageView."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.view = LineageView()
        self.filter_box = QLineEdit()
        self.filter_box.setPlaceholderText("Filter: name, method or status (e.g. int8, failed)")
        self.filter_box.setClearButtonEnabled(True)
        self.filter_box.setToolTip("keeps the variants and files whose name, method, status or id hold "
                                   "every word typed, and the variants above them (faded)")
        self.filter_box.textChanged.connect(self.view.set_filter)
        self.count = QLabel()
        self.count.setStyleSheet("color: #555;")
        self.expand_button = QPushButton("Expand all")
        self.expand_button.clicked.connect(self.view.expand_all)
        self.collapse_button = QPushButton("Collapse all")
        self.collapse_button.setToolTip("fold every tree to its root box; +N says how many are hidden")
        self.collapse_button.clicked.connect(self.view.collapse_all)
        self.png_button = QPushButton("Save as PNG…")
        self.png_button.setToolTip("the whole drawing (also what is scrolled out of view) as an image")
        self.png_button.clicked.connect(self.ask_png)
        self.view.redrawn.connect(self._count)
        key = QLabel(KEY)
        key.setStyleSheet("color: #555;")
        key.setWordWrap(True)  # never what sets the page's width
        row = QHBoxLayout()
        row.addWidget(self.filter_box, 1)
        row.addWidget(self.count)
        for b in (self.expand_button, self.collapse_button, self.png_button):
            row.addWidget(b)
        col = QVBoxLayout(self)
        col.setContentsMargins(0, 4, 0, 0)
        col.setSpacing(4)
        col.addLayout(row)
        col.addWidget(key)
        col.addWidget(self.view, 1)

    def _count(self) -> None:
        """'3 of 9 match' while a filter is on; the folded count otherwise."""
        v = self.view
        if v.filter_text.strip():
            n = len(v.matched)
            self.count.setText(f"{n} match{'es' * (n != 1)}")
        else:
            hidden = sum(b.hidden for b in v.boxes.values())
            self.count.setText(f"{hidden} folded away" if hidden else "")
        self.expand_button.setEnabled(bool(v.collapsed))

    def ask_png(self) -> Path | None:
        """Ask where, then save the drawing; a failure says so in one line."""
        chosen, _ = QFileDialog.getSaveFileName(self, "Save lineage drawing", str(Path.home() / "lineage.png"),
                                                "PNG image (*.png)")
        if not chosen:
            return None
        path = Path(chosen) if Path(chosen).suffix else Path(chosen).with_suffix(".png")
        try:
            return self.view.save_png(path)
        except OSError as e:
            QMessageBox.warning(self, "Save lineage drawing", f"{e}: pick another folder.")
            return None
