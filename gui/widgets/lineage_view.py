"""The workspace's variant tree drawn as a graph: boxes left to right by depth, edges between.

The boxes (gui.widgets.lineage_boxes) show each variant's name, method and numbers, its
files as small leaves. Clicking a box selects its variant (a file: the variant it belongs
to); `select()` highlights the variant selected elsewhere. A box's round toggle collapses
its subtree (`toggle`, `collapse_all`, `expand_all`); `set_filter` keeps the nodes whose
name, method, status or id match and their ancestors; `save_png` writes the whole drawing.
The tree comes from engine.compare.lineage, as `workbench-cli tree` prints it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsScene,
    QGraphicsView,
    QWidget,
)

from engine.compare.lineage import Node, ancestors, collapse, filter_tree, walk
from gui.widgets.lineage_boxes import SELECTED, STYLES, NodeBox, layout
from gui.widgets.scene_image import save_scene_png, scene_image

__all__ = ["SELECTED", "STYLES", "LineageView"]
BACKGROUND = "#fbfbfb"


class LineageView(QGraphicsView):
    """The tree as a graph; `clicked(run_id)` when a box is clicked, `opened` on a double-click,
    `redrawn` after every redraw (collapse, filter, new tree)."""

    clicked = Signal(str)
    opened = Signal(str)
    redrawn = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setBackgroundBrush(QColor(BACKGROUND))
        self.boxes: dict[str, NodeBox] = {}
        self._selected: str | None = None
        self.roots: list[Node] = []  # the whole tree, as given
        self.collapsed: set[str] = set()  # ids whose subtree is folded away
        self.filter_text = ""
        self.matched: set[str] = set()  # ids matching the filter (all, without one)

    def set_tree(self, roots: list[Node]) -> None:
        """Draw these trees (replacing what was drawn); the selection, the folded subtrees and
        the filter stay where their nodes are still there."""
        self.roots = roots
        ids = {n.id for n, _ in walk(roots)}
        self.collapsed &= ids
        self._redraw()

    def _redraw(self) -> None:
        scene = self.scene()
        scene.clear()
        self.boxes = {}
        shown, self.matched = filter_tree(self.roots, self.filter_text)
        shown, hidden = collapse(shown, self.collapsed)
        where = layout(shown)
        for n, _ in walk(shown):
            box = NodeBox(n, self, hidden=hidden.get(n.id, 0), faded=n.id not in self.matched)
            box.setPos(where[n.id])
            box.setZValue(1)
            scene.addItem(box)
            self.boxes[n.id] = box
        for n, _ in walk(shown):
            for c in n.children:
                scene.addItem(self._edge(self.boxes[n.id], self.boxes[c.id], c))
        if self.roots and not shown:
            note = scene.addSimpleText(f"Nothing matches “{self.filter_text.strip()}”: "
                                       "clear the filter to see every variant")
            note.setBrush(QColor("#666666"))
        scene.setSceneRect(scene.itemsBoundingRect().adjusted(-12, -12, 12, 12))
        self._highlight(self._selected)
        self._fit()
        self.redrawn.emit()

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

    # -- collapse and filter ------------------------------------------------------------
    def toggle(self, node_id: str) -> None:
        """Fold `node_id`'s subtree away, or unfold it when folded."""
        self.collapsed ^= {node_id}
        self._redraw()

    def collapse_all(self) -> None:
        """Fold every variant's subtree: the roots alone, each with its hidden count."""
        self.collapsed = {n.id for n in self.roots if n.children}
        self._redraw()

    def expand_all(self) -> None:
        self.collapsed = set()
        self._redraw()

    def set_filter(self, text: str) -> None:
        """Keep the nodes whose name, method, status or id hold every word of `text`, and their
        ancestors (drawn faded); an empty text shows everything."""
        if text != self.filter_text:
            self.filter_text = text
            self._redraw()

    def hidden_count(self, node_id: str) -> int:
        """How many nodes the collapsed box `node_id` hides (0: not collapsed or not drawn)."""
        box = self.boxes.get(node_id)
        return box.hidden if box is not None else 0

    # -- selection ----------------------------------------------------------------------
    def select(self, run_id: str | None) -> None:
        """Highlight the box of this variant (and nothing else); a variant inside a folded
        subtree is unfolded to show it."""
        folded = [a for a in ancestors(self.roots, run_id or "") if a in self.collapsed]
        if folded:
            self.collapsed -= set(folded)
            self._selected = run_id
            self._redraw()
            return
        self._highlight(run_id)

    def _highlight(self, run_id: str | None) -> None:
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

    def toggle_center(self, node_id: str) -> Any:
        """Where a box's collapse toggle is on the viewport."""
        toggle = self.boxes[node_id].toggle
        return self.mapFromScene(toggle.sceneBoundingRect().center())

    # -- image --------------------------------------------------------------------------
    def image(self, scale: float = 2.0) -> QImage:
        """The whole drawing (also what is scrolled out of view) at `scale` × its scene size."""
        return scene_image(self.scene(), scale)

    def save_png(self, path: str | Path, scale: float = 2.0) -> Path:
        """The whole drawing as a PNG file (OSError when it cannot be written)."""
        return save_scene_png(self.scene(), path, scale)

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
