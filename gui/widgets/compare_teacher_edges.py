"""Teacher → student edges on the Compare scatter, for students whose teacher is another variant.

A student distilled from its own parent already has the parent → child arrow; one whose teacher is a
different run of the workspace (`teacher: model` with a variant source) gets a purple dotted line,
so the plot shows where its knowledge came from as well as where its weights came from.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt

from engine.methods.distill.teacher_link import distill_step

TEACHER_EDGE = (106, 27, 154, 190)  # the purple of the student-vs-teacher panel


def teacher_pairs(points: Iterable[tuple[Any, float, float]]) -> list[tuple[str, str]]:
    """(teacher id, student id) for each plotted student whose teacher is a plotted non-parent run."""
    shown = {v.id for v, _, _ in points}
    pairs = []
    for v, _, _ in points:
        run = (distill_step(v.card or {}) or {}).get("teacher_run")
        if run and run != v.parent and run in shown and run != v.id:
            pairs.append((run, v.id))
    return pairs


def teacher_edges(points: list[tuple[Any, float, float]]) -> list[pg.GraphicsObject]:
    """The dotted lines from each teacher to its student."""
    where = {v.id: (x, y) for v, x, y in points}
    items: list[pg.GraphicsObject] = []
    for teacher, student in teacher_pairs(points):
        (tx, ty), (sx, sy) = where[teacher], where[student]
        line = pg.PlotCurveItem([tx, sx], [ty, sy], pen=pg.mkPen(TEACHER_EDGE, width=1.5,
                                                                   style=Qt.PenStyle.DotLine))
        line.setToolTip("teacher → student (distilled from this run)")
        items.append(line)
    return items
