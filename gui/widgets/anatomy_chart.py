"""Horizontal bar chart of the largest layers by parameter count."""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout, QWidget

TOP_N = 15
BAR_COLOR = "#4a7fc1"


def short_name(name: str, limit: int = 34) -> str:
    """Keep the informative tail of long dotted names: 'model.encoder.layer.0.attention…' -> '…layer.0.attention.self.query'."""
    name = name or "(root)"
    if len(name) <= limit:
        return name
    return "…" + name[-(limit - 1) :]


def top_layers(rows: list[Any], n: int = TOP_N) -> list[Any]:
    """The n rows with most parameters, largest first (ties keep model order)."""
    return sorted((r for r in rows if r.params > 0), key=lambda r: -r.params)[:n]


class AnatomyChart(QWidget):
    """pyqtgraph bars, largest at the top, with layer names on the left axis."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.setTitle(f"Largest {TOP_N} layers by parameters", color="#333", size="10pt")
        self.plot.getAxis("bottom").setLabel("parameters")
        for axis in ("left", "bottom"):
            self.plot.getAxis(axis).setTextPen("#333")
            self.plot.getAxis(axis).setPen("#888")
        self.plot.showGrid(x=True, y=False, alpha=0.25)
        self.bars: pg.BarGraphItem | None = None
        self.names: list[str] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)

    def set_rows(self, rows: list[Any]) -> None:
        """Redraw from a summary's LayerRows."""
        top = top_layers(rows)
        if self.bars is not None:
            self.plot.removeItem(self.bars)
            self.bars = None
        self.names = [r.name for r in top]
        if not top:
            return
        # row 0 (largest) drawn at the top: y runs downward through the list
        ys = list(range(len(top)))[::-1]
        self.bars = pg.BarGraphItem(
            x0=0, y=ys, height=0.7, width=[r.params for r in top], brush=BAR_COLOR, pen=None
        )
        self.plot.addItem(self.bars)
        ticks = [(y, short_name(r.name)) for y, r in zip(ys, top, strict=True)]
        self.plot.getAxis("left").setTicks([ticks, []])
        self.plot.setYRange(-0.6, len(top) - 0.4, padding=0)
        self.plot.setXRange(0, max(r.params for r in top) * 1.05, padding=0)

    def bar_count(self) -> int:
        """Number of bars drawn (for tests and the empty state)."""
        return len(self.names)
