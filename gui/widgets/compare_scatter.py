"""Scatter of a metric against a cost (latency, size, params, FLOPs, energy): a point per variant
and per quantized file, the Pareto front drawn through the best trade-offs, filters above."""

from __future__ import annotations

import math
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtWidgets import QLabel, QStackedWidget, QVBoxLayout, QWidget

from engine.fair_parent import comparison_parents
from engine.store import Variant
from gui.widgets.compare_artifact_points import (
    AXIS_LABELS,
    DIM_ALPHA,
    FP32_KIND,
    LINK,
    ArtifactPoint,
    artifact_points,
    energy_of,
    fill_legend,
    kind_style,
    legend_corner,
    make_legend,
    variant_x,
    x_text,
)
from gui.widgets.compare_artifact_points import (
    spots as artifact_spots,
)
from gui.widgets.compare_labels import LabelLayer, LabelSpec
from gui.widgets.compare_pareto_filters import ParetoFilters
from gui.widgets.compare_pareto_front import Front, front_line, front_note, front_of, summary
from gui.widgets.compare_teacher_edges import teacher_edges
from gui.widgets.variant_metrics import metric_label, metric_value

NO_POINTS = ("No finished variant with an ONNX latency yet.\n"
             "Variants appear here once a run exports to ONNX (Export page or recipe export).")
NO_MATCH = "No plotted variant or file matches the filters above; set one back to 'all' or 'any'."
POINT = "#4a7fc1"
SELECTED = "#f57c00"
EDGE = (120, 120, 120, 160)
CONTROL_EDGE = (46, 125, 50, 200)  # dense fine-tuned control → child: the fair comparison


def plot_points(variants: list[Variant], metric: str, axis: str = "latency") -> list[tuple[Variant, float, float]]:
    """(variant, x, metric) for finished variants that have both numbers (x on `axis`)."""
    out = []
    for v in variants:
        if v.status != "finished":
            continue
        energy = energy_of(v) if axis == "energy" else None
        lat, value = variant_x(v.card or {}, axis, energy), metric_value(v.card, metric)
        if lat is not None and value is not None:
            out.append((v, lat, value))
    return out


class CompareScatter(QWidget):
    """Emits `clicked(run_id)` when a point is clicked; `select(id)` highlights one."""

    clicked = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setMenuEnabled(False)
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        for axis in ("left", "bottom"):
            self.plot.getAxis(axis).setTextPen("#333")
            self.plot.getAxis(axis).setPen("#888")
            # "(x0.001)" axis prefixes confuse more than they help for ms and accuracies
            self.plot.getAxis(axis).enableAutoSIPrefix(False)
        self.plot.setLabel("bottom", "ONNX latency p50 (ms, lower is better)", color="#333")
        self.scatter = pg.ScatterPlotItem(size=12, pen=pg.mkPen("w", width=1.5), hoverable=True,
                                          tip=self._variant_tip)
        self.scatter.sigClicked.connect(self._point_clicked)
        self.plot.addItem(self.scatter)
        # quantized ONNX files: their own markers, hover text says where the metric came from
        self.artifact_scatter = pg.ScatterPlotItem(hoverable=True, tip=self._artifact_tip)
        self.artifact_scatter.sigClicked.connect(self._artifact_clicked)
        self.plot.addItem(self.artifact_scatter)
        self.artifact_points: list[ArtifactPoint] = []
        self.labels = LabelLayer(self.plot)  # placed so that none overlaps another
        self._metric, self._axis = "", "latency"  # what the hover text of a variant names
        self.legend = make_legend(self.plot)
        self.labels.keep_clear_of(self.legend)
        self.plot.getViewBox().sigResized.connect(self._place_legend)
        self.plot.getViewBox().sigRangeChanged.connect(self._place_legend)
        self.legend.geometryChanged.connect(self._place_legend)
        self._extra: list[Any] = []  # labels, edges and arrows, rebuilt on every refresh
        self.points: list[tuple[Variant, float, float]] = []
        self._selected: str | None = None
        self._arrows: list[tuple[pg.ArrowItem, tuple[float, float], tuple[float, float]]] = []
        # arrow heads are drawn in pixels, so their angle follows the view's aspect
        self.plot.getViewBox().sigTransformChanged.connect(self._orient_arrows)

        self.empty = QLabel(NO_POINTS)
        self.empty.setStyleSheet("color: #666; font-size: 11pt;")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setMargin(24)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.plot)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.filters = ParetoFilters()  # Pareto front toggle, family / method / target filters
        self.filters.changed.connect(self._redraw)
        layout.addWidget(self.filters)
        layout.addWidget(self.stack, 1)
        self.front: Front | None = None
        self.front_curve: Any = None
        self._variants: list[Variant] = []

    def set_variants(self, variants: list[Variant], metric: str, axis: str = "latency") -> None:
        """Redraw for `metric` (accuracy / perplexity / loss) against `axis` (an AXES key)."""
        self._variants, self._metric, self._axis = list(variants), metric, axis
        self.filters.fill(self._variants)
        self._redraw()

    def _redraw(self) -> None:
        """Plot the points the filters keep, and the Pareto front through them."""
        for item in self._extra:
            self.plot.removeItem(item)
        self._extra.clear()
        variants, metric, axis = self._variants, self._metric, self._axis
        every = plot_points(variants, metric, axis)
        files = artifact_points(variants, metric, axis)
        keep = self.filters.keep
        self.points = [p for p in every if keep(p[0], FP32_KIND)]
        self.artifact_points = [p for p in files if keep(p.variant, p.kind)]
        hidden = len(every) + len(files) - len(self.points) - len(self.artifact_points)
        self.empty.setText(NO_MATCH if hidden else NO_POINTS)
        self.stack.setCurrentIndex(1 if self.points or self.artifact_points else 0)
        self.plot.setLabel("bottom", AXIS_LABELS[axis], color="#333")
        self.plot.setLabel("left", metric_label(metric), color="#333")
        where = {v.id: (x, y) for v, x, y in self.points}
        fair = comparison_parents(variants)
        self._arrows = []
        for v, x, y in self.points:
            if v.parent in where:  # parent → child: the line plus an arrow head at its middle
                px, py = where[v.parent]
                self._add(pg.PlotCurveItem([px, x], [py, y], pen=pg.mkPen(EDGE, width=1)))
                arrow = pg.ArrowItem(headLen=13, tipAngle=30, pen=None, brush=EDGE)
                self._add(arrow)
                self._arrows.append((arrow, (px, py), (x, y)))
            control, kind = fair.get(v.id, (None, "parent"))
            if kind == "control" and control is not None and control.id in where:
                # the fair parent the deltas use: dashed, so it never reads as the lineage
                cx, cy = where[control.id]
                self._add(pg.PlotCurveItem([cx, x], [cy, y], pen=pg.mkPen(CONTROL_EDGE, width=1.5,
                                                                            style=Qt.PenStyle.DashLine)))
        for edge in teacher_edges(self.points):  # a teacher that is not the parent: dotted purple
            self._add(edge)
        self._draw_artifacts(where)
        self._draw_front(hidden)
        self._draw_points()
        if self.points or self.artifact_points:
            self._fit()
        self._place_legend()
        self._orient_arrows()

    def _fit(self) -> None:
        """Pad the view so labels fit, and never let equal values collapse the range."""
        xs = [x for _, x, _ in self.points] + [p.x for p in self.artifact_points]
        ys = [y for _, _, y in self.points] + [p.y for p in self.artifact_points]

        def span(lo: float, hi: float) -> tuple[float, float]:
            width = max(hi - lo, abs(hi) * 0.1, 1e-3)
            return lo - width * 0.15, hi + width * 0.15

        x0, x1 = span(min(xs), max(xs))
        y0, y1 = span(min(ys), max(ys))
        self.plot.setXRange(x0, x1 + (x1 - x0) * 0.15, padding=0)  # room for the labels
        self.plot.setYRange(y0, y1 + (y1 - y0) * 0.08, padding=0)

    def _draw_front(self, hidden: int) -> None:
        """The step line through the front; the points off it are dimmed by _draw_points."""
        self.front = self.front_curve = None
        if self.filters.show_front() and (self.points or self.artifact_points):
            self.front = front_of(self.points, self.artifact_points, self._metric)
            self.front_curve = front_line(self.front)
            self._add(self.front_curve)
            if self.front.size() > 1:  # a line to name (one point on the front draws none)
                self.legend.addItem(self.front_curve, "Pareto front")
                self.legend.setVisible(True)
        shown = len(self.points) + len(self.artifact_points)
        self.filters.summary.setText(summary(self.front, shown, hidden))

    def _orient_arrows(self, *_: Any) -> None:
        vb = self.plot.getViewBox()
        for arrow, (px, py), (x, y) in self._arrows:
            a, b = vb.mapViewToDevice(QPointF(px, py)), vb.mapViewToDevice(QPointF(x, y))
            if a is None or b is None:
                continue
            # ArrowItem points left at angle 0 and rotates clockwise on screen
            angle = math.degrees(math.atan2(-(b.y() - a.y()), -(b.x() - a.x())))
            arrow.setStyle(angle=angle)
            arrow.setPos(px + (x - px) * 0.55, py + (y - py) * 0.55)

    def _add(self, item: Any) -> None:
        self.plot.addItem(item)
        self._extra.append(item)

    def _draw_points(self) -> None:
        dim = self.front.dim_variants if self.front else frozenset()
        spots = []
        for i, (v, x, y) in enumerate(self.points):
            colour = pg.mkColor(SELECTED if v.id == self._selected else POINT)
            if i in dim:  # off the front: pale, still clickable
                colour.setAlpha(DIM_ALPHA)
            spots.append({"pos": (x, y), "data": v.id, "brush": pg.mkBrush(colour),
                          "pen": pg.mkPen((255, 255, 255, DIM_ALPHA) if i in dim else "w", width=1.5),
                          "size": 16 if v.id == self._selected else 12})
        self.scatter.setData(spots)
        dim_files = self.front.dim_files if self.front else frozenset()
        self.artifact_scatter.setData(artifact_spots(self.artifact_points, self._selected, dim_files))
        self._label_points()

    def _draw_artifacts(self, where: dict[str, tuple[float, float]]) -> None:
        """Thin line from each variant's fp32 point to its quantized files, and the legend."""
        for p in self.artifact_points:
            if p.variant.id in where:
                vx, vy = where[p.variant.id]
                self._add(pg.PlotCurveItem([vx, p.x], [vy, p.y], pen=pg.mkPen(LINK, width=1,
                                                                                style=Qt.PenStyle.DotLine)))
        fill_legend(self.legend, self.artifact_points, bool(self.points))

    def _label_points(self) -> None:
        """Name every point, the selected variant's first; LabelLayer keeps the names apart.

        A variant's files sit close to its own point and to each other, so a file's label is
        its kind alone: the dotted line ties it to its variant's named point.
        """
        chosen = self._selected
        mine = [p for p in self.points if p[0].id == chosen]
        others = [p for p in self.points if p[0].id != chosen]
        specs = [LabelSpec(x, y, v.name, "#000", bold=True) for v, x, y in mine]
        specs += [LabelSpec(p.x, p.y, kind_style(p.kind)[0], "#333")
                  for p in self.artifact_points if p.variant.id == chosen]
        specs += [LabelSpec(x, y, v.name, "#222") for v, x, y in others]
        specs += [LabelSpec(p.x, p.y, kind_style(p.kind)[0], "#777")
                  for p in self.artifact_points if p.variant.id != chosen]
        self.labels.set_labels(specs)

    def _place_legend(self, *_: Any) -> None:
        """Put the legend in the corner where it hides the fewest points."""
        vb = self.plot.getViewBox()
        pixels = [vb.mapViewToScene(QPointF(x, y)) for _, x, y in self.points]
        pixels += [vb.mapViewToScene(QPointF(p.x, p.y)) for p in self.artifact_points]
        corner = legend_corner(self.legend, pixels)
        if tuple(self.legend.opts["offset"]) != corner:
            self.legend.setOffset(corner)

    def _variant_tip(self, x: float, y: float, data: Any) -> str:
        i = next((i for i, (v, _, _) in enumerate(self.points) if v.id == data), None)
        if i is None:
            return ""
        dim = self.front is not None and i in self.front.dim_variants
        return (f"{self.points[i][0].name} (fp32)\n{self._metric}: {y:.4g}\n"
                f"{x_text(self._axis, x)}{front_note(self.front, dim)}")

    def _artifact_tip(self, x: float, y: float, data: Any) -> str:
        points = self.artifact_points
        if not (isinstance(data, int) and 0 <= data < len(points)):
            return ""
        return points[data].tip + front_note(self.front, self.front is not None and data in self.front.dim_files)

    def _artifact_clicked(self, _item: Any, clicked: list[Any], *_: Any) -> None:
        if len(clicked) and isinstance(i := clicked[0].data(), int) and i < len(self.artifact_points):
            self.clicked.emit(self.artifact_points[i].variant.id)

    def select(self, run_id: str | None) -> None:
        """Highlight one variant's point."""
        self._selected = run_id
        self._draw_points()

    def point_count(self) -> int:
        """Variant points (quantized files are counted by artifact_count)."""
        return len(self.points)

    def artifact_count(self) -> int:
        return len(self.artifact_points)

    def _point_clicked(self, _item: Any, spots: list[Any], *_: Any) -> None:
        if len(spots):
            self.clicked.emit(str(spots[0].data()))
