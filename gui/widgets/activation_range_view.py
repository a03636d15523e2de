"""Activation ranges of an int8 file: one tensor's calibration histogram and the cuts on it.

Sits under the per-node error chart on the Export page's Quantization-error tab. The tensor
picker lists the quantized MatMul/Gemm/Conv inputs the engine recorded, worst node first;
clicking a bar in the error chart picks that node's input (`follow_chart`).
Red lines: the range the quantizer used; blue dashed: the 99.99th-percentile cut.
Counts are on a log axis: the rare outliers that stretch the range are one or two counts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLabel, QScrollArea, QVBoxLayout, QWidget

from gui.widgets.activation_range_text import clip_line, load_record, range_note, tensor_label
from gui.widgets.no_wheel import ignore_wheel_unless_focused
from gui.widgets.plot_export import add_plot_export
from gui.widgets.plot_tables import activation_table

RANGE_PEN = pg.mkPen("#d62728", width=2)
BATCH_PEN = pg.mkPen((214, 39, 40, 110), width=1)
CUT_PEN = pg.mkPen("#1f77b4", width=2, style=Qt.PenStyle.DashLine)
TITLE = "<b>Activation ranges</b> — what the int8 scale has to cover"


def _muted(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setStyleSheet("color: #555;")
    return label


class ActivationRangeView(QWidget):
    """Tensor picker, log-count histogram with the quantizer's range and the percentile cut."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.record: dict[str, Any] | None = None
        self.tensors: list[dict[str, Any]] = []
        self.layers: dict[str, str] = {}  # ONNX node -> layer name, from the node errors
        self.picker = ignore_wheel_unless_focused(QComboBox())
        self.picker.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.picker.setMinimumContentsLength(20)
        self.picker.currentIndexChanged.connect(self._show_tensor)
        self.plot = pg.PlotWidget()
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.setMenuEnabled(False)
        item = self.plot.getPlotItem()
        item.hideButtons()
        item.showGrid(x=False, y=True, alpha=0.25)
        item.getAxis("bottom").setLabel("activation value")
        item.getAxis("left").setLabel("count (log)")
        self.plot.setFixedHeight(230)
        self.bars = pg.BarGraphItem(x0=[], height=[], width=[], y0=0, brush="#8c8c8c", pen=None)
        self.plot.addItem(self.bars)
        add_plot_export(self.plot, lambda: f"activation range {(self.current() or {}).get('tensor', '')}",
                        data=lambda: activation_table(self))
        self.lines: list[pg.InfiniteLine] = []
        self.key = _muted("<span style='color:#d62728'>━</span> quantizer's range &nbsp; "
                          "<span style='color:#1f77b4'>╌</span> 99.99th-percentile cut")  # fmt: skip
        self.clip = QLabel()
        self.clip.setWordWrap(True)
        self.source = _muted()
        self.empty = _muted()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 8, 4, 4)
        layout.addWidget(QLabel(TITLE))
        layout.addWidget(self.picker)
        for w in (self.empty, self.plot, self.key, self.clip, self.source):
            layout.addWidget(w)

    def show_artifact(self, artifact: dict[str, Any]) -> None:
        """Load the artifact's record; pick the worst node's input (the record's first)."""
        errors = (artifact.get("summary") or {}).get("node_errors") or []
        self.layers = {str(e.get("node")): str(e.get("layer") or e.get("node")) for e in errors}
        self.record, why = load_record(artifact) if artifact else (None, "")
        self.tensors = list((self.record or {}).get("tensors") or [])
        self.picker.blockSignals(True)
        self.picker.clear()
        for t in self.tensors:
            self.picker.addItem(tensor_label(t, self.layers), t.get("tensor"))
        self.picker.blockSignals(False)
        self.empty.setText(why)
        self.empty.setVisible(bool(why))
        for w in (self.picker, self.plot, self.key, self.clip, self.source):
            w.setVisible(bool(self.tensors))
        self._show_tensor(0)

    def select_tensor(self, name: str) -> bool:
        """Show the tensor called `name`; False when the record has none by that name."""
        index = self.picker.findData(name)
        if index >= 0:
            self.picker.setCurrentIndex(index)
        return index >= 0

    def select_node(self, node: str) -> bool:
        """Show the input of ONNX node `node` (what a click on its error bar asks for)."""
        for t in self.tensors:
            if node in (t.get("nodes") or []):
                return self.select_tensor(str(t.get("tensor")))
        return False

    def current(self) -> dict[str, Any] | None:
        index = self.picker.currentIndex()
        return self.tensors[index] if 0 <= index < len(self.tensors) else None

    def _show_tensor(self, index: int) -> None:
        for line in self.lines:
            self.plot.removeItem(line)
        self.lines = []
        t = self.tensors[index] if 0 <= index < len(self.tensors) else None
        if t is None or self.record is None:
            self.bars.setOpts(x0=[], height=[], width=[])
            return
        counts = np.asarray(t["counts"], dtype=float)
        edges = np.linspace(float(t["edges"][0]), float(t["edges"][1]), len(counts) + 1)
        heights = np.log10(counts + 1.0)  # 0 stays 0; a single outlier still shows
        self.bars.setOpts(x0=edges[:-1], width=np.diff(edges), height=heights)
        top = int(np.ceil(heights.max())) if len(heights) else 1
        ticks = [(float(np.log10(10.0**k + 1.0)), f"{10**k:,}") for k in range(0, top + 1)]
        self.plot.getAxis("left").setTicks([ticks, []])
        for lo, hi in t.get("batch_ranges") or []:
            self._line(lo, BATCH_PEN)
            self._line(hi, BATCH_PEN)
        self._line(t.get("low"), RANGE_PEN)
        self._line(t.get("high"), RANGE_PEN)
        self._line(t.get("cut_low"), CUT_PEN)
        self._line(t.get("cut_high"), CUT_PEN)
        span = edges[-1] - edges[0]
        self.plot.setXRange(edges[0] - 0.02 * span, edges[-1] + 0.02 * span, padding=0)
        self.plot.setYRange(0, max(top, 1) + 0.1, padding=0)
        self.clip.setText(clip_line(t, float(self.record.get("cut_percentile") or 99.99)))
        self.source.setText(range_note(self.record, t))

    def _line(self, x: float | None, pen: Any) -> None:
        if x is None:
            return
        line = pg.InfiniteLine(pos=float(x), angle=90, pen=pen, movable=False)
        self.plot.addItem(line)
        self.lines.append(line)

    def show_chart_artifact(self, chart: Any) -> None:
        """Show the file the chart shows (call after chart.show_card)."""
        i = chart.picker.currentIndex()
        self.show_artifact(chart.artifacts[i] if 0 <= i < len(chart.artifacts) else {})

    def follow_chart(self, chart: Any) -> None:
        """Track a NodeErrorChart: its file picker and clicks on its bars."""
        chart.picker.currentIndexChanged.connect(lambda _i: self.show_chart_artifact(chart))
        chart.plot.scene().sigMouseClicked.connect(lambda ev: self._bar_clicked(chart, ev))

    def _bar_clicked(self, chart: Any, ev: Any) -> None:
        box = chart.plot.getPlotItem().vb
        if ev.button() != Qt.MouseButton.LeftButton or not box.sceneBoundingRect().contains(ev.scenePos()):
            return
        row = int(round(box.mapSceneToView(ev.scenePos()).y()))
        if 0 <= row < len(chart.errors) and self.select_node(str(chart.errors[row].get("node"))):
            self._scroll_into_view()

    def _scroll_into_view(self) -> None:
        parent = self.parentWidget()
        while parent is not None and not isinstance(parent, QScrollArea):
            parent = parent.parentWidget()
        if isinstance(parent, QScrollArea):
            parent.ensureWidgetVisible(self.source, 0, 10)  # the histogram and its words...
            parent.ensureWidgetVisible(self.picker, 0, 10)  # ...with the picker on top


def stacked(*widgets: QWidget) -> QWidget:
    """One widget holding `widgets` top to bottom (one scroll area's contents)."""
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(0)
    for w in widgets:
        layout.addWidget(w)
    return box
