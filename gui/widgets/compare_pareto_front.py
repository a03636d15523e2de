"""The Pareto front of the Compare plot's points: which are on it, and its step line."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt

from engine.compare.pareto import metric_front, staircase
from engine.store import Variant
from gui.widgets.compare_artifact_points import ArtifactPoint

FRONT_COLOUR = "#2e7d32"


@dataclass(frozen=True)
class Front:
    """The front over variant points and file points together.

    `points` are the (x, y) of the points on it; `dim_variants` / `dim_files` the indices (into
    the scatter's variant and file lists) of the dominated points, drawn pale.
    """

    points: list[tuple[float, float]] = field(default_factory=list)
    dim_variants: frozenset[int] = frozenset()
    dim_files: frozenset[int] = frozenset()

    def size(self) -> int:
        return len(self.points)


def front_of(points: list[tuple[Variant, float, float]], files: list[ArtifactPoint], metric: str) -> Front:
    """A variant's fp32 point and each of its quantized files compete as equals: the question is
    which file to ship, whichever variant it came from."""
    xs = [x for _, x, _ in points] + [p.x for p in files]
    ys = [y for _, _, y in points] + [p.y for p in files]
    on = set(metric_front(xs, ys, metric))
    n = len(points)
    return Front(points=[(xs[i], ys[i]) for i in sorted(on)],
                 dim_variants=frozenset(i for i in range(n) if i not in on),
                 dim_files=frozenset(j for j in range(len(files)) if j + n not in on))


def front_line(front: Front) -> Any:
    """The step line through the front's points (nothing to draw for fewer than two)."""
    xs, ys = staircase(front.points)
    return pg.PlotCurveItem(xs, ys, pen=pg.mkPen(FRONT_COLOUR, width=2, style=Qt.PenStyle.DashLine))


def front_note(front: Front | None, dominated: bool) -> str:
    """The hover line that says whether a point is on the front ('' while no front is drawn)."""
    if front is None:
        return ""
    if dominated:
        return "\noff the Pareto front: another plotted point is as cheap and as good, and better on one"
    return "\non the Pareto front: no plotted point beats it on one axis without losing on the other"


def summary(front: Front | None, shown: int, hidden: int) -> str:
    """'3 of 9 on the front · 2 hidden' (short: it shares one row with the filters)."""
    parts = []
    if front is not None and shown:
        parts.append(f"<span style='color:{FRONT_COLOUR}'>{front.size()} of {shown} on the front</span>")
    if hidden:
        parts.append(f"{hidden} hidden")
    return " · ".join(parts)
