"""Time per operator type: torch.profiler's for PyTorch and onnxruntime's for each ONNX file."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui.widgets.profile_part import ProfilePart

HEADER = ["runtime", "operator", "time_ms", "count", "share"]
TOP_OPS = 15  # per runtime: the table stays readable; the CSV has them all
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
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #666;")
        col = QVBoxLayout(box)
        col.setContentsMargins(0, 0, 0, 0)
        col.addWidget(self.table, 1)
        col.addWidget(self.note)
        super().__init__(box, parent)

    def draw(self, record: dict[str, Any]) -> str:
        rows = op_rows(record)
        if not rows:
            self.table.setRowCount(0)
            return "no operator times in this profile."
        shown: list[list[Any]] = []
        for runtime in dict.fromkeys(r[0] for r in rows):
            shown += [r for r in rows if r[0] == runtime][:TOP_OPS]
        self.table.setRowCount(len(shown))
        for i, (runtime, op, ms, count, share) in enumerate(shown):
            cells = (runtime, op, f"{ms:.3f} ms" if ms is not None else "–",
                     "" if count is None else str(count), f"{share:.0%}")
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if j >= 2:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(i, j, item)
        self.note.setText("" if record.get("onnx") else NO_ONNX)
        self.note.setVisible(not record.get("onnx"))
        return ""

    def csv_table(self) -> tuple[list[str], list[list[Any]]]:
        return HEADER, op_rows(self.record or {})
