"""Live training plots: loss, validation metric, sparsity, and sparsity per layer.

Events only append to preallocated ring buffers; a ~20 Hz timer pushes each curve
that changed to pyqtgraph once per tick. Redrawing per event would let a fast job
flood the GUI thread (pyqtgraph examples/scrollingPlots.py does the same).
"""

from __future__ import annotations

import re

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QTimer
from PySide6.QtWidgets import QGridLayout, QWidget

from engine.events import LayerStats, Metric
from gui.widgets.ring_buffer import RingBuffer

REDRAW_MS = 50  # 20 Hz is smooth for a human and cheap for the GUI thread
ROW_PX = 16  # below this a bar's name would overlap the next one (pyqtgraph then drops labels)

# metric name -> (plot key, legend label, colour, draw points as symbols)
CURVES: dict[str, tuple[str, str, str, bool]] = {
    "train/loss": ("loss", "train loss", "#1f77b4", False),
    "val/loss": ("loss", "val loss", "#ff7f0e", True),
    "val/accuracy": ("val", "val accuracy", "#2ca02c", True),
    "val/perplexity": ("val", "val perplexity", "#9467bd", True),
    "sparsity/overall": ("sparsity", "overall", "#d62728", True),  # few points: show them
    "sparsity/mean_layer": ("sparsity", "mean per layer", "#8c564b", False),
}
PLOT_TITLES = {"loss": "Loss", "val": "Validation metric", "sparsity": "Sparsity"}

# Shorter names for common container parts so 24+ layer names fit on an axis.
_SHORT_PARTS = {
    "blocks": "b", "layers": "L", "layer": "L", "h": "h", "encoder": "enc", "decoder": "dec",
    "attention": "attn", "self_attn": "attn", "self": "", "output": "out",
    "intermediate": "inter", "transformer": "", "model": "", "bert": "", "roberta": "",
}


def use_light_theme() -> None:
    """White plots with black text, antialiased (set before creating plot widgets)."""
    pg.setConfigOptions(antialias=True, background="w", foreground="k")


def strip_common_prefix(names: list[str]) -> list[str]:
    """Drop dotted parts every name shares ('bert.encoder.layer.0.x' -> 'layer.0.x')."""
    if len(names) < 2:
        return list(names)
    split = [n.split(".") for n in names]
    common = 0
    while all(len(p) > common + 1 and p[common] == split[0][common] for p in split):
        common += 1
    if common and split[0][common].isdigit():
        common -= 1  # keep 'layer' in 'layer.0.x' so the short name reads 'L0.x'
    return [".".join(p[common:]) for p in split]


def short_layer_name(name: str, limit: int = 22) -> str:
    """'blocks.0.attn.qkv' -> 'b0.attn.qkv'; long names keep their informative tail."""
    parts = [_SHORT_PARTS.get(p, p) for p in name.split(".")]
    text = ".".join(p for p in parts if p)
    text = re.sub(r"(^|\.)([A-Za-z]{1,3})\.(\d+)", r"\1\2\3", text)  # b.0 -> b0
    return text if len(text) <= limit else "…" + text[-(limit - 1) :]


class LayerBars(pg.PlotWidget):
    """Horizontal bars, one per layer, short names on the axis and full names on hover."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setTitle("Sparsity per layer")
        self.names: list[str] = []
        self.values = np.zeros(0)
        self.bars = pg.BarGraphItem(x0=[], y=[], height=0.7, width=[], brush="#4c72b0", pen=None)
        self.addItem(self.bars)
        self.setXRange(0, 1, padding=0.02)
        self.setMouseEnabled(x=False, y=True)
        self.getPlotItem().hideButtons()
        self.getPlotItem().invertY(True)  # first layer at the top, like the model reads
        self.getAxis("bottom").setLabel("fraction of zero weights")
        self.getAxis("left").setWidth(120)
        self.getPlotItem().showGrid(x=True, y=False, alpha=0.3)
        self.scene().sigMouseMoved.connect(self._hover)
        self._empty = pg.TextItem("waiting for the pruning step…", color="#888", anchor=(0.5, 0.5))
        self.addItem(self._empty)
        self._empty.setPos(0.5, 0)
        self.getAxis("left").setTicks([[], []])  # no numeric ticks on a name axis

    def set_values(self, values: dict[str, float]) -> None:
        """Show one bar per layer (order as given); full names are in the hover tooltip."""
        new_layers = list(values) != self.names
        self.names = list(values)
        self.values = np.fromiter(values.values(), dtype=float, count=len(values))
        y = np.arange(len(self.names))
        self.bars.setOpts(x0=np.zeros(len(y)), y=y, width=self.values, height=0.7)
        self._empty.setVisible(not self.names)
        if new_layers:  # keep the user's scroll position when only the values moved
            labels = [short_layer_name(n) for n in strip_common_prefix(self.names)]
            self.getAxis("left").setTicks([list(zip(y.astype(float), labels, strict=True)), []])
            self._fit_rows()

    def _fit_rows(self) -> None:
        """Show as many rows as stay readable; with more layers, drag to scroll the rest."""
        n = len(self.names)
        fit = max(8, int(self.getPlotItem().vb.height() / ROW_PX)) if self.isVisible() else 32
        shown = min(n, fit)
        vb = self.getPlotItem().vb
        vb.setLimits(yMin=-0.6, yMax=max(n - 0.4, 0.4))
        self.setYRange(-0.6, max(shown - 0.4, 0.4), padding=0)
        more = f" · {shown} of {n} (drag)" if shown < n else ""
        self.setTitle(f"Sparsity per layer{more}")
        self.setToolTip("drag up/down for more layers" if more else "")

    def resizeEvent(self, event: object) -> None:
        super().resizeEvent(event)
        if getattr(self, "names", None):  # pyqtgraph calls this before __init__ finishes
            self._fit_rows()

    def _hover(self, pos: QPointF) -> None:
        if not self.names:
            return
        p = self.getPlotItem().vb.mapSceneToView(pos)
        i = int(round(p.y()))
        if 0 <= i < len(self.names):
            self.setToolTip(f"{self.names[i]}: {self.values[i]:.1%} zero")
        else:
            self.setToolTip("")


class LivePlots(QWidget):
    """Plots fed with engine events (`on_event`) and redrawn by a timer."""

    def __init__(self, parent: QWidget | None = None, capacity: int = 10_000):
        super().__init__(parent)
        use_light_theme()
        self.capacity = capacity
        self.buffers: dict[str, RingBuffer] = {}
        self._curves: dict[str, pg.PlotDataItem] = {}
        self._drawn: dict[str, int] = {}  # metric name -> buffer version last drawn
        self._layers: dict[str, float] | None = None
        self.plots: dict[str, pg.PlotWidget] = {}
        self.redraws = 0  # setData calls so far (tests check plots redraw per tick, not per event)

        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(6)
        for row, key in enumerate(PLOT_TITLES):
            grid.addWidget(self._make_plot(key), row, 0)
        self.layer_bars = LayerBars()
        grid.addWidget(self.layer_bars, 0, 1, len(PLOT_TITLES), 1)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 2)

        self.timer = QTimer(self)
        self.timer.setInterval(REDRAW_MS)
        self.timer.timeout.connect(self.redraw)
        self.timer.start()

    def _make_plot(self, key: str) -> pg.PlotWidget:
        pw = pg.PlotWidget(title=PLOT_TITLES[key])
        item = pw.getPlotItem()
        item.setDownsampling(auto=True, mode="peak")
        item.setClipToView(True)
        item.showGrid(x=True, y=True, alpha=0.25)
        item.addLegend(offset=(-10, 10), labelTextSize="8pt", brush=(255, 255, 255, 210))
        item.getAxis("bottom").setLabel("step")
        if key == "sparsity":
            item.setYRange(0, 1, padding=0.05)
        pw.setMinimumHeight(120)
        self.plots[key] = pw
        return pw

    def _curve(self, name: str) -> RingBuffer:
        # created on first data so legends list only the curves this run has
        if name not in self.buffers:
            key, label, color, symbols = CURVES.get(name, ("val", name, "#555555", True))
            pen = pg.mkPen(color, width=2)
            kwargs = {"symbol": "o", "symbolSize": 6, "symbolBrush": color, "symbolPen": None} if symbols else {}
            self._curves[name] = self.plots[key].plot([], [], pen=pen, name=label, **kwargs)
            self.buffers[name] = RingBuffer(self.capacity)
            self._drawn[name] = 0
        return self.buffers[name]

    # -- feeding ------------------------------------------------------------------
    def on_event(self, event: object) -> None:
        """Record a Metric / LayerStats event (drawn on the next tick)."""
        if isinstance(event, Metric):
            if event.name in CURVES or event.name.startswith(("val/", "sparsity/")):
                self._curve(event.name).append(event.step, event.value)
        elif isinstance(event, LayerStats) and event.kind == "sparsity":
            self._layers = dict(event.values)

    def reset(self) -> None:
        """Forget the previous run's data."""
        for buf in self.buffers.values():
            buf.clear()
        self.layer_bars.set_values({})
        self._layers = None
        self.redraw()

    # -- drawing ------------------------------------------------------------------
    def redraw(self) -> None:
        """Push every curve whose buffer changed since the last tick."""
        for name, buf in self.buffers.items():
            if buf.version != self._drawn[name]:
                self._drawn[name] = buf.version
                x, y = buf.data()
                self._curves[name].setData(x, y)
                self.redraws += 1
        if self._layers is not None:
            self.layer_bars.set_values(self._layers)
            self._layers = None
