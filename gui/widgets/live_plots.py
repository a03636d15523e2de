"""Live training plots: loss, validation metric, sparsity vs its target, per-layer bars, |w|.

Events only append to preallocated ring buffers (or replace a latest value); a ~20 Hz
timer pushes each curve that changed to pyqtgraph once per tick. Redrawing per event
would let a fast job flood the GUI thread (pyqtgraph examples/scrollingPlots.py does
the same).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, QTimer
from PySide6.QtWidgets import QGridLayout, QWidget

from engine.events import LayerStats, Metric, WeightHistogram
from gui.widgets.layer_names import short_layer_name, strip_common_prefix
from gui.widgets.ring_buffer import RingBuffer
from gui.widgets.weight_histogram import WeightHistogramView

__all__ = ["CURVES", "LayerBars", "LivePlots", "short_layer_name", "strip_common_prefix"]

REDRAW_MS = 50  # 20 Hz is smooth for a human and cheap for the GUI thread
ROW_PX = 16  # below this a bar's name would overlap the next one (pyqtgraph then drops labels)
TARGET = "sparsity/target"

# metric name -> (plot key, legend label, colour, draw points as symbols)
CURVES: dict[str, tuple[str, str, str, bool]] = {
    "train/loss": ("loss", "train loss", "#1f77b4", False),
    "val/loss": ("loss", "val loss", "#ff7f0e", True),
    "val/accuracy": ("val", "val accuracy", "#2ca02c", True),
    "val/perplexity": ("val", "val perplexity", "#9467bd", True),
    "sparsity/overall": ("sparsity", "overall", "#d62728", True),  # few points: show them
    TARGET: ("sparsity", "target", "#222222", False),
}
# Masks change only at update steps, so sparsity holds flat in between: these curves are
# drawn as steps and carried on to the newest step of the run. The target is announced
# for the whole run at the start, so it is drawn dashed: it is where the run is going.
STEP_CURVES = frozenset({"sparsity/overall", TARGET})
DASHED = frozenset({TARGET})
PLOT_TITLES = {"loss": "Loss", "val": "Validation metric", "sparsity": "Sparsity: overall vs target"}


def use_light_theme() -> None:
    """White plots with black text, antialiased (set before creating plot widgets)."""
    pg.setConfigOptions(antialias=True, background="w", foreground="k")


def step_xy(x: np.ndarray, y: np.ndarray, until: float) -> tuple[np.ndarray, np.ndarray]:
    """Polyline of a value held from each x to the next, carried on to `until`."""
    if not len(x):
        return x, y
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    last = np.r_[x[1:] != x[:-1], True]  # a re-announced step keeps its newest value
    x, y = x[last], y[last]
    xs, ys = np.repeat(x, 2)[1:], np.repeat(y, 2)[:-1]
    if until > x[-1]:
        xs, ys = np.r_[xs, until], np.r_[ys, y[-1]]
    return xs, ys


def value_at(x: np.ndarray, y: np.ndarray, step: float) -> float | None:
    """The held value of a step curve at `step` (None before its first point)."""
    before = np.flatnonzero(x <= step)
    return float(y[before[np.argmax(x[before])]]) if len(before) else None


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
        # the schedule's target at this mask step: bars short of it are the layers kept denser
        self.target = pg.InfiniteLine(
            angle=90, movable=False, pen=pg.mkPen("#555555", width=1.5, style=Qt.PenStyle.DashLine),
            label="target {value:.0%}", labelOpts={"position": 0.04, "color": "#555555", "anchors": [(0, 0), (0, 0)]},
        )  # fmt: skip
        self.addItem(self.target)
        self.target.setVisible(False)

    def set_target(self, value: float | None) -> None:
        """Mark the schedule's target sparsity (None hides the mark)."""
        self.target.setVisible(value is not None)
        if value is not None:
            self.target.setValue(value)

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
        self.curves: dict[str, pg.PlotDataItem] = {}
        self._points: dict[str, pg.PlotDataItem] = {}  # measured points of step curves
        self._drawn: dict[str, tuple[int, float]] = {}  # name -> (buffer version, carried to)
        self._layers: tuple[int, dict[str, float]] | None = None  # newest LayerStats, undrawn
        self.plots: dict[str, pg.PlotWidget] = {}
        self.redraws = 0  # setData calls so far (tests check plots redraw per tick, not per event)

        # Two rows, all visible at once: the curves over steps on top (three across), the
        # per-layer views below, where a long layer list and the histogram get the width.
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(6)
        for col, key in enumerate(PLOT_TITLES):
            grid.addWidget(self._make_plot(key), 0, 2 * col, 1, 2)
        self.layer_bars = LayerBars()
        self.histogram = WeightHistogramView()
        grid.addWidget(self.layer_bars, 1, 0, 1, 3)
        grid.addWidget(self.histogram, 1, 3, 1, 3)
        for col in range(6):
            grid.setColumnStretch(col, 1)

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
        # sparsity rises from bottom left to top right, where the announced target runs
        # ahead of the run: its legend goes bottom right to keep that part in view
        offset = (-10, -10) if key == "sparsity" else (-10, 10)
        item.addLegend(offset=offset, labelTextSize="8pt", brush=(255, 255, 255, 210))
        item.getAxis("bottom").setLabel("step")
        if key == "sparsity":
            item.setYRange(0, 1, padding=0.05)
        pw.setMinimumHeight(120)
        self.plots[key] = pw
        return pw

    def show_sparsity(self, visible: bool) -> None:
        """Hide the sparsity views for runs that prune nothing (they would only say 'waiting')."""
        for w in (self.plots["sparsity"], self.layer_bars, self.histogram):
            w.setVisible(visible)

    def _curve(self, name: str) -> RingBuffer:
        # created on first data so legends list only the curves this run has
        if name not in self.buffers:
            key, label, color, symbols = CURVES.get(name, ("val", name, "#555555", True))
            style = Qt.PenStyle.DashLine if name in DASHED else Qt.PenStyle.SolidLine
            pen = pg.mkPen(color, width=2, style=style)
            dots = {"symbol": "o", "symbolSize": 6, "symbolBrush": color, "symbolPen": None}
            plot = self.plots[key]
            if name in STEP_CURVES:  # dots only where a value was measured, not at the corners
                self.curves[name] = plot.plot([], [], pen=pen, name=label)
                if name in DASHED:  # on top: where actual meets target, both stay visible
                    self.curves[name].setZValue(10)
                if symbols:
                    self._points[name] = plot.plot([], [], pen=None, **dots)
            else:
                self.curves[name] = plot.plot([], [], pen=pen, name=label, **(dots if symbols else {}))
            self.buffers[name] = RingBuffer(self.capacity)
            self._drawn[name] = (0, -np.inf)
        return self.buffers[name]

    # -- feeding ------------------------------------------------------------------
    def on_event(self, event: object) -> None:
        """Record a Metric / LayerStats / WeightHistogram event (drawn on the next tick)."""
        if isinstance(event, Metric):
            if event.name in CURVES or event.name.startswith(("val/", "sparsity/")):
                self._curve(event.name).append(event.step, event.value)
        elif isinstance(event, LayerStats) and event.kind == "sparsity":
            self._layers = (event.step, dict(event.values))
        elif isinstance(event, WeightHistogram):
            self.histogram.on_event(event)

    def reset(self) -> None:
        """Forget the previous run's data."""
        for buf in self.buffers.values():
            buf.clear()
        self.layer_bars.set_values({})
        self.layer_bars.set_target(None)
        self._layers = None
        self.histogram.reset()
        self.redraw()

    # -- drawing ------------------------------------------------------------------
    def newest_step(self) -> float:
        """The furthest step the run has reached (the announced target does not count)."""
        lasts = [buf.last() for name, buf in self.buffers.items() if name != TARGET]
        return max((p[0] for p in lasts if p is not None), default=0.0)

    def redraw(self) -> None:
        """Push every curve whose buffer changed since the last tick."""
        newest = self.newest_step()
        for name, buf in self.buffers.items():
            until = newest if name in STEP_CURVES else -np.inf
            if (buf.version, until) == self._drawn[name]:
                continue
            self._drawn[name] = (buf.version, until)
            x, y = buf.data()
            if name in STEP_CURVES:
                self.curves[name].setData(*step_xy(x, y, until))
                if name in self._points:
                    self._points[name].setData(x, y)
            else:
                self.curves[name].setData(x, y)
            self.redraws += 1
        if self._layers is not None:
            step, values = self._layers
            self._layers = None
            self.layer_bars.set_values(values)
            target = self.buffers.get(TARGET)
            self.layer_bars.set_target(value_at(*target.data(), step) if target else None)
        self.histogram.redraw()
