"""The Run page's training-setup row: gradient norm, throughput, peak memory, fp16 loss scale.

Under the loss and metric plots. A plot appears when its first value arrives (the loss
scale only for fp16 runs, memory labelled GPU-allocated or process RSS by what the run
measured), so a run without these metrics (older runs replayed) shows no empty plots.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QWidget

from engine.events import Metric
from gui.widgets.curve_specs import PLOT_TITLES, SETUP_PLOTS, SKIPPED_STEPS

ROW_HEIGHT = 120  # smaller than the loss plots: these are read at a glance


class SetupRow(QWidget):
    """The setup plots (made by LivePlots, keyed as in SETUP_PLOTS) in one row."""

    def __init__(self, plots: dict[str, pg.PlotWidget], parent: QWidget | None = None):
        super().__init__(parent)
        self.views = {key: plots[key] for key in SETUP_PLOTS}
        self.shown: set[str] = set()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        for view in self.views.values():
            view.setMinimumHeight(ROW_HEIGHT)
            layout.addWidget(view, 1)
            view.hide()

    def on_curve(self, key: str) -> bool:
        """A curve of plot `key` got its first point: show that plot; True when it was new."""
        if key not in self.views or key in self.shown:
            return False
        self.shown.add(key)
        self.views[key].show()
        return True

    def on_event(self, event: object) -> None:
        """The fp16 skipped-step count goes into the loss-scale plot's title."""
        if isinstance(event, Metric) and event.name == SKIPPED_STEPS:
            n = int(event.value)
            title = PLOT_TITLES["scale"] + (f" · {n} step{'s' * (n != 1)} skipped" if n else "")
            self.views["scale"].setTitle(title)

    def place(self, grid: QGridLayout, row: int) -> None:
        """Put the row in `grid` (full width) while any of its plots has data, else take it out."""
        if self.shown:
            grid.addWidget(self, row, 0, 1, 6)
            grid.setRowStretch(row, 1)
            self.setVisible(True)
        else:
            grid.removeWidget(self)
            grid.setRowStretch(row, 0)
            self.setVisible(False)

    def reset(self) -> None:
        """A new run: every plot hidden until its metric arrives again."""
        self.shown.clear()
        for view in self.views.values():
            view.hide()
        self.views["scale"].setTitle(PLOT_TITLES["scale"])
