"""Per-layer bars of the Run page: one horizontal bar per layer, with a scroll bar.

Masking steps report the fraction of zero weights per layer; structured steps shrink
layers instead, so they report the fraction of each layer's weights they removed.
Many layers do not fit: the rows stay readable and a scroll bar (or the wheel) moves
through them.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QHBoxLayout, QScrollBar, QWidget

from gui.widgets.layer_names import short_layer_name, strip_common_prefix
from gui.widgets.plot_export import add_plot_export
from gui.widgets.plot_tables import layer_bars_table

ROW_PX = 16  # below this a bar's name would overlap the next one (pyqtgraph then drops labels)
WAITING = "waiting for the pruning step…"
# LayerStats.kind -> (title, x-axis label, hover verb)
KINDS = {
    "sparsity": ("Sparsity per layer", "fraction of zero weights", "zero"),
    "removed": ("Weights removed per layer", "fraction removed (structured: the layer shrank)", "removed"),
}


class LayerBarsPlot(pg.PlotWidget):
    """The bars themselves; full names on hover, the wheel scrolls rows instead of zooming."""

    def __init__(self, owner: LayerBars):
        super().__init__()
        self.owner = owner

    def wheelEvent(self, event: object) -> None:  # noqa: N802 (Qt's name)
        steps = event.angleDelta().y() / 120
        self.owner.scroll.setValue(self.owner.scroll.value() - int(round(steps * 3)))
        event.accept()


class LayerBars(QWidget):
    """Horizontal bars, one per layer, short names on the axis and full names on hover."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.names: list[str] = []
        self.values = np.zeros(0)
        self.kind = "sparsity"
        self.shown = 0  # rows visible at once
        self.plot = LayerBarsPlot(self)
        self.bars = pg.BarGraphItem(x0=[], y=[], height=0.7, width=[], brush="#4c72b0", pen=None)
        self.plot.addItem(self.bars)
        self.plot.setXRange(0, 1, padding=0.02)
        self.plot.setMouseEnabled(x=False, y=False)  # the scroll bar moves through the rows
        item = self.plot.getPlotItem()
        item.hideButtons()
        item.invertY(True)  # first layer at the top, like the model reads
        item.getAxis("left").setWidth(120)
        item.showGrid(x=True, y=False, alpha=0.3)
        item.getAxis("left").setTicks([[], []])  # no numeric ticks on a name axis
        self.plot.scene().sigMouseMoved.connect(self._hover)
        add_plot_export(self.plot, lambda: f"run {KINDS[self.kind][0]}", data=lambda: layer_bars_table(self))
        self._empty = pg.TextItem(WAITING, color="#888", anchor=(0.5, 0.5))
        self.plot.addItem(self._empty)
        self._empty.setPos(0.5, 0)
        # the schedule's target at this mask step: bars short of it are the layers kept denser
        self.target = pg.InfiniteLine(
            angle=90, movable=False, pen=pg.mkPen("#555555", width=1.5, style=Qt.PenStyle.DashLine),
            label="target {value:.0%}", labelOpts={"position": 0.04, "color": "#555555", "anchors": [(1, 0), (1, 0)]},
        )  # fmt: skip
        self.plot.addItem(self.target)
        self.target.setVisible(False)
        self.scroll = QScrollBar(Qt.Orientation.Vertical)
        self.scroll.setRange(0, 0)
        self.scroll.valueChanged.connect(self._show_rows)
        self.scroll.hide()
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(self.plot, 1)
        row.addWidget(self.scroll)
        self.set_kind("sparsity")

    def setTitle(self, title: str) -> None:  # noqa: N802 (pyqtgraph's name)
        self.plot.setTitle(title)

    def title(self) -> str:
        """The plot's title text."""
        return self.plot.getPlotItem().titleLabel.text

    def set_waiting(self, text: str) -> None:
        """What the empty view says until the first values arrive."""
        self._empty.setText(text)

    def waiting_text(self) -> str:
        return self._empty.toPlainText() if self._empty.isVisible() else ""

    def set_target(self, value: float | None) -> None:
        """Mark the schedule's target sparsity (None hides the mark)."""
        self.target.setVisible(value is not None)
        if value is not None:
            self.target.setValue(value)

    def set_values(self, values: dict[str, float], kind: str = "sparsity") -> None:
        """Show one bar per layer (order as given); full names are in the hover tooltip."""
        new_layers = list(values) != self.names or kind != self.kind
        self.set_kind(kind)
        self.names = list(values)
        self.values = np.fromiter(values.values(), dtype=float, count=len(values))
        y = np.arange(len(self.names))
        self.bars.setOpts(x0=np.zeros(len(y)), y=y, width=self.values, height=0.7)
        self._empty.setVisible(not self.names)
        if new_layers:  # keep the user's scroll position when only the values moved
            labels = [short_layer_name(n) for n in strip_common_prefix(self.names)]
            self.plot.getAxis("left").setTicks([list(zip(y.astype(float), labels, strict=True)), []])
            self.scroll.setValue(0)
            self._fit_rows()

    def set_kind(self, kind: str) -> None:
        """What the bars mean: "sparsity" (zeros per layer) or "removed" (structured, shrunk)."""
        self.kind = kind if kind in KINDS else "sparsity"
        self.plot.getAxis("bottom").setLabel(KINDS[self.kind][1])

    def _fit_rows(self) -> None:
        """Show as many rows as stay readable; with more layers, the scroll bar shows the rest."""
        n = len(self.names)
        height = self.plot.getPlotItem().vb.height()
        self.shown = min(n, max(4, int(height / ROW_PX)) if self.isVisible() and height > 0 else 32)
        self.scroll.setRange(0, max(n - self.shown, 0))
        self.scroll.setPageStep(max(self.shown, 1))
        self.scroll.setVisible(self.shown < n)
        self.scroll.setToolTip(f"{self.shown} of {n} layers shown; scroll (or use the wheel) for the rest")
        self.setTitle(KINDS[self.kind][0])  # the scroll bar says there is more; the plot may be narrow
        self._show_rows(self.scroll.value())

    def _show_rows(self, first: int) -> None:
        vb = self.plot.getPlotItem().vb
        last = max(first + max(self.shown, 1) - 0.4, 0.4)
        vb.setYRange(first - 0.6, last, padding=0)

    def resizeEvent(self, event: object) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        if self.names:
            self._fit_rows()

    def showEvent(self, event: object) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        if self.names:
            self._fit_rows()

    def _hover(self, pos: QPointF) -> None:
        if not self.names:
            return
        p = self.plot.getPlotItem().vb.mapSceneToView(pos)
        i = int(round(p.y()))
        if 0 <= i < len(self.names):
            self.plot.setToolTip(f"{self.names[i]}: {self.values[i]:.1%} {KINDS[self.kind][2]}")
        else:
            self.plot.setToolTip("")
