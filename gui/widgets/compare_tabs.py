"""The Compare page's lower half as tabs: "Plot" (scatter + teacher panel) and "Lineage" (the tree).

Another view joins with `add_view(widget, title)`; a view that follows the selected
variant gets it through its own connection to AppState.selected_variant_changed (or
through `select`, which the page calls on every selection).
"""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QTabWidget, QVBoxLayout, QWidget

from engine.compare.lineage import lineage
from engine.store import Variant
from gui.widgets.compare_teacher import TeacherPanel, beside
from gui.widgets.lineage_view import LineageView


class CompareTabs(QTabWidget):
    """Plot first (what the page always showed), then the variant tree."""

    def __init__(self, plot: QWidget, teacher: TeacherPanel, parent: QWidget | None = None):
        super().__init__(parent)
        self.setDocumentMode(True)
        self.plot_tab = beside(plot, teacher)
        self.addTab(self.plot_tab, "Plot")
        self.lineage = LineageView()
        self.addTab(_with_key(self.lineage), "Lineage")
        self.setTabToolTip(1, "every variant as a tree: baseline → children → their files; "
                              "click a box to select the variant")

    def add_view(self, widget: QWidget, title: str, tip: str = "") -> int:
        """Add another tab (e.g. "Diff"); its index."""
        index = self.addTab(widget, title)
        self.setTabToolTip(index, tip)
        return index

    def show_variants(self, variants: list[Variant]) -> None:
        """Redraw the tree from the page's variants (already read from the store)."""
        self.lineage.set_tree(lineage(variants))

    def select(self, run_id: str | None) -> None:
        """Highlight the variant selected anywhere in the app."""
        self.lineage.select(run_id)

    def show_tab(self, title: str) -> None:
        """Bring the tab with this title to the front."""
        for i in range(self.count()):
            if self.tabText(i) == title:
                self.setCurrentIndex(i)


def _with_key(view: LineageView) -> QWidget:
    """The tree under a one-line key to its colours and clicks."""
    key = QLabel(
        "<span style='color:#c62828'>red</span>: failed · "
        "<span style='color:#8a8a8a'>grey dashed</span>: cancelled · small boxes: a variant's "
        "files · click: select · double-click: Export page"
    )
    key.setStyleSheet("color: #555;")
    key.setWordWrap(True)  # never what sets the page's width
    box = QWidget()
    col = QVBoxLayout(box)
    col.setContentsMargins(0, 4, 0, 0)
    col.addWidget(key)
    col.addWidget(view, 1)
    return box
