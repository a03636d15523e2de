"""The Export page's details view: an exported variant's tiles, shrink card and tabs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from engine.store import Variant
from gui.widgets.activation_range_view import ActivationRangeView, stacked
from gui.widgets.artifact_tiles import ArtifactTiles
from gui.widgets.node_error_chart import NodeErrorChart, error_artifacts
from gui.widgets.shrink_card import ShrinkCard
from gui.widgets.teacher_line import TeacherLine
from gui.widgets.variant_artifacts import ArtifactList
from gui.widgets.variant_family_chart import FamilyChart
from gui.widgets.variant_onnx_card import OnnxCard, OnnxTiles

FAMILY_TITLE = "Next to its parent and siblings (this variant in orange)"
# Tab titles stay short so all five fit the tabs column of a 1024-px window (long ones pushed
# the last tab out of sight behind scroll arrows); each tab's tooltip says it in full.
TAB_TITLES = {
    "onnx": ("ONNX file", "The exported fp32 ONNX file: checker, parity with PyTorch, latency"),
    "family": ("Family", "This variant next to its parent and siblings"),
    "folder": ("Run folder", "What the variant's run folder holds"),
    "files": ("Files", "Deployable files: one tile per ONNX file (fp32 and each quantized one) "
                       "with its size, latency, own metric, parity and verdict"),
    "error": ("Layer error", "Quantization error per layer (SQNR of each quantized node against fp32) "
                             "and the keep-in-fp32 steps"),
}


class ExportDetails(QWidget):
    """Tiles over the did-it-shrink card (left) and the ONNX/Family/Run-folder tabs (right)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.tiles = OnnxTiles()
        self.teacher = TeacherLine()  # a distilled variant's teacher (hidden otherwise)
        self.shrink = ShrinkCard()
        self.card = OnnxCard()
        self.artifacts = ArtifactList()
        # Left: the question a pruned variant raises first (did it shrink, is it faster, what
        # did it cost); right, one tab at a time so 1024 × 700 shows each whole: the file's
        # own facts, the variant next to its family, and what the run folder holds.
        self.family = FamilyChart()
        family_tab = QWidget()
        f_layout = QVBoxLayout(family_tab)
        f_layout.setContentsMargins(4, 4, 4, 4)
        self.family_title = QLabel(FAMILY_TITLE)
        self.family_title.setWordWrap(True)
        f_layout.addWidget(self.family_title)
        f_layout.addWidget(self.family, 1)
        onnx_tab = QScrollArea()
        onnx_tab.setWidget(self.card)
        onnx_tab.setWidgetResizable(True)
        onnx_tab.setFrameShape(QFrame.Shape.NoFrame)
        onnx_tab.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.tabs = QTabWidget()
        # every tab stays in sight: no scroll arrows, the tab bar claims its width from the layout
        self.tabs.setUsesScrollButtons(False)
        self.tabs.setElideMode(Qt.TextElideMode.ElideNone)
        self._add_tab(onnx_tab, "onnx")
        self._add_tab(family_tab, "family")
        self._add_tab(self.artifacts, "folder")
        self._add_quantize_tabs()
        shrink_area = QScrollArea()
        shrink_area.setWidget(self.shrink)
        shrink_area.setWidgetResizable(True)
        shrink_area.setFrameShape(QFrame.Shape.NoFrame)
        # Their tall contents scroll inside them: as preferred heights they would make the page
        # taller than a 700-px window and put a second scroll bar around everything.
        for w in (shrink_area, self.tabs):
            w.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Ignored)
            w.setMinimumHeight(220)
        self.columns = columns = QHBoxLayout()
        columns.addWidget(shrink_area, 5)
        columns.addWidget(self.tabs, 4)
        d_layout = QVBoxLayout(self)
        d_layout.setContentsMargins(0, 0, 0, 0)
        # self.teacher sits on the page above these details (a student not exported yet shows it too)
        d_layout.addWidget(self.tiles)
        d_layout.addLayout(columns, 1)

    def _add_quantize_tabs(self) -> None:
        """'Deployable files' (one tile per file) and 'Quantization error' (per-node bars)."""
        self.file_tiles = ArtifactTiles()
        self.node_errors = NodeErrorChart()
        self.node_errors_tab = QScrollArea()
        self.ranges = ActivationRangeView()  # under the bars; a click on a bar picks its input
        self.ranges.follow_chart(self.node_errors)
        self.node_errors_tab.setWidget(stacked(self.node_errors, self.ranges))
        self.node_errors_tab.setWidgetResizable(True)
        self.node_errors_tab.setFrameShape(QFrame.Shape.NoFrame)
        self._add_tab(self.file_tiles, "files")
        self._add_tab(self.node_errors_tab, "error")

    def _add_tab(self, widget: QWidget, key: str, index: int = -1) -> None:
        """Add (or re-insert at index) a tab with its short title and full tooltip."""
        title, tip = TAB_TITLES[key]
        at = self.tabs.insertTab(index, widget, title)
        self.tabs.setTabToolTip(at, tip)

    def _show_quantize_tabs(self, card: dict[str, Any]) -> None:
        """Files tab first when the card has quantized files; error tab only with node errors."""
        self.file_tiles.show_card(card)
        quantized = self.file_tiles.has_quantized()
        current = self.tabs.currentWidget()
        self.tabs.removeTab(self.tabs.indexOf(self.file_tiles))
        self._add_tab(self.file_tiles, "files", 0 if quantized else 1)
        self.node_errors.show_card(card)
        self.ranges.show_chart_artifact(self.node_errors)
        # second, next to the files it explains
        self.tabs.removeTab(self.tabs.indexOf(self.node_errors_tab))
        self._add_tab(self.node_errors_tab, "error", 1 if quantized else 4)
        self.tabs.setTabVisible(self.tabs.indexOf(self.node_errors_tab), bool(error_artifacts(card)))
        self.tabs.setCurrentWidget(self.file_tiles if quantized else current)
        self.columns.setStretch(1, 5 if quantized else 4)  # the tiles need the room

    def show_variant(
        self,
        v: Variant,
        parent_card: dict[str, Any] | None,
        kind: str,
        run_dir: Path,
        family: list[Variant],
    ) -> None:
        """Fill every part for variant v, compared with parent_card (kind 'control' or other)."""
        self.teacher.show_for(v.card, family)
        self.tiles.show_card(v.card, parent_card)
        self.tiles.tiles["speedup"].caption.setText(f"SPEED VS {'CONTROL' if kind == 'control' else 'PARENT'}")
        self.shrink.show_card(v.card, parent_card, control=kind == "control")
        self.card.show_card(v.card, parent_card)
        self.artifacts.show_folder(run_dir)
        self._show_quantize_tabs(v.card)
        self.family.show_family(family, v.id)
        alone = len(self.family.names) < 2  # nothing to compare with: no chart
        self.family.setHidden(alone)
        self.family_title.setText("Nothing to compare with yet: this variant has no parent or "
                                  "siblings." if alone else FAMILY_TITLE)
