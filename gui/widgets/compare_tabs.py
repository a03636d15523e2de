"""The Compare page's lower half as tabs: "Plot" (scatter + teacher panel), "Lineage" (the
tree) and "Diff" (two variants side by side, gui.widgets.variant_diff).

Another view joins with `add_view(widget, title)`, gets the variants in `show_variants`
(called on every refresh of the page) and the selection in `select` (called on every
selection, wherever it was made).
"""

from __future__ import annotations

from PySide6.QtWidgets import QTabWidget, QWidget

from engine.compare.lineage import lineage
from engine.store import Variant, Workspace
from gui.widgets.compare_teacher import TeacherPanel, beside
from gui.widgets.lineage_tab import LineageTab
from gui.widgets.variant_diff import VariantDiffView


class CompareTabs(QTabWidget):
    """Plot first (what the page always showed), then the variant tree."""

    def __init__(self, plot: QWidget, teacher: TeacherPanel, parent: QWidget | None = None):
        super().__init__(parent)
        self.setDocumentMode(True)
        self.plot_tab = beside(plot, teacher)
        self.addTab(self.plot_tab, "Plot")
        self.lineage_tab = LineageTab()  # filter, fold, save as PNG over the tree
        self.lineage = self.lineage_tab.view
        self.addTab(self.lineage_tab, "Lineage")
        self.setTabToolTip(1, "every variant as a tree: baseline → children → their files; "
                              "click a box to select the variant")
        self.diff = VariantDiffView()
        self.add_view(self.diff, "Diff", "two variants side by side: recipe changes, layers, "
                      "ONNX operators (B: the selected variant, A: its parent)")
        self._variants: dict[str, Variant] = {}

    def add_view(self, widget: QWidget, title: str, tip: str = "") -> int:
        """Add another tab (e.g. "Diff"); its index."""
        index = self.addTab(widget, title)
        self.setTabToolTip(index, tip)
        return index

    def show_variants(self, workspace: Workspace, variants: list[Variant]) -> None:
        """Redraw the tree and refill the Diff pickers from the page's variants."""
        self._variants = {v.id: v for v in variants}
        self.lineage.set_tree(lineage(variants))
        self.diff.show_variants(workspace, variants)

    def select(self, run_id: str | None) -> None:
        """Highlight the variant selected anywhere; the Diff picks it as B and its parent as A."""
        self.lineage.select(run_id)
        v = self._variants.get(run_id or "")
        if v is None or v.status != "finished":
            return
        for pick, wanted in ((self.diff.pick_b, v.id), (self.diff.pick_a, v.parent)):
            i = pick.findData(wanted)
            if i >= 0:  # a parent that is gone or unfinished leaves A as it was
                pick.setCurrentIndex(i)

    def show_tab(self, title: str) -> None:
        """Bring the tab with this title to the front."""
        for i in range(self.count()):
            if self.tabText(i) == title:
                self.setCurrentIndex(i)
