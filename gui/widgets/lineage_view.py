"""The workspace's variant tree drawn as a graph: boxes left to right by depth, edges between.

Each variant box shows its name, method, and size · latency · metric; failed and crashed
runs have a red border, cancelled ones a grey dashed one, running ones a blue one. A
variant's files (fp32 / int8 / int4 …) hang off it as small boxes. Clicking a box
selects its variant (a file: the variant it belongs to); `select()` highlights the
variant selected elsewhere. The tree comes from engine.compare.lineage, as `workbench-cli
tree` prints it.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QWidget,
)

from engine.compare.lineage import MARKED, Node, node_parts, walk

VARIANT_SIZE = (240.0, 58.0)
FILE_SIZE = (200.0, 36.0)
COLUMN = 290.0  # x step per depth
GAP = 10.0  # vertical space between boxes
# status -> (border colour, fill, dashed)
STYLES = {
    "finished": ("#546e7a", "#ffffff", False),
    "running": ("#1565c0", "#e8f1fc", False),
    "failed": ("#c62828", "#fdecea", False),
    "crashed": ("#c62828", "#fdecea", False),
    "cancelled": ("#8a8a8a", "#f3f3f3", True),
    "ok": ("#90a4ae", "#f7f9fa", False),  # a file
    "error": ("#c62828", "#fdecea", True),  # a file that failed to build or run
}
SELECTED = QColor("#1976d2")
SELECTED_FILL = QColor("#dcebff")
ORPHAN_NOTE = "#b26a00"


def _size(n: Node) -> tuple[float, float]:
    return FILE_SIZE if n.kind == "artifact" else VARIANT_SIZE


def layout(roots: list[Node]) -> dict[str, QPointF]:
    """Top-left corner of every node: x by depth, each parent centred on its children."""
    where: dict[str, QPointF] = {}
    y = [0.0]

    def place(n: Node, depth: int) -> float:
        """Place `n` and its subtree below y[0]; the centre y of `n`."""
        h = _size(n)[1]
        start = y[0]
        if n.children:
            centres = [place(c, depth + 1) for c in n.children]
            # centred on its children, but never above its subtree (the sibling above ends there)
            top = max((centres[0] + centres[-1]) / 2 - h / 2, start)
        else:
            top = start
        y[0] = max(y[0], top + h + GAP)
        where[n.id] = QPointF(depth * COLUMN, top)
        return top + h / 2

    for root in roots:
        place(root, 0)
        y[0] += GAP * 2  # a little air between separate trees
    return where


class NodeBox(QGraphicsRectItem):
    """One node: a rounded box with two or three lines of text; a click reports its run id."""

    def __init__(self, node: Node, view: LineageView):
        w, h = _size(node)
        super().__init__(0, 0, w, h)
        self.node, self.view = node, view
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip(self._tip())
        self.setAcceptHoverEvents(True)
        self._add_text()
        self.set_selected(False)

    def _lines(self) -> list[tuple[str, bool]]:
        """(text, bold) per line: name, method, numbers (a file: kind, numbers)."""
        parts = node_parts(self.node)
        name, rest = parts[0], parts[1:]
        if self.node.kind == "artifact":
            return [(self.node.method, True), (" · ".join(p for p in rest if p != self.node.method), False)]
        method = self.node.method or ""
        numbers = [p for p in rest if p not in (method, "finished")]  # the border says finished
        if self.node.error and self.node.status in MARKED:  # why, as far as the box has room
            numbers.append(self.node.error)
        return [(name, True), (method or "—", False), (" · ".join(numbers), False)]

    def _add_text(self) -> None:
        w = self.rect().width() - 12
        y = 4.0
        for text, bold in self._lines():
            item = QGraphicsSimpleTextItem(self)
            font = QFont()
            font.setPointSizeF(8.5 if self.node.kind == "artifact" else 9.0)
            font.setBold(bold)
            item.setFont(font)
            item.setText(_elide(text, font, w))
            colour = STYLES.get(self.node.status, STYLES["finished"])[0]
            item.setBrush(QColor(colour if self.node.status not in ("finished", "ok") else "#222222"))
            item.setPos(6, y)
            y += item.boundingRect().height() + 1

    def _tip(self) -> str:
        n = self.node
        lines = [" · ".join(node_parts(n)), f"id {n.run_id}"]
        if n.error:
            lines.append(n.error)
        lines.append("click: select this variant" if n.kind == "variant" else "click: select its variant")
        lines.append("double-click: open it on the Export page")
        return "\n".join(lines)

    def set_selected(self, on: bool) -> None:
        border, fill, dashed = STYLES.get(self.node.status, STYLES["finished"])
        pen = QPen(SELECTED if on else QColor(border), 3.0 if on else 1.4)
        if dashed:
            pen.setStyle(Qt.PenStyle.DashLine)
        if self.node.orphan and not on:
            pen.setColor(QColor(ORPHAN_NOTE))
        self.setPen(pen)
        self.setBrush(QBrush(SELECTED_FILL if on else QColor(fill)))

    def paint(self, painter: QPainter, option: Any, widget: QWidget | None = None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(self.pen())
        painter.setBrush(self.brush())
        painter.drawRoundedRect(self.rect(), 6, 6)

    def mousePressEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        if event.button() == Qt.MouseButton.LeftButton:
            self.view.clicked.emit(self.node.run_id)
        event.accept()

    def mouseDoubleClickEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        if event.button() == Qt.MouseButton.LeftButton:
            self.view.opened.emit(self.node.run_id)
        event.accept()


def _elide(text: str, font: QFont, width: float) -> str:
    """The text cut with '…' to the box's width (the tooltip has it whole)."""
    return QFontMetricsF(font).elidedText(text, Qt.TextElideMode.ElideRight, width)


class LineageView(QGraphicsView):
    """The tree as a graph; `clicked(run_id)` when a box is clicked, `opened` on a double-click."""

    clicked = Signal(str)
    opened = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setBackgroundBrush(QColor("#fbfbfb"))
        self.boxes: dict[str, NodeBox] = {}
        self._selected: str | None = None
        self.roots: list[Node] = []

    def set_tree(self, roots: list[Node]) -> None:
        """Draw these trees (replacing what was drawn); the selection stays if still there."""
        scene = self.scene()
        scene.clear()
        self.boxes = {}
        self.roots = roots
        where = layout(roots)
        for n, _ in walk(roots):
            box = NodeBox(n, self)
            box.setPos(where[n.id])
            box.setZValue(1)
            scene.addItem(box)
            self.boxes[n.id] = box
        for n, _ in walk(roots):
            for c in n.children:
                scene.addItem(self._edge(self.boxes[n.id], self.boxes[c.id], c))
        scene.setSceneRect(scene.itemsBoundingRect().adjusted(-12, -12, 12, 12))
        self.select(self._selected)
        self._fit()

    def _edge(self, a: NodeBox, b: NodeBox, child: Node) -> QGraphicsItem:
        """A curve from the right middle of `a` to the left middle of `b`."""
        ra, rb = a.sceneBoundingRect(), b.sceneBoundingRect()
        start = QPointF(ra.right(), ra.center().y())
        end = QPointF(rb.left(), rb.center().y())
        path = QPainterPath(start)
        mid = (start.x() + end.x()) / 2
        path.cubicTo(QPointF(mid, start.y()), QPointF(mid, end.y()), end)
        item = QGraphicsPathItem(path)
        pen = QPen(QColor("#b0bec5" if child.kind == "artifact" else "#78909c"), 1.2)
        if child.kind == "artifact":
            pen.setStyle(Qt.PenStyle.DotLine)
        item.setPen(pen)
        return item

    def select(self, run_id: str | None) -> None:
        """Highlight the box of this variant (and nothing else)."""
        if self._selected in self.boxes:
            self.boxes[self._selected].set_selected(False)
        self._selected = run_id
        if run_id in self.boxes:
            self.boxes[run_id].set_selected(True)
            self.ensureVisible(self.boxes[run_id], 20, 20)

    def selected(self) -> str | None:
        return self._selected if self._selected in self.boxes else None

    def box_center(self, node_id: str) -> Any:
        """Where a box is on the viewport (for clicking it as a user would)."""
        return self.mapFromScene(self.boxes[node_id].sceneBoundingRect().center())

    def _fit(self) -> None:
        """Whole tree in view where it fits at 60-100 % scale; otherwise scroll bars."""
        rect: QRectF = self.sceneRect()
        if rect.isEmpty():
            return
        vw, vh = self.viewport().width(), self.viewport().height()
        scale = max(0.6, min(1.0, vw / rect.width(), vh / rect.height()))
        self.resetTransform()
        self.scale(scale, scale)

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self._fit()
