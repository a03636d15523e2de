"""Time per layer next to its FLOPs: the slowest layers as bars coloured by their verdict.

Each bar is a layer's measured time; the text at its end gives its share of the model's FLOPs,
and a layer whose time share is far above its FLOP share is marked "slow for its FLOPs".
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from gui.widgets.anatomy_chart import common_prefix
from gui.widgets.layer_names import short_layer_name
from gui.widgets.profile_part import (
    BOUND_COLORS,
    ProfilePart,
    bound_color,
    fmt_ms,
    fmt_share,
    static_plot,
)

TOP_N = 12
TICK_CHARS = 22
SLOW_RATIO = 2.0  # time share ≥ 2 × FLOP share: the layer is slow for the work it does


def flop_shares(layers: list[dict[str, Any]]) -> dict[str, float]:
    """Each layer's fraction of the summed layer FLOPs (0 when the model counts none)."""
    total = sum(layer.get("flops") or 0 for layer in layers)
    return {layer["name"]: (layer.get("flops") or 0) / total if total else 0.0 for layer in layers}


def slow_for_flops(layer: dict[str, Any], flop_share: float, time_total: float) -> bool:
    """True when the layer takes a much larger share of the time than of the FLOPs."""
    time_share = (layer.get("time_ms") or 0) / time_total if time_total else 0.0
    return time_share >= 0.05 and time_share >= SLOW_RATIO * flop_share


class LayerTimeChart(ProfilePart):
    """Horizontal bars of the TOP_N slowest layers, slowest at the top."""

    stem = "time_per_layer"
    title = f"Time per layer vs FLOPs (slowest {TOP_N})"

    def __init__(self, parent: QWidget | None = None):
        box = QWidget()
        self.plot = static_plot(bottom="measured time (ms)")
        self.plot.showGrid(x=True, y=False, alpha=0.25)
        self.legend = QLabel(" ".join(
            f"<span style='color:{c}'>■</span> {b + '-bound' if b != 'unknown' else b}"
            for b, c in BOUND_COLORS.items()))
        self.legend.setStyleSheet("color: #555;")
        self.total = QLabel()
        self.total.setWordWrap(True)
        self.total.setStyleSheet("color: #555;")
        col = QVBoxLayout(box)
        col.setContentsMargins(0, 0, 0, 0)
        col.addWidget(self.plot, 1)
        col.addWidget(self.legend)
        col.addWidget(self.total)
        super().__init__(box, parent)
        self.bars: pg.BarGraphItem | None = None
        self.names: list[str] = []
        self.times: list[float] = []
        self.labels: list[str] = []  # the text at each bar's end, top bar first
        self.slow: list[str] = []  # layers marked slow for their FLOPs

    def draw(self, record: dict[str, Any]) -> str:
        self.plot.clear()
        self.bars, self.names, self.times, self.labels, self.slow = None, [], [], [], []
        layers = [x for x in record.get("layers") or [] if (x.get("time_ms") or 0) > 0]
        if not layers:
            return "no per-layer times in this profile (the profiler saw no layer calls)."
        shares = flop_shares(layers)
        time_total = sum(x["time_ms"] for x in layers)
        top = sorted(layers, key=lambda x: -x["time_ms"])[:TOP_N]
        ys = list(range(len(top)))[::-1]  # slowest drawn at the top
        self.bars = pg.BarGraphItem(x0=0, y=ys, height=0.7, width=[x["time_ms"] for x in top],
                                    brushes=[bound_color(x.get("bound")) for x in top], pen=None)
        self.plot.addItem(self.bars)
        longest = top[0]["time_ms"]
        for y, layer in zip(ys, top, strict=True):
            slow = slow_for_flops(layer, shares[layer["name"]], time_total)
            text = f"{fmt_ms(layer['time_ms'])} · {fmt_share(shares[layer['name']])} FLOPs" + (" ◀ slow" if slow else "")
            item = pg.TextItem(text, color="#c62828" if slow else "#333", anchor=(0, 0.5))
            item.setPos(layer["time_ms"], y)
            self.plot.addItem(item)
            self.names.append(layer["name"])
            self.times.append(layer["time_ms"])
            self.labels.append(text)
            if slow:
                self.slow.append(layer["name"])
        prefix = common_prefix([x["name"] for x in top])
        ticks = [(y, short_layer_name(x["name"].removeprefix(prefix) or "(root)", TICK_CHARS))
                 for y, x in zip(ys, top, strict=True)]
        axis = self.plot.getAxis("left")
        axis.setTicks([ticks, []])
        # sized now from the names: pyqtgraph widens the axis only after a first paint, so an
        # export or a screenshot taken at once cut the names off
        metrics = QFontMetrics(axis.style.get("tickFont") or self.plot.font())
        axis.setWidth(max(metrics.horizontalAdvance(t) for _y, t in ticks) + 16)
        self.plot.setYRange(-0.6, len(top) - 0.4, padding=0)
        self.plot.setXRange(0, longest * 1.7, padding=0)  # room for the labels at the bar ends
        self._total_line(record, time_total)
        return ""

    def _total_line(self, record: dict[str, Any], time_total: float) -> None:
        whole = record.get("whole_ms")
        text = f"Layers sum to {fmt_ms(time_total)}"
        if whole:
            text += f" of {fmt_ms(whole)} measured for the whole model ({time_total / whole:.0%})"
        self.total.setText(text + "; ◀ slow: a far larger share of the time than of the FLOPs.")

    def csv_table(self) -> tuple[list[str], list[list[Any]]]:
        header = ["name", "type", "group", "time_ms", "share", "flops", "flop_share", "bytes_moved",
                  "gflops", "intensity", "bound", "slow_for_flops"]
        layers = (self.record or {}).get("layers") or []
        shares = flop_shares(layers)
        time_total = sum(x.get("time_ms") or 0 for x in layers)
        rows = [[x.get("name"), x.get("type"), x.get("group"), x.get("time_ms"), x.get("share"),
                 x.get("flops"), round(shares[x["name"]], 6), x.get("bytes_moved"), x.get("gflops"),
                 x.get("intensity"), x.get("bound"), slow_for_flops(x, shares[x["name"]], time_total)]
                for x in sorted(layers, key=lambda x: -(x.get("time_ms") or 0))]
        return header, rows
