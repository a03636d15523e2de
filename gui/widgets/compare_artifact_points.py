"""Quantized ONNX files as their own points on the Compare plots, tied to their variant's fp32 point.

A finished variant's card lists its deployable files (`card["artifacts"]`): first the fp32
file, then each quantized one, every file measured on its own in onnxruntime (metric over the
validation split, latency p50, size on disk). Each quantized file becomes a point so the user
sees what quantizing bought against the variant's fp32 file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF

from engine.store import Variant
from gui.widgets.compare_pareto_axes import (  # noqa: F401 (AXES, AXIS_LABELS, variant_x: re-exported)
    AXES,
    AXIS_LABELS,
    FP32_KIND,
    artifacts,
    energy_of,
    file_x,
    variant_x,
    x_text,
)
from gui.widgets.compare_pareto_axes import number as _number
from gui.widgets.variant_metrics import metric_value

# one marker per kind, so int8 / int4 / fp16 read apart without colour (the variant is a circle)
KIND_STYLES: dict[str, tuple[str, str, str]] = {  # kind: (label, pyqtgraph symbol, colour)
    "onnx-int8-dynamic": ("int8 dynamic", "t", "#7b1fa2"),
    "onnx-int8-static": ("int8 static", "s", "#00838f"),
    "onnx-int4": ("int4", "d", "#ad1457"),
    "onnx-fp16": ("fp16", "star", "#6d4c41"),
}
OTHER_STYLE = ("quantized", "p", "#546e7a")  # a kind this GUI does not know yet
LINK = (110, 110, 110, 150)  # thin fp32 → quantized line
DIM_ALPHA = 70  # a point off the Pareto front: still there, clearly not a candidate


@dataclass(frozen=True)
class ArtifactPoint:
    """One quantized file on the plot: where it sits, which variant it belongs to, its text."""

    variant: Variant
    kind: str
    x: float
    y: float
    label: str
    tip: str


def kind_style(kind: str) -> tuple[str, str, str]:
    """(label, symbol, colour) of an artifact kind; unknown kinds get a neutral marker."""
    return KIND_STYLES.get(kind, OTHER_STYLE)


def _tip(v: Variant, entry: dict[str, Any], label: str, metric: str, value: float) -> str:
    """Hover text: what the file is, and that its numbers were measured on that ONNX file."""
    lines = [f"{v.name} · {label}", f"{metric}: {value:.4g} (measured by running this ONNX file "
             "in onnxruntime on the validation split)"]
    lat, size = _number(entry, "latency_ms_p50"), _number(entry, "size_bytes")
    if lat is not None:
        lines.append(f"latency p50: {lat:.3g} ms")
    if size is not None:
        lines.append(f"size: {size / 1e6:.3g} MB")
    speed = _number(entry, "speedup_vs_fp32")
    if speed is not None:
        lines.append(f"{speed:.2f}× the speed of its fp32 file (timed side by side)")
    agree = _number(entry, "top1_agreement")
    if agree is not None:
        lines.append(f"top-1 agreement with fp32: {agree:.1%}")
    return "\n".join(lines)


def artifact_points(variants: list[Variant], metric: str, axis: str) -> list[ArtifactPoint]:
    """A point per quantized file of each finished variant that has the metric and the x value."""
    out = []
    for v in variants:
        if v.status != "finished":
            continue
        card = v.card or {}
        energy = energy_of(v) if axis == "energy" else None
        for entry in artifacts(card):
            kind = str(entry.get("kind") or "")
            if kind == FP32_KIND or not kind:
                continue
            x, y = file_x(entry, axis, card, energy), metric_value(entry, metric)
            if x is None or y is None:
                continue
            label = kind_style(kind)[0]
            tip = _tip(v, entry, label, metric, y)
            if axis not in ("latency", "size"):  # the tip names p50 and size already
                tip += "\n" + x_text(axis, x)
            out.append(ArtifactPoint(v, kind, x, y, f"{v.name} · {label}", tip))
    return out


def spots(points: list[ArtifactPoint], selected: str | None,
          dimmed: frozenset[int] = frozenset()) -> list[dict[str, Any]]:
    """ScatterPlotItem spot dicts: the kind's marker, bigger when its variant is selected,
    pale when the point is off the Pareto front (`dimmed` indices)."""
    out = []
    for i, p in enumerate(points):
        _, symbol, colour = kind_style(p.kind)
        big = p.variant.id == selected
        brush = pg.mkColor(colour)
        if i in dimmed:
            brush.setAlpha(DIM_ALPHA)
        out.append({"pos": (p.x, p.y), "data": i, "symbol": symbol, "brush": pg.mkBrush(brush),
                    "pen": pg.mkPen("#f57c00" if big else ((255, 255, 255, DIM_ALPHA) if i in dimmed else "w"),
                                    width=2 if big else 1),
                    "size": 15 if big else 11})
    return out


def make_legend(plot: pg.PlotWidget) -> pg.LegendItem:
    """The plot's corner legend (filled by fill_legend; hidden while no file is plotted)."""
    legend = pg.LegendItem(offset=(-6, 6), labelTextColor="#333", brush=pg.mkBrush(255, 255, 255, 220),
                           pen=pg.mkPen("#bbb"), labelTextSize="8pt", verSpacing=-6)
    legend.setParentItem(plot.getPlotItem().vb)
    legend.setVisible(False)
    return legend


# legend offsets, in order of preference: top-right, top-left, bottom-right, bottom-left
CORNERS = ((-6, 6), (6, 6), (-6, -6), (6, -6))


def legend_corner(legend: pg.LegendItem, points: list[QPointF]) -> tuple[int, int]:
    """The corner (as a legend offset) where the legend covers the fewest points (pixels).

    The top-right corner is preferred; a variant's best files often sit there, and a legend
    over them would hide them, so the legend moves to an emptier corner.
    """
    box = legend.parentItem().sceneBoundingRect()
    w, h, pad = legend.width(), legend.height(), 8.0
    def covered(offset: tuple[int, int]) -> int:
        x = box.right() - w + offset[0] if offset[0] < 0 else box.left() + offset[0]
        y = box.top() + offset[1] if offset[1] > 0 else box.bottom() - h + offset[1]
        area = QRectF(x - pad, y - pad, w + 2 * pad, h + 2 * pad)
        return sum(area.contains(p) for p in points)
    return min(CORNERS, key=covered)  # min keeps the first of equals: top-right when free


def fill_legend(legend: pg.LegendItem, points: list[ArtifactPoint], variants: bool = True) -> None:
    """The variant marker and one entry per artifact kind on the plot.

    Short on purpose (the plot is small at 1024x700); hovering a file's point says that its
    metric was measured by running that ONNX file.
    """
    legend.clear()
    kinds = list(dict.fromkeys(p.kind for p in points))
    legend.setVisible(bool(kinds))
    if not kinds:
        return
    if variants:  # not while the filters leave only quantized files
        legend.addItem(pg.ScatterPlotItem(symbol="o", brush=pg.mkBrush("#4a7fc1"), pen=pg.mkPen("w"),
                                          size=10), "variant (fp32)")
    for kind in kinds:
        label, symbol, colour = kind_style(kind)
        sample = pg.ScatterPlotItem(symbol=symbol, brush=pg.mkBrush(colour), pen=pg.mkPen("w"), size=10)
        legend.addItem(sample, f"{label} file")
