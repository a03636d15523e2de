"""Two variants side by side: what changed in the recipe, the layers that changed (table and
chart of their parameters), and the operator counts of their ONNX graphs.

Shows the record `workbench-cli compare A B --json` prints (engine.cli.compare_cmds
.compare_record), built off the GUI thread because it loads both models, so the page and the
CLI can never disagree.
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.cli.compare_text import LAYER_HEADER, layer_cells
from engine.store import Variant, Workspace
from gui.threads import BackgroundCall
from gui.widgets.plot_export import add_plot_export
from gui.widgets.plot_tables import bar_columns

CHART_LAYERS = 8  # bars for the most changed layers; the table has them all
A_BRUSH, B_BRUSH = (150, 150, 150), (21, 101, 192)


def fill_table(table: QTableWidget, header: list[str], rows: list[list[str]]) -> None:
    """Replace a read-only table's contents (one text line per row)."""
    table.clear()
    table.setColumnCount(len(header))
    table.setHorizontalHeaderLabels(header)
    table.setRowCount(len(rows))
    for i, row in enumerate(rows):
        for j, cell in enumerate(row):
            item = QTableWidgetItem(cell)
            item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
            table.setItem(i, j, item)
    table.resizeColumnsToContents()
    table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 6)


def _table() -> QTableWidget:
    t = QTableWidget()
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    t.verticalHeader().setVisible(False)
    return t


def op_rows(graph: dict[str, Any]) -> list[list[str]]:
    """[op, A, B, change] by count, largest first."""
    a, b, delta = graph["ops_a"], graph["ops_b"], graph["op_delta"]
    ops = sorted(set(a) | set(b), key=lambda op: (-max(a.get(op, 0), b.get(op, 0)), op))
    return [[op, str(a.get(op, 0)), str(b.get(op, 0)), f"{delta[op]:+d}" if op in delta else ""]
            for op in ops]


class VariantDiffView(QWidget):
    """Pick A and B, press Compare; recipe changes, per-layer table + chart, ONNX op counts."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.workspace: Workspace | None = None
        self.record: dict[str, Any] | None = None
        self._call: BackgroundCall | None = None
        self.pick_a, self.pick_b = QComboBox(), QComboBox()
        self.go = QPushButton("Compare")
        self.go.clicked.connect(self.compare_picked)
        self.status = QLabel("Pick two variants and press Compare.")
        self.status.setWordWrap(True)
        top = QHBoxLayout()
        for w in (QLabel("A"), self.pick_a, QLabel("B"), self.pick_b, self.go):
            top.addWidget(w)
        top.addStretch(1)
        self.recipe = QListWidget()
        self.layers, self.ops = _table(), _table()
        self.chart = pg.PlotWidget(background="w")
        self.chart.setLabel("left", "parameters")
        self.chart.addLegend(offset=(-10, 10))
        add_plot_export(self.chart, "variant diff parameters", data=lambda: bar_columns(self.chart),
                        corner="left")
        self.graph_label = QLabel("")
        self.graph_label.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.status)
        lay.addWidget(self._split(), 1)

    def _split(self) -> QSplitter:
        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(self._titled("Recipe changes (A → B)", self.recipe))
        left.addWidget(self._titled("Layers", self.layers))
        left.addWidget(self.chart)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(QLabel("<b>ONNX operators</b>"))
        rl.addWidget(self.graph_label)
        rl.addWidget(self.ops, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setSizes([700, 300])
        return split

    @staticmethod
    def _titled(title: str, w: QWidget) -> QWidget:
        box = QWidget()
        bl = QVBoxLayout(box)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addWidget(QLabel(f"<b>{title}</b>"))
        bl.addWidget(w, 1)
        return box

    def show_variants(self, workspace: Workspace, variants: list[Variant]) -> None:
        """Offer the finished variants (newest last) in both pickers, keeping the picks."""
        self.workspace = workspace
        keep = (self.pick_a.currentData(), self.pick_b.currentData())
        for pick, kept in zip((self.pick_a, self.pick_b), keep, strict=True):
            pick.clear()
            for v in variants:
                if v.status == "finished":
                    pick.addItem(f"{v.name} ({v.id})", v.id)
            i = pick.findData(kept)
            pick.setCurrentIndex(i if i >= 0 else max(0, pick.count() - (pick is self.pick_a) - 1))

    def compare_picked(self) -> None:
        a, b = self.pick_a.currentData(), self.pick_b.currentData()
        if a and b:
            self.compare(a, b)

    def compare(self, a_id: str, b_id: str) -> None:
        """Build the record off the GUI thread (both models load), then show it."""
        from engine.cli.compare_cmds import compare_record

        ws = self.workspace
        if ws is None:
            return
        self.go.setEnabled(False)
        self.status.setText("Comparing: loading both models…")
        self._call = BackgroundCall(
            lambda: compare_record(ws, ws.get(a_id), ws.get(b_id), all_layers=True),
            self.set_record, self._failed)

    def _failed(self, message: str) -> None:
        self.go.setEnabled(True)
        self.status.setText(f"Could not compare: {message}")

    def set_record(self, record: dict[str, Any]) -> None:
        """Show a compare record (compare_record's, or a `compare --json` one)."""
        self.record = record
        self.go.setEnabled(True)
        a, b = record["a"], record["b"]
        notes = "  ".join(f"Note: {n}" for n in record["notes"])
        self.status.setText(f"A: {a['name']} · B: {b['name']} — {record['layers_changed']} of "
                            f"{record['layers_total']} layers differ. {notes}")
        self.recipe.clear()
        self.recipe.addItems([c["text"] for c in record["recipe"]] or ["same recipe"])
        rows = sorted((r for r in record["layers"] if _differs(r)), key=_rank)
        fill_table(self.layers, LAYER_HEADER, [layer_cells(r) for r in rows])
        self._draw_chart(rows[:CHART_LAYERS])
        graph = record["graph"]
        self.graph_label.setText(graph["summary"] if graph else "not compared (no ONNX file on both)")
        fill_table(self.ops, ["op", "A", "B", "change"], op_rows(graph) if graph else [])

    def _draw_chart(self, rows: list[dict[str, Any]]) -> None:
        """Parameters of A (grey) and B (blue) side by side for the most changed layers."""
        self.chart.clear()
        xs = list(range(len(rows)))
        for shift, key, brush, name in ((-0.2, "params_a", A_BRUSH, "A"),
                                        (0.2, "params_b", B_BRUSH, "B")):
            heights = [r[key] or 0 for r in rows]
            self.chart.addItem(pg.BarGraphItem(x=[x + shift for x in xs], height=heights,
                                               width=0.4, brush=brush, name=name))
        ticks = [(x, short_name(r["name"])) for x, r in zip(xs, rows, strict=True)]
        self.chart.getAxis("bottom").setTicks([ticks])


def short_name(name: str) -> str:
    """'blocks.0.mlp.fc' -> '0.mlp.fc': the block number and the layer, for a bar's label."""
    parts = name.split(".")
    return ".".join(parts[-3:]) if len(parts) > 3 else name


def _rank(r: dict[str, Any]) -> tuple[int, float]:
    # as engine.compare.layer_diff.top_changes: cut / added / gone layers, then largest change
    return (0 if r["shape_a"] != r["shape_b"] else 1, -(r["weight_change"] or 0.0))


def _differs(r: dict[str, Any]) -> bool:
    return (r["shape_a"] != r["shape_b"] or (r["weight_change"] or 0) > 0
            or r["sparsity_a"] != r["sparsity_b"] or r["bits_a"] != r["bits_b"])
