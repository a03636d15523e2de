"""Time per operator type: torch.profiler's for PyTorch and onnxruntime's for each ONNX file."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui.widgets.profile_part import ProfilePart


def compact(table: QTableWidget) -> None:
    """Rows one text line high (the default leaves a table of 15 rows needing a scroll bar)."""
    table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 6)


HEADER = ["runtime", "operator", "time_ms", "count", "share"]
TOP_OPS = 10  # per runtime: the table stays readable; the CSV has them all
NO_ONNX = "ONNX: not measured: no ONNX file was profiled (export the variant on the Export page)."


def op_rows(record: dict[str, Any]) -> list[list[Any]]:
    """[runtime, op, time_ms, count, share of that runtime's time] for PyTorch then each ONNX file."""
    sources = [("PyTorch", record.get("op_types") or [])]
    sources += [(f"ONNX {o.get('artifact')}", o.get("op_types") or []) for o in record.get("onnx") or []]
    rows = []
    for runtime, ops in sources:
        total = sum(op.get("time_ms") or 0 for op in ops)
        for op in sorted(ops, key=lambda op: -(op.get("time_ms") or 0)):
            share = (op.get("time_ms") or 0) / total if total else 0.0
            rows.append([runtime, op.get("op"), op.get("time_ms"), op.get("count"), round(share, 6)])
    return rows


class OpTypesTable(ProfilePart):
    """A table of operator types by time, grouped by runtime."""

    stem = "op_types"
    title = "Time per operator type"

    def __init__(self, parent: QWidget | None = None):
        box = QWidget()
        self.table = QTableWidget(0, len(HEADER))
        self.table.setHorizontalHeaderLabels(["Runtime", "Operator", "Time", "Calls", "Share"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        head = self.table.horizontalHeader()
        head.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        head.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        compact(self.table)
        self.runtime = QComboBox()  # one runtime at a time: PyTorch's list pushes ONNX's out of view
        self.runtime.currentIndexChanged.connect(lambda _i: self._fill())
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #666;")
        pick = QHBoxLayout()
        pick.addWidget(QLabel("Runtime:"))
        pick.addWidget(self.runtime)
        pick.addStretch(1)
        col = QVBoxLayout(box)
        col.setContentsMargins(0, 0, 0, 0)
        col.addLayout(pick)
        col.addWidget(self.table, 1)
        col.addWidget(self.note)
        super().__init__(box, parent)

    def draw(self, record: dict[str, Any]) -> str:
        rows = op_rows(record)
        runtimes = list(dict.fromkeys(r[0] for r in rows))
        self.runtime.blockSignals(True)
        self.runtime.clear()
        self.runtime.addItems(["All", *runtimes] if len(runtimes) > 1 else runtimes)
        self.runtime.blockSignals(False)
        self._fill()
        self.note.setText("" if record.get("onnx") else NO_ONNX)
        self.note.setVisible(not record.get("onnx"))
        return "" if rows else "no operator times in this profile."

    def _fill(self) -> None:
        """The table for the chosen runtime (All: each runtime's TOP_OPS slowest)."""
        rows, chosen = op_rows(self.record or {}), self.runtime.currentText()
        shown: list[list[Any]] = []
        for runtime in dict.fromkeys(r[0] for r in rows):
            if chosen in ("All", runtime):
                shown += [r for r in rows if r[0] == runtime][: TOP_OPS if chosen == "All" else None]
        self.table.setRowCount(len(shown))
        for i, (runtime, op, ms, count, share) in enumerate(shown):
            cells = (runtime, op, f"{ms:.3f} ms" if ms is not None else "–",
                     "" if count is None else str(count), f"{share:.0%}")
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if j >= 2:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(i, j, item)

    def csv_table(self) -> tuple[list[str], list[list[Any]]]:
        return HEADER, op_rows(self.record or {})


NODE_HEADER = ["artifact", "node", "op", "time_ms"]


def node_rows(record: dict[str, Any]) -> list[list[Any]]:
    """[artifact, node name, op, time_ms] of every ONNX file's slowest nodes, slowest first."""
    rows = []
    for o in record.get("onnx") or []:
        nodes = sorted(o.get("nodes") or [], key=lambda n: -(n.get("time_ms") or 0))
        rows += [[o.get("artifact"), n.get("name"), n.get("op"), n.get("time_ms")] for n in nodes]
    return rows


class OnnxNodesTable(ProfilePart):
    """The slowest nodes of each ONNX file under onnxruntime's profiler."""

    stem = "onnx_nodes"
    title = "Slowest ONNX nodes"

    def __init__(self, parent: QWidget | None = None):
        self.table = QTableWidget(0, len(NODE_HEADER))
        self.table.setHorizontalHeaderLabels(["File", "Node", "Operator", "Time"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        head = self.table.horizontalHeader()
        head.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        head.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        compact(self.table)
        super().__init__(self.table, parent)

    def draw(self, record: dict[str, Any]) -> str:
        rows = node_rows(record)
        self.table.setRowCount(len(rows))
        for i, (artifact, node, op, ms) in enumerate(rows):
            for j, text in enumerate((str(artifact), str(node), str(op), "–" if ms is None else f"{ms:.3f} ms")):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                if j == 3:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(i, j, item)
        if not record.get("onnx"):
            return "no ONNX file was profiled (export the variant on the Export page)."
        return "" if rows else "onnxruntime's profile listed no nodes."

    def csv_table(self) -> tuple[list[str], list[list[Any]]]:
        return NODE_HEADER, node_rows(self.record or {})
