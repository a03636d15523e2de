"""The boxes of the Lineage drawing (gui.widgets.lineage_view): their look, place and clicks.

A variant box shows its name, method, and size · latency · metric; failed and crashed runs
have a red border, cancelled ones a grey dashed one, running ones a blue one; a file is a
smaller box. A box with something below it carries a round toggle on its right edge: "−"
collapses its subtree, a collapsed box shows "+N" (N nodes hidden) and expands on a click.
A box kept by the filter only because a match lies below it is drawn faded.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPen
from PySide6.QtWidgets import (
    QApplication,
    QGraphicsItem,
    QGraphicsRectItem,
    QGraphicsSimpleTextItem,
    QWidget,
)

from engine.compare.lineage import MARKED, Node, node_parts

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
    """One node: a rounded box with two or three lines of text; a click reports its run id.

    `hidden`: how many nodes its collapsed subtree hides (0: not collapsed); `faded`: kept by
    the filter only as the ancestor of a match."""

    def __init__(self, node: Node, view: Any, hidden: int = 0, faded: bool = False):
        w, h = _size(node)
        super().__init__(0, 0, w, h)
        self.node, self.view, self.hidden, self.faded = node, view, hidden, faded
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip(self._tip())
        self.setAcceptHoverEvents(True)
        self._add_text()
        self.set_selected(False)
        self.toggle = ToggleMarker(self) if hidden or node.children else None
        if faded:
            self.setOpacity(0.45)

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
        if self.faded:
            lines.append("(shown because a variant below it matches the filter)")
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
        # the second click of a double-click on a toggle lands here when the fold moved the boxes
        if event.button() == Qt.MouseButton.LeftButton and not _just_toggled(self.view):
            self.view.opened.emit(self.node.run_id)
        event.accept()


def _elide(text: str, font: QFont, width: float) -> str:
    """The text cut with '…' to the box's width (the tooltip has it whole)."""
    return QFontMetricsF(font).elidedText(text, Qt.TextElideMode.ElideRight, width)


class ToggleMarker(QGraphicsItem):
    """The round "−" / "+N" on a box's right edge; a click collapses or expands its subtree."""

    RADIUS = 9.0

    def __init__(self, box: NodeBox):
        super().__init__(box)
        self.box = box
        self.text = f"+{box.hidden}" if box.hidden else "−"
        font = QFont()
        font.setPointSizeF(8.0)
        font.setBold(True)
        self.font = font
        width = max(2 * self.RADIUS, QFontMetricsF(font).horizontalAdvance(self.text) + 10)
        r = box.rect()
        self._rect = QRectF(r.right() - width / 2, r.center().y() - self.RADIUS, width, 2 * self.RADIUS)
        self.setZValue(2)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        n = box.hidden
        self.setToolTip(f"{n} hidden below: click to expand" if n else "click to collapse what is below")

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt's name)
        return self._rect.adjusted(-1, -1, 1, 1)

    def paint(self, painter: QPainter, option: Any, widget: QWidget | None = None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        collapsed = bool(self.box.hidden)
        painter.setPen(QPen(QColor("#546e7a"), 1.2))
        painter.setBrush(QColor("#546e7a" if collapsed else "#ffffff"))
        painter.drawRoundedRect(self._rect, self.RADIUS, self.RADIUS)
        painter.setPen(QColor("#ffffff" if collapsed else "#37474f"))
        painter.setFont(self.font)
        painter.drawText(self._rect, Qt.AlignmentFlag.AlignCenter, self.text)

    def mousePressEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        event.accept()
        if event.button() == Qt.MouseButton.LeftButton:
            node_id = self.box.node.id
            self.box.view.toggled_at = time.monotonic()
            # after this event: the redraw deletes this item
            QTimer.singleShot(0, lambda: self.box.view.toggle(node_id))

    def mouseDoubleClickEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        event.accept()  # a double-click folds once, as a click does


def _just_toggled(view: Any) -> bool:
    """A toggle was clicked within the double-click interval (this click is its second half)."""
    since = time.monotonic() - getattr(view, "toggled_at", float("-inf"))
    return since < QApplication.doubleClickInterval() / 1000
