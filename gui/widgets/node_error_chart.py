"""Per-node quantization error of an int8 file, and the one-click "keep the worst in fp32".

The engine measures each quantized MatMul/Gemm/Conv's output against the fp32 file
(summary["node_errors"], worst first by the error the node adds itself). The bars show the
SQNR of each node's output in dB (lower = worse), labelled with the layer name as the
model anatomy shows it. Below: the accuracy-aware exclusion search's steps, when the step
had a max_drop. The button emits the N worst layer names for the step's exclude_nodes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.metric_text import fmt_metric
from gui.widgets.artifact_text import kind_title, metric_pair
from gui.widgets.layer_names import strip_common_prefix
from gui.widgets.no_wheel import ignore_wheel_unless_focused
from gui.widgets.plot_export import add_plot_export
from gui.widgets.plot_tables import node_error_table

ROW_PX = 22  # one bar and its name per row, readable; the plot grows and the tab scrolls
EXPLAIN = (
    "Each bar: how clean a quantized node's output still is against the fp32 file, as SQNR "
    "in dB (signal-to-noise; lower = worse). Sorted by the error each node adds itself, "
    "worst at the top — the ones worth keeping in fp32."
)


def node_label(err: dict[str, Any]) -> str:
    """The layer name the anatomy shows, else the ONNX node name."""
    return str(err.get("layer") or err.get("node") or "?")


def axis_label(name: str, limit: int = 38) -> str:
    """A layer name short enough for the axis: pyqtgraph drops a tick label that does not
    fit (a 43-character BERT name showed no label at all), so long names keep their
    informative tail."""
    return name if len(name) <= limit else "…" + name[-(limit - 1):]


def distinct_labels(errors: list[dict[str, Any]]) -> list[str]:
    """Layer names, with the ONNX node's own name added where several nodes share one layer
    (attention's two score MatMuls are both 'blocks.0.attn'): two equal bars would read as
    a duplicate."""
    names = [node_label(e) for e in errors]
    counts = {n: names.count(n) for n in names}
    return [f"{n} · {str(e.get('node') or '?').rsplit('/', 1)[-1]}" if counts[n] > 1 else n
            for n, e in zip(names, errors, strict=True)]  # fmt: skip


def error_artifacts(card: dict[str, Any]) -> list[dict[str, Any]]:
    """The card's artifacts that carry per-node errors (int8 dynamic / static)."""
    return [a for a in card.get("artifacts") or []
            if isinstance(a, dict) and (a.get("summary") or {}).get("node_errors")]


class NodeErrorChart(QWidget):
    """Artifact picker, SQNR bars, exclusion steps, and the Keep-N-worst button."""

    keep_in_fp32 = Signal(list)  # layer names, worst first
    keep_in_fp32_step = Signal(int, list)  # (the artifact's recipe step, 1-based; names)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.artifacts: list[dict[str, Any]] = []
        self.errors: list[dict[str, Any]] = []
        self.picker = ignore_wheel_unless_focused(QComboBox())
        self.picker.currentIndexChanged.connect(self._show_artifact)
        explain = QLabel(EXPLAIN)
        explain.setWordWrap(True)
        explain.setStyleSheet("color: #555;")
        self.plot = pg.PlotWidget()
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.setMenuEnabled(False)
        item = self.plot.getPlotItem()
        item.hideButtons()
        item.invertY(True)  # worst at the top
        item.showGrid(x=True, y=False, alpha=0.3)
        item.getAxis("bottom").setLabel("SQNR vs fp32, dB (lower = worse)")
        self.bars = pg.BarGraphItem(x0=[], y=[], height=0.7, width=[], brush="#dd8452", pen=None)
        self.plot.addItem(self.bars)
        add_plot_export(self.plot, "quantization error per node", data=lambda: node_error_table(self))
        self.table = self._build_table()
        self.steps_title = QLabel("<b>Exclusion search</b> (greedy: worst nodes kept in fp32 until the drop is met)")
        self.steps_title.setWordWrap(True)
        self.steps_note = QLabel()
        self.steps_note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        pick_row = QHBoxLayout()
        self.picker_label = QLabel("File:")
        pick_row.addWidget(self.picker_label)
        pick_row.addWidget(self.picker, 1)
        layout.addLayout(pick_row)
        layout.addWidget(explain)
        layout.addWidget(self.plot)
        layout.addLayout(self._build_keep_row())
        self.keep_note = QLabel()  # what the button changed, in words
        self.keep_note.setWordWrap(True)
        self.keep_note.setStyleSheet("color: #2e7d32;")
        self.keep_note.hide()
        layout.addWidget(self.keep_note)
        layout.addWidget(self.steps_title)
        layout.addWidget(self.table)
        layout.addWidget(self.steps_note)
        layout.addStretch(1)

    def _build_keep_row(self) -> QHBoxLayout:
        self.count = ignore_wheel_unless_focused(QSpinBox())
        self.count.setRange(1, 1)
        self.count.setToolTip("how many of the worst nodes to keep in fp32")
        self.keep_btn = QPushButton("Keep the N worst in fp32")
        self.keep_btn.setToolTip("Put these layers in the quantize step's exclude_nodes (Optimize page's recipe)")
        self.keep_btn.clicked.connect(self._keep)
        self.count.valueChanged.connect(lambda n: self.keep_btn.setText(f"Keep the {n} worst in fp32"))
        row = QHBoxLayout()
        row.addWidget(QLabel("N:"))
        row.addWidget(self.count)
        row.addWidget(self.keep_btn)
        row.addStretch(1)
        return row

    def _build_table(self) -> QTableWidget:
        table = QTableWidget(0, 4)
        table.setHorizontalHeaderLabels(["Kept in fp32", "Metric", "Size", "Met?"])
        table.verticalHeader().hide()
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.horizontalHeader().setStretchLastSection(False)
        table.horizontalHeader().setSectionResizeMode(0, table.horizontalHeader().ResizeMode.Stretch)
        table.setWordWrap(True)
        return table

    def show_card(self, card: dict[str, Any]) -> None:
        """Offer every artifact of the card that has node errors; show the first."""
        self.artifacts = error_artifacts(card)
        self.picker.blockSignals(True)
        self.picker.clear()
        for art in self.artifacts:
            self.picker.addItem(f"{kind_title(str(art.get('kind')))} · {art.get('method') or ''}")
        self.picker.blockSignals(False)
        for w in (self.picker, self.picker_label):  # one file: nothing to choose
            w.setVisible(len(self.artifacts) > 1)
        self._show_artifact(0)

    def _show_artifact(self, index: int) -> None:
        art = self.artifacts[index] if 0 <= index < len(self.artifacts) else {}
        summary = art.get("summary") or {}
        self.errors = list(summary.get("node_errors") or [])
        n = len(self.errors)
        values = np.array([float(e.get("sqnr_db") or 0.0) for e in self.errors])
        y = np.arange(n, dtype=float)
        self.bars.setOpts(x0=np.zeros(n), y=y, width=values, height=0.7)
        labels = [f"{axis_label(name)}  " for name in strip_common_prefix(
            distinct_labels(self.errors))]  # fmt: skip
        self.plot.getAxis("left").setTicks([list(zip(y, labels, strict=True)), []])
        axis = self.plot.getAxis("left")
        metrics = QFontMetrics(axis.style.get("tickFont") or self.font())
        width = max((metrics.horizontalAdvance(s) for s in labels), default=40)
        axis.setWidth(min(width + 16, 340))
        self.plot.setXRange(0, max(float(values.max()) if n else 1.0, 1.0) * 1.05, padding=0)
        self.plot.setYRange(-0.6, max(n, 1) - 0.4, padding=0)
        self.plot.setFixedHeight(max(n, 3) * ROW_PX + 60)
        self.count.setRange(1, max(n, 1))
        self.count.setValue(min(3, max(n, 1)))
        self.keep_btn.setEnabled(n > 0)
        self.set_note("")
        self._show_steps(summary.get("exclusion"))

    def _show_steps(self, exclusion: dict[str, Any] | None) -> None:
        steps = (exclusion or {}).get("steps") or []
        for w in (self.steps_title, self.table, self.steps_note):
            w.setVisible(bool(exclusion))
        self.table.setRowCount(len(steps))
        for row, step in enumerate(steps):
            kept = step.get("excluded") or []
            pair = metric_pair(step)
            size = step.get("size_bytes")
            cells = [
                ", ".join(map(str, kept)) or "none (all quantized)",
                f"{pair[0]} {fmt_metric(*pair)}" if pair else "–",
                f"{size / 1e6:.2f} MB" if isinstance(size, (int, float)) else "–",
                "yes" if step.get("met") else "no",
            ]
            for col, text in enumerate(cells):
                cell = QTableWidgetItem(text)
                cell.setToolTip(text)
                self.table.setItem(row, col, cell)
        self.table.resizeRowsToContents()
        self.table.setFixedHeight(min(self.table.verticalHeader().length() + 30, 240))
        self.steps_note.setText(str((exclusion or {}).get("message") or ""))

    def set_note(self, text: str) -> None:
        """Say under the button what keeping the layers changed (empty: hide)."""
        self.keep_note.setText(text)
        self.keep_note.setVisible(bool(text))

    def worst(self, n: int) -> list[str]:
        """The n worst layer names, worst first, each once."""
        names: list[str] = []
        for err in self.errors:
            name = node_label(err)
            if name not in names:
                names.append(name)
        return names[:n]

    def _keep(self) -> None:
        names = self.worst(self.count.value())
        self.keep_in_fp32.emit(names)
        art = self.artifacts[self.picker.currentIndex()] if self.artifacts else {}
        self.keep_in_fp32_step.emit(int(art.get("step") or 0), names)
