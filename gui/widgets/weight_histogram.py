"""|w| histogram of one pruned layer: its dense weights before pruning against now.

Events only replace the latest histogram per (layer, phase); `redraw` (called by the
live plots' ~20 Hz timer) draws the selected layer when something changed, so a run
with many layers updating at once costs one draw per tick, not one per event.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from engine.events import WeightHistogram
from gui.widgets.layer_names import short_layer_name
from gui.widgets.plot_export import add_plot_export

BEFORE_PEN, BEFORE_FILL = "#9e9e9e", (158, 158, 158, 70)
NOW_PEN, NOW_FILL = "#d62728", (214, 39, 40, 80)
WAITING = "waiting for the pruning step…"


def zero_fraction(ev: WeightHistogram) -> float:
    """Share of the layer's weights that are exactly zero (zeros are kept out of the bins)."""
    total = ev.zeros + sum(ev.counts)
    return ev.zeros / total if total else 0.0


def zeros_caption(now: WeightHistogram | None, before: WeightHistogram | None) -> str:
    """'zeros: 49.8% (before 0.0%)', or what is known so far."""
    if now is not None and before is not None:
        return f"zeros: {zero_fraction(now):.1%} (before {zero_fraction(before):.1%})"
    if now is not None:
        return f"zeros: {zero_fraction(now):.1%}"
    if before is not None:
        return f"zeros before pruning: {zero_fraction(before):.1%}"
    return ""


def _heights(ev: WeightHistogram, per_width: bool) -> np.ndarray:
    counts = np.asarray(ev.counts, dtype=float)
    if not per_width:
        return counts
    # different bins for before and now: compare densities, not raw counts
    widths = np.diff(np.asarray(ev.edges, dtype=float))
    return np.divide(counts, widths, out=np.zeros_like(counts), where=widths > 0)


class WeightHistogramView(QWidget):
    """Layer selector, before (grey) vs now (red) step histograms, and the zeros caption."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.latest: dict[tuple[str, str], WeightHistogram] = {}  # (layer, phase) -> newest
        self._new_layers: list[str] = []  # seen by on_event, added to the combo on the tick
        self._known: set[str] = set()
        self._dirty = False
        self.redraws = 0

        self.combo = QComboBox()
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(10)
        self.combo.setToolTip("pruned layer to show")
        self.combo.currentIndexChanged.connect(self._layer_chosen)
        self.caption = QLabel()
        self.caption.setStyleSheet("color: #444;")
        head = QHBoxLayout()
        head.setContentsMargins(6, 0, 6, 0)
        title = QLabel("<b>|w| of</b>")
        title.setToolTip("weight magnitudes of the chosen layer: dense (before) against now")
        head.addWidget(title)
        head.addWidget(self.combo, 1)
        head.addWidget(self.caption)

        self.plot = pg.PlotWidget()
        item = self.plot.getPlotItem()
        item.showGrid(x=True, y=True, alpha=0.25)
        item.hideButtons()
        item.getAxis("bottom").setLabel("|w| (log10)")
        item.getAxis("left").setLabel("weights")
        # top left: |w| mass sits to the right on a log axis, the left tail stays low
        item.addLegend(offset=(10, 10), labelTextSize="8pt", brush=(255, 255, 255, 210))
        # fill to 0 under each step curve: the overlap of the two shapes is the story
        self.before_curve = self.plot.plot(
            [], [], stepMode="center", fillLevel=0, pen=pg.mkPen(BEFORE_PEN, width=1.5),
            brush=BEFORE_FILL, name="before",
        )  # fmt: skip
        self.now_curve = self.plot.plot(
            [], [], stepMode="center", fillLevel=0, pen=pg.mkPen(NOW_PEN, width=2),
            brush=NOW_FILL, name="now",
        )  # fmt: skip
        self._empty = pg.TextItem(WAITING, color="#888", anchor=(0.5, 0.5))
        self.plot.addItem(self._empty)
        self.plot.setMinimumHeight(120)
        add_plot_export(self.plot, lambda: f"weight histogram {self.layer() or ''}")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(head)
        layout.addWidget(self.plot, 1)
        self._show_empty(True)

    # -- feeding ------------------------------------------------------------------
    def on_event(self, event: object) -> None:
        """Keep a WeightHistogram as the latest of its (layer, phase); drawn on the next tick."""
        if not isinstance(event, WeightHistogram):
            return
        self.latest[(event.layer, event.phase)] = event
        if event.layer not in self._known:
            self._known.add(event.layer)
            self._new_layers.append(event.layer)
        if event.layer == self.layer() or self.layer() is None:
            self._dirty = True

    def reset(self) -> None:
        """Forget the previous run's histograms and layers."""
        self.latest.clear()
        self._new_layers.clear()
        self._known.clear()
        self.combo.blockSignals(True)
        self.combo.clear()
        self.combo.blockSignals(False)
        self._dirty = True
        self.redraw()

    def set_waiting(self, text: str) -> None:
        """What the empty plot says until the first histogram arrives."""
        self._empty.setText(text)

    # -- selection ----------------------------------------------------------------
    def layer(self) -> str | None:
        """Full name of the selected layer (None before any histogram arrived)."""
        return self.combo.currentData()

    def layers(self) -> list[str]:
        """Layers in the selector, in the order they appeared."""
        return [self.combo.itemData(i) for i in range(self.combo.count())]

    def select_layer(self, name: str) -> None:
        """Show `name` (a layer in the selector)."""
        self.combo.setCurrentIndex(self.combo.findData(name))

    def _layer_chosen(self, _index: int) -> None:
        self._dirty = True
        self.redraw()  # a click deserves an answer now, not on the next tick

    # -- drawing ------------------------------------------------------------------
    def redraw(self) -> None:
        """Add new layers to the selector; redraw the selected layer if it changed."""
        if self._new_layers:
            self.combo.blockSignals(True)  # the first layer becomes current: draw it below
            for name in self._new_layers:
                self.combo.addItem(short_layer_name(name, limit=40), name)
                self.combo.setItemData(self.combo.count() - 1, name, Qt.ItemDataRole.ToolTipRole)
            self._new_layers.clear()
            self.combo.blockSignals(False)
        if not self._dirty:
            return
        self._dirty = False
        self.redraws += 1
        layer = self.layer()
        before = self.latest.get((layer, "before")) if layer else None
        now = self.latest.get((layer, "now")) if layer else None
        per_width = bool(before and now and before.edges != now.edges)
        for curve, ev in ((self.before_curve, before), (self.now_curve, now)):
            if ev is None or not ev.counts:
                curve.setData([], [])
            else:
                curve.setData(np.asarray(ev.edges, dtype=float), _heights(ev, per_width))
        shown = next((ev for ev in (now, before) if ev is not None), None)
        if shown is not None:
            self.plot.getAxis("bottom").setLabel("|w| (log10)" if shown.log else "|w|")
            self.plot.getAxis("left").setLabel(
                "weights per decade" if per_width and shown.log else "weights per unit"
                if per_width else "weights"
            )
        self._set_legend(before, now)
        self.caption.setText(zeros_caption(now, before))
        self._show_empty(shown is None)
        if shown is not None:
            self.plot.getPlotItem().enableAutoRange()

    def _set_legend(self, before: WeightHistogram | None, now: WeightHistogram | None) -> None:
        legend = self.plot.getPlotItem().legend
        for curve, text in (
            (self.before_curve, "before" if before else None),
            (self.now_curve, f"now (step {now.step})" if now else None),
        ):
            legend.removeItem(curve)
            if text:
                legend.addItem(curve, text)

    def _show_empty(self, empty: bool) -> None:
        self._empty.setVisible(empty)
        if empty:
            self.plot.setXRange(0, 1, padding=0)
            self.plot.setYRange(0, 1, padding=0)
            self._empty.setPos(0.5, 0.5)
