"""Metric vs sparsity, one curve per layer, for the sensitivity panel.

With dozens of layers (36 for MiniLM) every curve in its own loud colour is unreadable, so
the most sensitive few get warm colours, thick lines and legend entries, the rest a quiet
cool ramp; hovering names (and highlights) the nearest curve.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QWidget

from engine.sensitivity import SensitivityResult, sensitivity_score, within_noise
from gui.widgets.live_plots import short_layer_name, strip_common_prefix, use_light_theme
from gui.widgets.plot_export import add_plot_export
from gui.widgets.plot_tables import curves_table

TOP_K = 5  # the most sensitive layers get a strong colour and a legend entry
HOT = ["#d62728", "#ff7f0e", "#9467bd", "#e377c2", "#8c564b"]  # warm: these hurt the metric
HOVER_PX = 10  # how close (pixels) the mouse must be to a curve to name it


class SensitivityPlot(pg.PlotWidget):
    """One curve per layer (metric vs that layer's sparsity); hover names the nearest curve."""

    hovered = Signal(str)  # layer name, or "" when the mouse is on no curve

    def __init__(self, parent: QWidget | None = None):
        use_light_theme()
        super().__init__(parent)
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.colors: dict[str, QColor] = {}
        self._pens: dict[str, Any] = {}
        self._highlight = ""
        item = self.getPlotItem()
        item.showGrid(x=True, y=True, alpha=0.25)
        item.getAxis("bottom").setLabel("sparsity of that one layer")
        for axis in ("bottom", "left"):
            item.getAxis(axis).enableAutoSIPrefix(False)  # no "(x0.001)" on a 0..1 axis
        item.getAxis("bottom").setTicks([[(v, f"{v:.0%}") for v in np.linspace(0, 1, 6)], []])
        item.setXRange(0, 1, padding=0.02)
        item.hideButtons()
        self.legend = item.addLegend(offset=(10, 10), labelTextSize="8pt", brush=(255, 255, 255, 220))
        self.baseline_line = pg.InfiniteLine(
            angle=0, pen=pg.mkPen("#555", width=1, style=Qt.PenStyle.DashLine),
            label="baseline", labelOpts={"position": 0.06, "color": "#555", "anchors": [(0, 1), (0, 1)]},
        )  # fmt: skip
        self.baseline_line.hide()
        self.addItem(self.baseline_line, ignoreBounds=True)
        self._empty = pg.TextItem("Run the analysis to see each layer's curve", color="#888", anchor=(0.5, 0.5))
        self.addItem(self._empty, ignoreBounds=True)
        self._empty.setPos(0.5, 0.5)
        self.setTitle("Metric when one layer is pruned")
        self.scene().sigMouseMoved.connect(self._on_mouse)
        add_plot_export(self, "sensitivity per layer", data=lambda: curves_table(
            self.curves, "sparsity", self.getPlotItem().getAxis("left").labelText or "metric"))

    def show_result(self, result: SensitivityResult) -> None:
        """Replace the curves with `result`'s, the most sensitive layers in warm colours."""
        for curve in self.curves.values():
            self.removeItem(curve)
        self.legend.clear()
        self.curves, self.colors, self._pens = {}, {}, {}
        self._empty.hide()
        values = [m for pts in result.curves.values() for _, m in pts] + [result.baseline]
        # perplexity is exp(loss): once a layer breaks it explodes, and a log axis keeps the
        # other curves readable; a narrow range reads better (and gets ticks) on a linear one
        log_y = not result.higher_is_better and max(values) > 3 * max(min(values), 1e-12)
        self.getPlotItem().setLogMode(False, log_y)
        self.getPlotItem().getAxis("left").setLabel(result.metric + (" (log)" if log_y else ""))
        noisy = {n for n in result.curves if within_noise(result, n)}
        ranked = sorted(result.curves, key=lambda n: -sensitivity_score(result, n))
        ranked = [n for n in ranked if n not in noisy]  # noise is never "most sensitive"
        hot = {name: HOT[i] for i, name in enumerate(ranked[:TOP_K])}
        cool = pg.colormap.get("viridis")
        names = list(result.curves)
        short = dict(zip(names, (short_layer_name(n, 30) for n in strip_common_prefix(names)), strict=True))
        for i, name in enumerate(names):
            points = [(0.0, result.baseline), *sorted(result.curves[name])]
            xs, ys = np.array(points, dtype=float).T
            if name in hot:
                color = QColor(hot[name])
                pen = pg.mkPen(color, width=2.4)
                extra = {"symbol": "o", "symbolSize": 6, "symbolBrush": color, "symbolPen": None}
            else:  # the robust majority: a quiet cool ramp so the warm lines stand out
                color = cool.map(0.15 + 0.7 * i / max(len(names) - 1, 1), mode="qcolor")
                color.setAlpha(140)
                # dotted: this layer's change is within the evaluation noise at every level
                style = Qt.PenStyle.DotLine if name in noisy else Qt.PenStyle.SolidLine
                pen = pg.mkPen(color, width=1.2, style=style)
                extra = {}
            curve = self.plot(xs, np.maximum(ys, 1e-12) if log_y else ys, pen=pen, **extra)
            curve.setZValue(2 if name in hot else 1)
            self.curves[name], self.colors[name], self._pens[name] = curve, color, pen
            if name in hot:
                self.legend.addItem(curve, short[name])
        others = len(names) - len(hot) - len(noisy)
        if others:
            sample = pg.PlotDataItem(pen=pg.mkPen(cool.map(0.5, mode="qcolor"), width=1.2))
            self.legend.addItem(sample, f"{others} other layer{'s' * (others != 1)}")
        if noisy:
            dotted = pg.mkPen(cool.map(0.5, mode="qcolor"), width=1.2, style=Qt.PenStyle.DotLine)
            self.legend.addItem(pg.PlotDataItem(pen=dotted), f"{len(noisy)} within noise")
        self.baseline_line.show()  # before setFormat: a hidden label ignores text changes
        self.baseline_line.label.setFormat(f"baseline {result.baseline:.4g}")
        self.baseline_line.setValue(np.log10(result.baseline) if log_y else result.baseline)
        # x is a fraction: keep the whole 0..100% axis rather than stopping at the top level
        self.getPlotItem().enableAutoRange(x=False, y=True)
        self.getPlotItem().setXRange(0, 1, padding=0.02)

    def highlight(self, name: str) -> None:
        """Draw one layer's curve thick and on top (`''` restores every curve)."""
        if name == self._highlight:
            return
        if self._highlight in self.curves:
            self.curves[self._highlight].setPen(self._pens[self._highlight])
            self.curves[self._highlight].setZValue(1)
        self._highlight = name
        if name in self.curves:
            self.curves[name].setPen(pg.mkPen(self.colors[name], width=4))
            self.curves[name].setZValue(10)

    def _on_mouse(self, pos: QPointF) -> None:
        vb = self.getPlotItem().vb
        if not self.curves or not vb.sceneBoundingRect().contains(pos):
            return
        x = vb.mapSceneToView(pos).x()
        best, best_px = "", float(HOVER_PX)
        for name, curve in self.curves.items():
            xs, ys = curve.getData()  # view coordinates (log10 already applied in log mode)
            if xs is None or not xs[0] <= x <= xs[-1]:
                continue
            y_px = vb.mapViewToScene(QPointF(x, float(np.interp(x, xs, ys)))).y()
            if abs(y_px - pos.y()) < best_px:
                best, best_px = name, abs(y_px - pos.y())
        self.setToolTip(best)
        self.highlight(best)
        self.hovered.emit(best)
