"""Point labels on the Compare plots that never sit on top of each other or of other points.

A variant's fp32 point and its int8 / int4 / fp16 files land a few pixels apart, and variants
that were never trained share their parent's metric: labels drawn at a fixed offset pile up
into unreadable text. Labels are placed in screen pixels, greedily in priority order (as
ggrepel and matplotlib's adjustText do): each tries the spots around its point first, then
spots stacked further up or down with a thin leader line back to the point. A label with no
free spot is left out; its point still says what it is on hover, and its marker is in the
legend. Placement is redone whenever the view changes size or range, since pixels move.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, QSizeF

MARKER = 16.0  # pixels: the square a point's marker covers (the selected one is 15 px), kept free of text
GAP = MARKER / 2 + 1  # pixels from a point's centre to its label's side
PAD = 2.0  # pixels kept between two labels
STACK_STEPS = 6  # how many label heights a label may move up or down to find room
LEADER = (120, 120, 120, 170)


@dataclass(frozen=True)
class LabelSpec:
    """A label to place: its point (data coordinates), text, colour, and whether it is bold."""

    x: float
    y: float
    text: str
    color: str = "#222"
    bold: bool = False


def _candidates(anchor: QPointF, size: QSizeF) -> Iterator[tuple[QRectF, bool]]:
    """Rectangles to try, best first, each with whether it needs a leader line to its point."""
    w, h, ax, ay = size.width(), size.height(), anchor.x(), anchor.y()
    right, left = ax + GAP, ax - GAP - w
    above, below, middle = ay - h + 2, ay - 2, ay - h / 2  # beside the marker, a little up or down
    for x, y in ((right, above), (right, below), (right, middle), (left, above), (left, below),
                 (left, middle), (ax - w / 2, ay - GAP - h), (ax - w / 2, ay + GAP)):
        yield QRectF(x, y, w, h), False
    for step in range(1, STACK_STEPS + 1):  # stacked away from the point, joined by a line
        for x in (right + GAP, left - GAP):
            for y in (above - step * (h + PAD), below + step * (h + PAD)):
                yield QRectF(x, y, w, h), True


def place(
    anchors: list[QPointF], sizes: list[QSizeF], bounds: QRectF, avoid: list[QRectF] | None = None,
) -> list[tuple[QRectF, bool] | None]:
    """Where each label goes (pixel rectangle, needs a leader), in the order given; None: no room.

    Earlier labels win. A label never overlaps another label or anything in `avoid` (the
    legend), never leaves `bounds`, and avoids covering any other point's marker; if it cannot,
    it may cover a marker rather than vanish.
    """
    markers = [QRectF(a.x() - MARKER / 2, a.y() - MARKER / 2, MARKER, MARKER) for a in anchors]
    placed: list[QRectF] = list(avoid or [])
    out: list[tuple[QRectF, bool] | None] = []
    for i, (anchor, size) in enumerate(zip(anchors, sizes, strict=True)):
        free = [c for c in _candidates(anchor, size)
                if bounds.contains(c[0]) and not any(_padded(c[0]).intersects(r) for r in placed)]
        others = markers[:i] + markers[i + 1:]
        chosen = next((c for c in free if not any(c[0].intersects(m) for m in others)),
                      free[0] if free else None)
        out.append(chosen)
        if chosen is not None:
            placed.append(chosen[0])
    return out


def _padded(rect: QRectF) -> QRectF:
    return rect.adjusted(-PAD / 2, -PAD / 2, PAD / 2, PAD / 2)


def _nearest_edge_point(rect: QRectF, p: QPointF) -> QPointF:
    """Where a leader line from p meets the label's rectangle."""
    return QPointF(min(max(p.x(), rect.left()), rect.right()), min(max(p.y(), rect.top()), rect.bottom()))


class LabelLayer:
    """The labels of one plot: set them with set_labels; they re-place themselves on view changes."""

    def __init__(self, plot: pg.PlotWidget):
        self.plot = plot
        self.vb = plot.getPlotItem().getViewBox()
        self.specs: list[LabelSpec] = []
        self.items: list[pg.TextItem] = []
        self.leaders: list[pg.PlotCurveItem] = []
        self.avoid: list[Any] = []  # graphics items (the legend) no label may cover, when visible
        self.vb.sigTransformChanged.connect(self.relayout)
        self.vb.sigResized.connect(self.relayout)

    def keep_clear_of(self, item: Any) -> None:
        """No label may cover item (the legend) while it shows; it lays itself out late, so
        its size changes are followed."""
        self.avoid.append(item)
        item.geometryChanged.connect(self.relayout)
        item.visibleChanged.connect(self.relayout)

    def set_labels(self, specs: list[LabelSpec]) -> None:
        """Replace every label; the order of specs is their priority."""
        for item in self.items:
            self.plot.removeItem(item)
        self.specs = list(specs)
        self.items = []
        for spec in self.specs:
            text = html.escape(spec.text)
            text = f"<b>{text}</b>" if spec.bold else text
            item = pg.TextItem(html=f"<span style='color:{spec.color}'>{text}</span>", anchor=(0, 0))
            item.setZValue(20)
            self.plot.addItem(item, ignoreBounds=True)
            self.items.append(item)
        self.relayout()

    def relayout(self, *_: Any) -> None:
        """Place every label again for the view's current pixels."""
        for line in self.leaders:
            self.plot.removeItem(line)
        self.leaders = []
        if not self.items:
            return
        anchors = [self.vb.mapViewToScene(QPointF(s.x, s.y)) for s in self.specs]
        sizes = [item.textItem.boundingRect().size() for item in self.items]
        avoid = [item.sceneBoundingRect() for item in self.avoid if item.isVisible()]
        spots = place(anchors, sizes, self.vb.sceneBoundingRect(), avoid)
        for spec, item, anchor, spot in zip(self.specs, self.items, anchors, spots, strict=True):
            item.setVisible(spot is not None)
            if spot is None:
                continue
            rect, leader = spot
            item.setPos(self.vb.mapSceneToView(rect.topLeft()))
            if leader:
                end = self.vb.mapSceneToView(_nearest_edge_point(rect, anchor))
                line = pg.PlotCurveItem([spec.x, end.x()], [spec.y, end.y()], pen=pg.mkPen(LEADER, width=1))
                self.plot.addItem(line, ignoreBounds=True)
                self.leaders.append(line)

    def shown(self) -> list[pg.TextItem]:
        """The labels that found room (the others are hidden; their points say it on hover)."""
        return [item for item in self.items if item.isVisible()]

    def texts(self) -> list[str]:
        """Plain text of the shown labels, in priority order."""
        return [item.textItem.toPlainText() for item in self.shown()]
