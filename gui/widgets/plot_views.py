"""pyqtgraph set-up for the live plots: the light theme, a titled plot over steps, its auto range."""

from __future__ import annotations

import pyqtgraph as pg

from gui.widgets.curve_specs import PLOT_TITLES
from gui.widgets.plot_export import add_plot_export


def use_light_theme() -> None:
    """White plots with black text, antialiased (set before creating plot widgets)."""
    pg.setConfigOptions(antialias=True, background="w", foreground="k")


def step_plot(key: str) -> pg.PlotWidget:
    """The plot for `key` (a PLOT_TITLES key): grid, see-through legend, x axis in steps."""
    pw = pg.PlotWidget(title=PLOT_TITLES[key])
    item = pw.getPlotItem()
    item.setDownsampling(auto=True, mode="peak")
    item.setClipToView(True)
    item.showGrid(x=True, y=True, alpha=0.25)
    # sparsity rises from bottom left to top right, where the announced target runs
    # ahead of the run: its legend goes bottom right to keep that part in view
    offset = (-10, -10) if key == "sparsity" else (-10, 10)
    # see-through: in a small plot the legend sits on the curves, which must show through
    item.addLegend(offset=offset, labelTextSize="8pt", brush=(255, 255, 255, 110), verSpacing=-6)
    item.getAxis("bottom").setLabel("step")
    pw.setMinimumHeight(110)
    add_plot_export(pw, f"run {PLOT_TITLES[key]}")  # curves as set: CSVExporter
    return pw


def auto_range(pw: pg.PlotWidget, key: str) -> None:
    """Fit the plot to its data again (sparsity keeps its fixed 0..1)."""
    vb = pw.getPlotItem().vb
    if key == "sparsity":
        vb.enableAutoRange(x=True, y=False)
        vb.setYRange(0, 1, padding=0.05)
    else:
        vb.enableAutoRange(x=True, y=True)
