"""Latency and throughput curves of the batch × sequence sweep, PyTorch vs each ONNX artifact.

Left: p50 latency (solid) and p95 (dashed) against batch; right: samples/s against batch. One
colour per artifact, one marker per sequence length.
"""

from __future__ import annotations

import math
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QBoxLayout, QLabel, QVBoxLayout, QWidget

from gui.widgets.profile_part import ARTIFACT_COLORS, ProfilePart, static_plot

SYMBOLS = ("o", "s", "t", "d", "+", "x")
SIDE_BY_SIDE = 700  # px: narrower, the two plots stack
FIELDS = ["artifact", "batch", "seq", "p50_ms", "p95_ms", "samples_per_s"]


def curves(latency: list[dict[str, Any]]) -> dict[tuple[str, Any], list[dict[str, Any]]]:
    """Sweep points per (artifact, seq), each sorted by batch; artifacts in first-seen order."""
    out: dict[tuple[str, Any], list[dict[str, Any]]] = {}
    for point in latency:
        out.setdefault((str(point["artifact"]), point.get("seq")), []).append(point)
    return {key: sorted(points, key=lambda p: p["batch"]) for key, points in out.items()}


def _plot(y_label: str) -> pg.PlotWidget:
    plot = static_plot(left=y_label, bottom="batch", fixed=False)
    plot.showGrid(x=True, y=True, alpha=0.25)
    return plot


class LatencyChart(ProfilePart):
    """p50/p95 latency and samples/s against batch, for every artifact and sequence length."""

    stem = "latency"
    title = "Latency and throughput (batch × sequence sweep)"

    def __init__(self, parent: QWidget | None = None):
        box = QWidget()
        self.latency_plot = _plot("latency (ms)")
        self.throughput_plot = _plot("samples/s")
        self.key = QLabel()
        self.key.setWordWrap(True)
        self.key.setTextFormat(Qt.TextFormat.RichText)
        self.plots = plots = QBoxLayout(QBoxLayout.Direction.LeftToRight)
        plots.setContentsMargins(0, 0, 0, 0)
        plots.addWidget(self.latency_plot)
        plots.addWidget(self.throughput_plot)
        col = QVBoxLayout(box)
        col.setContentsMargins(0, 0, 0, 0)
        col.addLayout(plots, 1)
        col.addWidget(self.key)
        super().__init__(box, parent)
        # (artifact, seq, "p50"|"p95"|"samples/s") -> (batches, values) as drawn
        self.drawn: dict[tuple[str, Any, str], tuple[list[float], list[float]]] = {}

    def draw(self, record: dict[str, Any]) -> str:
        self.latency_plot.clear()
        self.throughput_plot.clear()
        self.drawn = {}
        latency = record.get("latency") or []
        if not latency:
            return "no batch × sequence sweep in this profile (set its batches and lengths and profile again)."
        groups = curves(latency)
        artifacts = list(dict.fromkeys(a for a, _s in groups))
        seqs = list(dict.fromkeys(s for _a, s in groups))
        batches = [p["batch"] for p in latency]
        log_x = min(batches) > 0 and max(batches) / min(batches) >= 8
        ticks = [(math.log10(b) if log_x else b, str(b)) for b in sorted(set(batches))]
        for plot in (self.latency_plot, self.throughput_plot):
            plot.setLogMode(x=log_x, y=False)
            plot.getAxis("bottom").setTicks([ticks, []])  # the swept batches, not 1.5 or 2.5
        for (artifact, seq), points in groups.items():
            color = ARTIFACT_COLORS[artifacts.index(artifact) % len(ARTIFACT_COLORS)]
            symbol = SYMBOLS[seqs.index(seq) % len(SYMBOLS)]
            xs = [float(p["batch"]) for p in points]
            for name, plot, style in (("p50_ms", self.latency_plot, Qt.PenStyle.SolidLine),
                                      ("p95_ms", self.latency_plot, Qt.PenStyle.DashLine),
                                      ("samples_per_s", self.throughput_plot, Qt.PenStyle.SolidLine)):
                ys = [float(p[name]) for p in points if p.get(name) is not None]
                if len(ys) != len(xs):
                    continue
                pen = pg.mkPen(color, width=2, style=style)
                plot.plot(xs, ys, pen=pen, symbol=symbol, symbolSize=6 if name != "p95_ms" else 0,
                          symbolBrush=color, symbolPen=None)
                self.drawn[(artifact, seq, name)] = (xs, ys)
        self.key.setText(self._key(artifacts, seqs))
        return ""

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        # side by side when wide, one above the other on a narrow window (1024 px and settings)
        wide = event.size().width() >= SIDE_BY_SIDE
        self.plots.setDirection(QBoxLayout.Direction.LeftToRight if wide else QBoxLayout.Direction.TopToBottom)
        super().resizeEvent(event)

    @staticmethod
    def _key(artifacts: list[str], seqs: list[Any]) -> str:
        colours = "  ".join(f"<span style='color:{ARTIFACT_COLORS[i % len(ARTIFACT_COLORS)]}'>━</span> {a}"
                            for i, a in enumerate(artifacts))
        marks = {"o": "●", "s": "■", "t": "▲", "d": "◆", "+": "+", "x": "×"}
        symbols = "  ".join(f"{marks[SYMBOLS[i % len(SYMBOLS)]]} seq {s}" for i, s in enumerate(seqs))
        return (f"{colours}<br>{symbols}<br><span style='color:#666'>"
                "latency: solid p50, dashed p95</span>")

    def csv_table(self) -> tuple[list[str], list[list[Any]]]:
        latency = (self.record or {}).get("latency") or []
        return FIELDS, [[p.get(k) for k in FIELDS] for p in latency]
