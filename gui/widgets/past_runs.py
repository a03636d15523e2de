"""Past runs' loss and metric curves, drawn under the live ones in one colour per run.

They stay out of the plots' legends (the run history list shows each run's colour):
a legend entry per run and metric would cover the plots.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from engine.metrics_log import MetricsLog
from gui.widgets.curve_math import ema
from gui.widgets.curve_specs import (
    HISTORY_COLORS,
    LOSS_PART,
    SETUP_PLOTS,
    STEP_CURVES,
    is_curve,
    plot_key,
)

Entry = tuple[str, np.ndarray, np.ndarray, pg.PlotDataItem]  # metric name, steps, values, item


class PastRunCurves:
    """The overlaid runs of a set of plots (plot key -> PlotWidget)."""

    def __init__(self, plots: dict[str, pg.PlotWidget]):
        self.plots = plots
        self.runs: dict[str, list[Entry]] = {}

    def show(self, run_id: str, log: MetricsLog, smoothing: float) -> str:
        """Draw a run's loss and validation curves; returns the colour it got."""
        self.hide(run_id)
        used = {entries[0][3].opts["pen"].color().name() for entries in self.runs.values() if entries}
        color = next((c for c in HISTORY_COLORS if c not in used), HISTORY_COLORS[len(self.runs) % len(HISTORY_COLORS)])
        entries: list[Entry] = []
        for name, (x, y) in log.series.items():
            if not is_curve(name) or name in STEP_CURVES or plot_key(name) in ("sparsity", *SETUP_PLOTS) \
                    or name.startswith(LOSS_PART):  # a past run's total loss is enough
                continue
            style = Qt.PenStyle.SolidLine if name == "train/loss" else Qt.PenStyle.DashLine
            item = self.plots[plot_key(name)].plot(
                [], [], pen=pg.mkPen(color, width=1.5, style=style), symbolSize=5, symbolBrush=color, symbolPen=None,
            )  # fmt: skip
            item.setOpacity(0.8)
            item.opts["name"] = f"{run_id} {name}"  # its CSV columns (no legend entry)
            entries.append((name, x, y, item))
        self.runs[run_id] = entries
        self._draw(entries, smoothing)
        return color

    def hide(self, run_id: str) -> None:
        """Take a run's curves off the plots."""
        for name, _x, _y, item in self.runs.pop(run_id, []):
            self.plots[plot_key(name)].getPlotItem().removeItem(item)

    def redraw(self, smoothing: float) -> None:
        """Draw every run again (the smoothing changed)."""
        for entries in self.runs.values():
            self._draw(entries, smoothing)

    def data(self, key: str) -> list[tuple[np.ndarray, np.ndarray]]:
        """(steps, values) of every overlaid curve in plot `key` (for fitting its range)."""
        return [(x, y) for entries in self.runs.values() for n, x, y, _ in entries if plot_key(n) == key]

    @staticmethod
    def _draw(entries: list[Entry], smoothing: float) -> None:
        for _name, x, y, item in entries:
            item.setData(x, ema(y, smoothing))
            item.setSymbol("o" if len(x) == 1 else None)  # a lone point of a line would not show
