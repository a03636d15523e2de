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
from gui.widgets.variant_artifacts import ArtifactList
from gui.widgets.variant_family_chart import FamilyChart
from gui.widgets.variant_onnx_card import OnnxCard, OnnxTiles

FAMILY_TITLE = "Next to its parent and siblings (this variant in orange)"


class ExportDetails(QWidget):
    """Tiles over the did-it-shrink card (left) and the ONNX/Family/Run-folder tabs (right)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.tiles = OnnxTiles()
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
        self.tabs.addTab(onnx_tab, "ONNX file")
        self.tabs.addTab(family_tab, "Family")
        self.tabs.addTab(self.artifacts, "Run folder")
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
        self.tabs.addTab(self.file_tiles, "Deployable files")
        self.tabs.addTab(self.node_errors_tab, "Quantization error")

    def _show_quantize_tabs(self, card: dict[str, Any]) -> None:
        """Files tab first when the card has quantized files; error tab only with node errors."""
        self.file_tiles.show_card(card)
        quantized = self.file_tiles.has_quantized()
        current = self.tabs.currentWidget()
        self.tabs.removeTab(self.tabs.indexOf(self.file_tiles))
        self.tabs.insertTab(0 if quantized else 1, self.file_tiles, "Deployable files")
        self.node_errors.show_card(card)
        self.ranges.show_chart_artifact(self.node_errors)
        # second, next to the files: at 1024 px five tabs do not fit and the last one scrolls away
        self.tabs.removeTab(self.tabs.indexOf(self.node_errors_tab))
        self.tabs.insertTab(1 if quantized else 4, self.node_errors_tab, "Quantization error")
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
