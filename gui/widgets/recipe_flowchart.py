"""A recipe drawn as a compact left-to-right flowchart (engine.compare.flowchart's nodes).

Boxes joined by arrows in the order the job runs its stages; under the training box a
second, smaller row draws the training step's flow. Each box has a state: pending, running
(highlighted), done (ticked ✓) or failed. Short (about 90 px) and never wider than its page:
a long recipe scrolls sideways instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QMenu,
    QSizePolicy,
    QWidget,
)

from engine.compare.flowchart import FlowNode, recipe_flow
from engine.events import Failed, Finished, StageStarted
from engine.recipe import Recipe
from gui.widgets.scene_image import ask_save_scene, save_scene_png

if TYPE_CHECKING:
    from PySide6.QtWidgets import QBoxLayout

    from gui.state import AppState

STATES = ("pending", "running", "done", "failed")
# (fill, border) per state: running stands out, done is calm green, failed red
COLORS = {"pending": ("#f7f7f7", "#b0b0b0"), "running": ("#dcebff", "#1f6fd1"),
          "done": ("#e6f4e6", "#3c8d3c"), "failed": ("#fde4e4", "#c62828")}  # fmt: skip
BOX_H, GAP, PAD, MAX_W = 34, 14, 5, 150  # box height, arrow gap, text padding, widest box
SUB_Y, SUB_H = BOX_H + 12, 18  # the training flow's row


class RecipeFlowchart(QGraphicsView):
    """show_recipe(recipe) draws it; set_stage(key, state) colours its boxes; on_event follows a run."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(SUB_Y + SUB_H + 26)  # both rows and room for a scroll bar
        self.setMinimumWidth(120)
        self.nodes: list[FlowNode] = []
        self.states: list[str] = []
        self._boxes: list[tuple[QGraphicsRectItem, QGraphicsSimpleTextItem]] = []
        self._font = QFont(self.font())
        self._small = QFont(self.font())
        self._small.setPointSizeF(max(self.font().pointSizeF() - 2, 6.5))

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name) — never asks its page for width
        return QSize(400, self.height())

    def contextMenuEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        menu = QMenu(self)
        menu.addAction("Save flowchart as PNG…",
                       lambda: ask_save_scene(self, self.scene(), "Save flowchart", "recipe-flowchart"))
        menu.exec(event.globalPos())

    def save_png(self, path: str | Path, scale: float = 2.0) -> Path:
        """The whole flowchart (also what is scrolled out of view) as a PNG file."""
        return save_scene_png(self.scene(), path, scale)

    def show_recipe(self, recipe: Recipe) -> None:
        """Draw `recipe`'s stages, every box pending."""
        self.show_nodes(recipe_flow(recipe))

    def show_nodes(self, nodes: list[FlowNode]) -> None:
        self.nodes, self.states = list(nodes), ["pending"] * len(nodes)
        scene = self.scene()
        scene.clear()
        self._boxes = []
        x = 2.0
        for i, node in enumerate(nodes):
            if i:
                self._arrow(x - GAP, x, 2 + BOX_H / 2)
            w = self._box(node, x)
            if node.sub:
                self._sub_flow(node.sub, x)
            x += w + GAP
        scene.setSceneRect(scene.itemsBoundingRect().adjusted(-2, -2, 4, 2))
        for i in range(len(nodes)):
            self._paint(i)

    def _box(self, node: FlowNode, x: float) -> float:
        """One stage's box (title, and its detail elided under it); returns its width."""
        fm, sm = QFontMetrics(self._font), QFontMetrics(self._small)
        detail = sm.elidedText(node.detail, Qt.TextElideMode.ElideRight, MAX_W - 2 * PAD)
        w = min(max(fm.horizontalAdvance("✓ " + node.label), sm.horizontalAdvance(detail)) + 2 * PAD, MAX_W)
        rect = self.scene().addRect(QRectF(x, 2, w, BOX_H))
        rect.setToolTip(f"{node.label}\n{node.detail}" + ("\n" + " → ".join(node.sub) if node.sub else ""))
        title = QGraphicsSimpleTextItem(fm.elidedText(node.label, Qt.TextElideMode.ElideRight, w - 2 * PAD), rect)
        title.setFont(self._font)
        title.setPos(x + PAD, 3)
        sub = QGraphicsSimpleTextItem(detail, rect)
        sub.setFont(self._small)
        sub.setBrush(QColor("#555"))
        sub.setPos(x + PAD, 3 + fm.height())
        self._boxes.append((rect, title))
        return w

    def _sub_flow(self, steps: tuple[str, ...], x: float) -> None:
        """The training step's flow as small chips in a row under its box."""
        sm = QFontMetrics(self._small)
        self._link(x + 10, 2 + BOX_H, SUB_Y)
        for k, text in enumerate(steps):
            if k:
                self._arrow(x - 10, x, SUB_Y + SUB_H / 2, small=True)
            w = sm.horizontalAdvance(text) + 8
            chip = self.scene().addRect(QRectF(x, SUB_Y, w, SUB_H), QPen(QColor("#8aa6c8")),
                                        QBrush(QColor("#f1f6fc")))  # fmt: skip
            label = QGraphicsSimpleTextItem(text, chip)
            label.setFont(self._small)
            label.setPos(x + 4, SUB_Y + (SUB_H - sm.height()) / 2)
            x += w + 10

    def _link(self, x: float, y0: float, y1: float) -> None:
        self.scene().addLine(x, y0, x, y1, QPen(QColor("#8aa6c8"), 1, Qt.PenStyle.DashLine))

    def _arrow(self, x0: float, x1: float, y: float, small: bool = False) -> None:
        pen, head = QPen(QColor("#777"), 1), 3.0 if small else 4.0
        self.scene().addLine(x0 + 1, y, x1 - head, y, pen)
        tip = QPolygonF([QPointF(x1 - 1, y), QPointF(x1 - 1 - head, y - head),
                         QPointF(x1 - 1 - head, y + head)])  # fmt: skip
        self.scene().addPolygon(tip, pen, QBrush(QColor("#777")))

    def _paint(self, i: int) -> None:
        rect, title = self._boxes[i]
        state = self.states[i]
        fill, border = COLORS[state]
        rect.setBrush(QBrush(QColor(fill)))
        rect.setPen(QPen(QColor(border), 2 if state == "running" else 1))
        mark = {"done": "✓ ", "failed": "✗ "}.get(state, "")
        fm = QFontMetrics(self._font)
        width = rect.rect().width() - 2 * PAD
        title.setText(fm.elidedText(mark + self.nodes[i].label, Qt.TextElideMode.ElideRight, width))
        font = QFont(self._font)
        font.setBold(state == "running")
        title.setFont(font)

    def set_stage(self, key: str, state: str) -> None:
        """Every box of stage `key` to `state` (pending, running, done, failed)."""
        if state not in STATES:
            raise ValueError(f"state must be one of {STATES}, not {state!r}")
        for i, node in enumerate(self.nodes):
            if node.key == key:
                self.states[i] = state
                self._paint(i)

    def state_of(self, key: str) -> str | None:
        """The state of stage `key`'s first box; None when the recipe has no such stage."""
        return next((s for n, s in zip(self.nodes, self.states, strict=True) if n.key == key), None)

    def on_event(self, ev: object) -> None:
        """Follow a run: a stage starting ticks every box before it (skipped stages too)."""
        if isinstance(ev, StageStarted):
            first = next((i for i, n in enumerate(self.nodes) if n.key == ev.stage), None)
            if first is None:
                return  # "run" and stages this drawing has no box for
            for i in range(first):
                if self.states[i] in ("pending", "running"):
                    self.states[i] = "done"
                    self._paint(i)
            self.set_stage(ev.stage, "running")
            self.ensureVisible(self._boxes[first][0], 40, 0)
        elif isinstance(ev, Finished):
            self.finish("finished")
        elif isinstance(ev, Failed):
            self.finish("failed")

    def finish(self, status: str) -> None:
        """The run ended: finished ticks every box; failed marks the running one; cancelled
        leaves it pending again."""
        for i, state in enumerate(self.states):
            if status == "finished":
                new = "done"
            elif state == "running":
                new = "failed" if status == "failed" else "pending"
            else:
                continue
            self.states[i] = new
            self._paint(i)


def attach_recipe_flowchart(layout: QBoxLayout, state: AppState) -> RecipeFlowchart:
    """A live preview of the state's recipe added to `layout` (redrawn on every valid edit)."""
    chart = RecipeFlowchart()
    chart.show_recipe(state.recipe)
    state.recipe_changed.connect(chart.show_recipe)
    layout.addWidget(chart)
    return chart
