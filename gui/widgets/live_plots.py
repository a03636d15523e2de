"""Live training plots: loss, validation metric, sparsity vs its target, per-layer bars, |w|,
and the training setup's row (gradient norm, throughput, peak memory, fp16 loss scale).

Events only append to preallocated ring buffers (or replace a latest value); a ~20 Hz
timer pushes each curve that changed to pyqtgraph once per tick. Redrawing per event
would let a fast job flood the GUI thread (pyqtgraph examples/scrollingPlots.py does
the same). Past runs' curves (run history) are drawn under the live ones, fainter;
smoothing and log scale apply to both, as in TensorBoard.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from engine.events import LayerStats, Metric, WeightHistogram
from gui.widgets.curve_math import ema, padded_span, step_xy, value_at
from gui.widgets.curve_specs import (
    CURVES,
    DASHED,
    HISTORY_COLORS,
    PLOT_TITLES,
    STEP_CURVES,
    TARGET,
    curve_spec,
    is_curve,
    plot_key,
)
from gui.widgets.layer_bars import KINDS, WAITING, LayerBars
from gui.widgets.layer_names import short_layer_name, strip_common_prefix
from gui.widgets.past_runs import PastRunCurves
from gui.widgets.plot_options import PlotOptions
from gui.widgets.plot_views import auto_range, step_plot, use_light_theme
from gui.widgets.ring_buffer import RingBuffer
from gui.widgets.setup_plots import SetupRow
from gui.widgets.weight_histogram import WeightHistogramView

__all__ = [
    "CURVES", "HISTORY_COLORS", "LayerBars", "LivePlots", "short_layer_name", "step_xy", "strip_common_prefix",
    "use_light_theme", "value_at",
]

REDRAW_MS = 50  # 20 Hz is smooth for a human and cheap for the GUI thread
STRUCTURED_WAITING = "structured steps shrink layers: what each layer lost appears after the pruning step"


class LivePlots(PlotOptions, QWidget):
    """Plots fed with engine events (`on_event`) and redrawn by a timer."""

    def __init__(self, parent: QWidget | None = None, capacity: int = 10_000):
        super().__init__(parent)
        use_light_theme()
        self.capacity = capacity
        self.buffers: dict[str, RingBuffer] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        self._points: dict[str, pg.PlotDataItem] = {}  # measured points of step curves
        self._raw: dict[str, pg.PlotDataItem] = {}  # faint unsmoothed curve under a smoothed one
        self._drawn: dict[str, tuple[int, float]] = {}  # name -> (buffer version, carried to)
        self._layers: tuple[int, dict[str, float], str] | None = None  # newest LayerStats, undrawn
        self._pinned: set[str] = set()  # plots showing one point, on a range set by hand
        self.smoothing = 0.0
        self.mode = "masks"
        self.plots: dict[str, pg.PlotWidget] = {}
        self.past = PastRunCurves(self.plots)
        self.history = self.past.runs  # run id -> its overlaid curves
        self.redraws = 0  # setData calls so far (tests check plots redraw per tick, not per event)

        self._build_controls()
        # Two rows: the curves over steps on top, the per-layer views below, where a long
        # layer list and the histogram get the width.
        self.grid = QGridLayout()
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(6)
        for key in PLOT_TITLES:
            self._make_plot(key)
        self.layer_bars = LayerBars()
        self.histogram = WeightHistogramView()
        self.setup = SetupRow(self.plots)
        for col in range(6):
            self.grid.setColumnStretch(col, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(self.controls)
        layout.addLayout(self.grid, 1)
        self._place()

        self.timer = QTimer(self)
        self.timer.setInterval(REDRAW_MS)
        self.timer.timeout.connect(self.redraw)
        self.timer.start()

    def _build_controls(self) -> None:
        """The Smoothing slider and Log scale box (self.controls, where the Run page adds more)."""
        self.controls = QHBoxLayout()  # the Run page adds its History button here
        self.smooth_slider = QSlider(Qt.Orientation.Horizontal)
        self.smooth_slider.setRange(0, 99)
        self.smooth_slider.setMaximumWidth(160)
        self.smooth_slider.setToolTip("exponential moving average of loss and metric curves, as in TensorBoard")
        self.smooth_slider.valueChanged.connect(lambda v: self.set_smoothing(v / 100))
        self.smooth_value = QLabel("0.00")
        self.log_check = QCheckBox("Log scale")
        self.log_check.setToolTip("logarithmic y axis for the loss and validation metric plots")
        self.log_check.toggled.connect(self.set_log_scale)
        self.controls.addWidget(QLabel("Smoothing"))
        self.controls.addWidget(self.smooth_slider)
        self.controls.addWidget(self.smooth_value)
        self.controls.addSpacing(12)
        self.controls.addWidget(self.log_check)
        self.controls.addStretch(1)

    def _make_plot(self, key: str) -> pg.PlotWidget:
        pw = self.plots[key] = step_plot(key)
        self._auto_range(key)
        return pw

    def _auto_range(self, key: str) -> None:
        """Fit the plot to its data again (sparsity keeps its fixed 0..1)."""
        auto_range(self.plots[key], key)

    def show_sparsity(self, mode: bool | str) -> None:
        """Which sparsity views fit the run: "masks", "structured" (layers shrink) or "none"."""
        self.mode = {True: "masks", False: "none"}.get(mode, mode)
        self.layer_bars.set_waiting(STRUCTURED_WAITING if self.mode == "structured" else WAITING)
        if not self.layer_bars.names:  # until values arrive, the axis says what they will be
            self.layer_bars.set_kind("removed" if self.mode == "structured" else "sparsity")
            self.layer_bars.setTitle(KINDS[self.layer_bars.kind][0])
        self.histogram.set_waiting(WAITING)
        self._place()

    def _place(self) -> None:
        """Lay the visible views out in the grid: each row's views share its width evenly."""
        top = [self.plots["loss"], self.plots["val"]] + ([self.plots["sparsity"]] if self.mode == "masks" else [])
        bottom = {"masks": [self.layer_bars, self.histogram], "structured": [self.layer_bars]}.get(self.mode, [])
        hidden = [w for w in (self.plots["sparsity"], self.layer_bars, self.histogram) if w not in top + bottom]
        for row, views in ((0, top), (1, bottom)):
            span = 6 // max(len(views), 1)
            for i, w in enumerate(views):
                self.grid.addWidget(w, row, i * span, 1, span)
                w.setVisible(True)
            self.grid.setRowStretch(row, 1 if views else 0)
        for w in hidden:
            self.grid.removeWidget(w)
            w.setVisible(False)
        self.setup.place(self.grid, 2)

    def _curve(self, name: str) -> RingBuffer:
        # created on first data so legends list only the curves this run has
        if name not in self.buffers:
            key, label, color, symbols = curve_spec(name)
            style = Qt.PenStyle.DashLine if name in DASHED else Qt.PenStyle.SolidLine
            pen = pg.mkPen(color, width=2.5, style=style)
            dots = {"symbolSize": 6, "symbolBrush": color, "symbolPen": None}
            plot = self.plots[key]
            if name in STEP_CURVES:  # dots only where a value was measured, not at the corners
                self.curves[name] = plot.plot([], [], pen=pen, name=label)
                if name in DASHED:  # on top: where actual meets target, both stay visible
                    self.curves[name].setZValue(10)
                if symbols:
                    self._points[name] = plot.plot([], [], pen=None, symbol="o", **dots)
                    self._points[name].opts["name"] = label  # the CSV export: measured points ...
                    self.curves[name].csv_skip = True  # ... not the step's corners
            else:  # a lone first point of a line gets a dot too, or it would not show
                self.curves[name] = plot.plot([], [], pen=pen, name=label, symbol="o" if symbols else None, **dots)
                self._raw[name] = plot.plot([], [], pen=pg.mkPen(color, width=1))
                self._raw[name].setOpacity(0.25)
                self._raw[name].opts["name"] = f"{label} (unsmoothed)"  # its CSV columns (no legend entry)
            self.curves[name].setZValue(max(self.curves[name].zValue(), 5))  # the live run on top
            self.buffers[name] = RingBuffer(self.capacity)
            self._drawn[name] = (0, -np.inf)
            if self.setup.on_curve(key):
                self._place()
        return self.buffers[name]

    # -- feeding ------------------------------------------------------------------
    def on_event(self, event: object) -> None:
        """Record a Metric / LayerStats / WeightHistogram event (drawn on the next tick)."""
        if isinstance(event, Metric):
            self.setup.on_event(event)
            if is_curve(event.name):
                self._curve(event.name).append(event.step, event.value)
        elif isinstance(event, LayerStats) and event.kind in ("sparsity", "removed"):
            self._layers = (event.step, dict(event.values), event.kind)
        elif isinstance(event, WeightHistogram):
            self.histogram.on_event(event)

    def reset(self) -> None:
        """Forget the previous run: its curves, legend entries, ranges, bars and histograms."""
        for name in list(self.buffers):
            item = self.plots[plot_key(name)].getPlotItem()
            for items in (self.curves, self._points, self._raw):
                if name in items:
                    item.removeItem(items.pop(name))  # also takes it out of the legend
        self.buffers.clear()
        self._drawn.clear()
        self._pinned.clear()
        for key in self.plots:
            self._auto_range(key)
        self.layer_bars.set_values({})
        self.layer_bars.set_target(None)
        self._layers = None
        self.histogram.reset()
        self.setup.reset()
        self._place()
        self.redraw()

    # -- drawing ------------------------------------------------------------------
    def newest_step(self) -> float:
        """The furthest step the run has reached (the announced target does not count)."""
        lasts = [buf.last() for name, buf in self.buffers.items() if name != TARGET]
        return max((p[0] for p in lasts if p is not None), default=0.0)

    def redraw(self) -> None:
        """Push every curve whose buffer changed since the last tick."""
        newest = self.newest_step()
        changed: set[str] = set()
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
                self._draw_line(name, x, y)
            changed.add(plot_key(name))
            self.redraws += 1
        for key in changed:
            self._fit(key)
        if self._layers is not None:
            step, values, kind = self._layers
            self._layers = None
            self.layer_bars.set_values(values, kind)
            target = self.buffers.get(TARGET)
            self.layer_bars.set_target(value_at(*target.data(), step) if target and kind == "sparsity" else None)
        self.histogram.redraw()

    def _draw_line(self, name: str, x: np.ndarray, y: np.ndarray) -> None:
        """A loss/metric curve: smoothed when asked, the raw one faint beneath it."""
        smooth = self.smoothing > 0 and len(x) > 1
        self.curves[name].setData(x, ema(y, self.smoothing) if smooth else y)
        if not curve_spec(name)[3]:
            self.curves[name].setSymbol("o" if len(x) == 1 else None)
        self._raw[name].setData(x, y) if smooth else self._raw[name].setData([], [])

    def _fit(self, key: str) -> None:
        """A plot whose data has no spread yet (one point) gets a range around it, not a blank."""
        xs = [self.buffers[n].data() for n in self.buffers if plot_key(n) == key and len(self.buffers[n])]
        if key == "sparsity":  # step curves are carried on to the run's newest step
            xs.append((np.array([self.newest_step()]), np.array([0.0])))
        xs += self.past.data(key)
        vb = self.plots[key].getPlotItem().vb
        if not xs:
            return
        x, y = np.concatenate([p[0] for p in xs]), np.concatenate([p[1] for p in xs])
        flat_x, flat_y = np.ptp(x) == 0, np.ptp(y) == 0 and key != "sparsity"
        if flat_x or flat_y:
            self._pinned.add(key)
            if flat_x:
                vb.setXRange(*padded_span(x), padding=0)
            else:  # a constant value (peak memory) over steps: x still follows the steps
                vb.setXRange(float(x.min()), float(x.max()), padding=0.02)
            if flat_y:
                vb.setYRange(*padded_span(y, self.log_check.isChecked()), padding=0)
        elif key in self._pinned:
            self._pinned.discard(key)
            self._auto_range(key)
