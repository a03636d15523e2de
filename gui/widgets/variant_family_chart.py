"""Bars of ONNX size and p50 latency for a variant next to its parent and siblings."""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout, QWidget

from engine.store import Variant
from gui.widgets.anatomy_chart import short_name
from gui.widgets.plot_export import add_plot_export
from gui.widgets.plot_tables import family_table
from gui.widgets.variant_metrics import onnx_number

CURRENT, OTHER = "#f57c00", "#9bb7dc"


def family(variants: list[Variant], run_id: str) -> list[Variant]:
    """The parent, then the variant and its siblings (children of the same parent), with ONNX."""
    by_id = {v.id: v for v in variants}
    me = by_id.get(run_id)
    if me is None:
        return []
    parent = by_id.get(me.parent or "")
    siblings = [v for v in variants if me.parent and v.parent == me.parent]
    kids = [v for v in variants if v.parent == me.id]
    chosen = ([parent] if parent else []) + (siblings or [me]) + kids
    return [v for v in chosen if onnx_number(v.card, "size_bytes") is not None]


class FamilyChart(QWidget):
    """Two small horizontal bar plots, stacked; the shown variant's bars are orange."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.size_plot = self._plot("ONNX size (MB)")
        self.latency_plot = self._plot("Latency p50 (ms)")
        self.names: list[str] = []
        for plot, what in ((self.size_plot, "size_mb"), (self.latency_plot, "latency_p50_ms")):
            add_plot_export(plot, f"variant family {what}", data=lambda p=plot, w=what: family_table(self, p, w))
        layout = QVBoxLayout(self)  # one above the other: the Export page gives it a narrow tab
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.size_plot)
        layout.addWidget(self.latency_plot)

    @staticmethod
    def _plot(title: str) -> pg.PlotWidget:
        plot = pg.PlotWidget(background="w")
        plot.setMenuEnabled(False)
        plot.setMouseEnabled(x=False, y=False)
        plot.hideButtons()
        plot.setTitle(title, color="#333", size="10pt")
        for axis in ("left", "bottom"):
            plot.getAxis(axis).setTextPen("#333")
            plot.getAxis(axis).setPen("#888")
        plot.showGrid(x=True, y=False, alpha=0.25)
        return plot

    def show_family(self, variants: list[Variant], run_id: str) -> None:
        """Redraw for `run_id` among `variants` (all of the workspace's finished ones)."""
        members = family(variants, run_id)
        self.names = [v.name for v in members]
        for plot, key, scale in (
            (self.size_plot, "size_bytes", 1e-6),
            (self.latency_plot, "latency_ms_p50", 1.0),
        ):
            self._bars(plot, members, [(onnx_number(v.card, key) or 0.0) * scale for v in members], run_id)

    def _bars(self, plot: pg.PlotWidget, members: list[Variant], values: list[float], run_id: str) -> None:
        plot.clear()
        if not members:
            return
        ys = list(range(len(members)))[::-1]  # first member (the parent) at the top
        brushes = [pg.mkBrush(CURRENT if v.id == run_id else OTHER) for v in members]
        plot.addItem(pg.BarGraphItem(x0=0, y=ys, height=0.6, width=values, brushes=brushes, pen=None))
        for y, value in zip(ys, values, strict=True):
            label = pg.TextItem(f"{value:.2f}", color="#333", anchor=(0, 0.5))
            label.setPos(value, y)
            plot.addItem(label)
        ticks: list[tuple[Any, str]] = [
            (y, short_name(v.name, 22)) for y, v in zip(ys, members, strict=True)
        ]
        plot.getAxis("left").setTicks([ticks, []])
        plot.setYRange(-0.6, len(members) - 0.4, padding=0)
        plot.setXRange(0, max(values + [1e-9]) * 1.25, padding=0)  # room for the value labels
