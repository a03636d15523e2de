"""Table model of all variants: CLI-formatted text, raw numbers for sorting, lineage tints."""

from __future__ import annotations

import re
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QBrush, QColor, QFont

from engine.cli.format import variant_row
from engine.store import Variant
from gui.widgets.variant_metrics import model_number, onnx_number, primary_metric

Index = QModelIndex | QPersistentModelIndex
COLUMNS = (
    "Name", "ID", "Parent", "Status", "Method", "Params", "Non-zero",
    "Sparsity", "Size MB", "Metric", "ONNX MB", "p50 ms",
)  # fmt: skip
NUMERIC_FROM = COLUMNS.index("Params")
STATUS_COLORS = {"failed": "#c62828", "crashed": "#c62828", "cancelled": "#8a8a8a", "running": "#1565c0"}
WARNING_COLOR = "#b26a00"  # finished, but with warnings on its card
MISSING_COLOR = "#c62828"  # finished, but its files are gone
PARENT_TINT = QColor("#ffe9a8")  # the selected row's parent
CHILD_TINT = QColor("#dcebff")  # rows derived from the selected row
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


def _pct(value: str) -> str:
    try:
        return f"{float(value):.0%}"
    except ValueError:
        return value


def compact_method(text: str) -> str:
    """A card's method text in a few words for a narrow column (the tooltip has it all).

    'unstructured_prune(criterion=magnitude, amount=0.8, scope=global, schedule=gradual)'
    -> 'unstructured 80% gradual'; 'nm_prune(n=2, m=4, ...)' -> '2:4';
    'structured_prune(target=ffn, amount=0.5, ...)' -> 'structured ffn 50%'.
    """
    parts = []
    for name, args in re.findall(r"(\w+)\(([^)]*)\)", text):
        kv = dict(re.findall(r"(\w+)=([^,]+)", args))
        if name == "nm_prune":
            parts.append(f"{kv.get('n', '?')}:{kv.get('m', '?')}")
        elif name == "structured_prune":
            parts.append(f"structured {kv.get('target', '')} {_pct(kv.get('amount', ''))}")
        elif name in ("unstructured_prune", "magnitude_prune"):
            what = (f"|w|<{kv.get('threshold')}" if kv.get("mode") == "threshold"
                    else _pct(kv.get("amount", "")))
            crit = kv.get("criterion", "magnitude")
            sched = kv.get("schedule", "oneshot")
            parts.append(" ".join(p for p in ("unstructured", what, crit if crit != "magnitude" else "",
                                              sched if sched != "oneshot" else "") if p))
        else:
            parts.append(name)
    return " + ".join(parts) or text


def _row_values(v: Variant, names: dict[str, str]) -> tuple[list[str], list[Any]]:
    """(display texts, raw sort values) for one variant; raw None means 'no value'."""
    text = variant_row(v)
    c = v.card or {}
    metric = primary_metric(c)
    size = model_number(c, "size_bytes")
    onnx_size = onnx_number(c, "size_bytes")
    sparsity = (c.get("sparsity") or {}).get("overall")
    parent = names.get(v.parent or "", v.parent or "") if v.parent else ""
    shown = [
        v.name, v.id, parent or "–", text["status"], compact_method(text["method"]), text["params"], text["nonzero"],
        text["sparsity"], f"{size / 1e6:.2f}" if size else "-", text["metric"],
        text["onnx MB"], text["p50 ms"],
    ]  # fmt: skip
    raw = [
        v.name.lower(), v.id, parent.lower(), v.status, text["method"],
        model_number(c, "params"), model_number(c, "nonzero_params"),
        float(sparsity) if isinstance(sparsity, (int, float)) else None,
        size, metric[1] if metric else None, onnx_size, onnx_number(c, "latency_ms_p50"),
    ]  # fmt: skip
    return shown, raw


def _status_color(v: Variant) -> str | None:
    if v.missing:
        return MISSING_COLOR
    if v.status == "finished" and (v.card or {}).get("warnings"):
        return WARNING_COLOR
    return STATUS_COLORS.get(v.status)


class CompareModel(QAbstractTableModel):
    """One row per variant; `focus(id)` tints that row's parent and children."""

    def __init__(self, parent: Any = None):
        super().__init__(parent)
        self.variants: list[Variant] = []
        self._shown: list[list[str]] = []
        self._raw: list[list[Any]] = []
        self._focus: str | None = None
        self.metric_header = "Metric"

    def set_variants(self, variants: list[Variant]) -> None:
        self.beginResetModel()
        self.variants = list(variants)
        names = {v.id: v.name for v in self.variants}
        rows = [_row_values(v, names) for v in self.variants]
        self._shown = [r[0] for r in rows]
        self._raw = [r[1] for r in rows]
        self._name_metric_in_header()
        self.endResetModel()

    def _name_metric_in_header(self) -> None:
        """One metric kind in the workspace: say it once in the header, not in every cell."""
        col = COLUMNS.index("Metric")
        kinds = {m[0] for v in self.variants if (m := primary_metric(v.card or {}))}
        self.metric_header = "Metric"
        if len(kinds) == 1:
            kind = kinds.pop()
            self.metric_header = kind.capitalize()
            for row in self._shown:
                row[col] = row[col].removeprefix(kind + " ")

    def row_of(self, run_id: str) -> int:
        """Source row of a variant id, -1 when absent."""
        return next((i for i, v in enumerate(self.variants) if v.id == run_id), -1)

    def focus(self, run_id: str | None) -> None:
        """Tint the parent and children of `run_id` (None clears)."""
        self._focus = run_id
        if self.variants:
            self.dataChanged.emit(
                self.index(0, 0),
                self.index(len(self.variants) - 1, len(COLUMNS) - 1),
                [Qt.ItemDataRole.BackgroundRole],
            )

    def relation(self, row: int) -> str:
        """'parent', 'child' or '' relative to the focused variant."""
        if self._focus is None:
            return ""
        v = self.variants[row]
        focused = next((x for x in self.variants if x.id == self._focus), None)
        if focused is not None and focused.parent == v.id:
            return "parent"
        return "child" if v.parent == self._focus else ""

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.variants)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.metric_header if COLUMNS[section] == "Metric" else COLUMNS[section]
        return None

    def data(self, index: Index, role: int = 0) -> Any:
        if not index.isValid():
            return None
        row, col = index.row(), index.column()
        v = self.variants[row]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._shown[row][col]
        if role == Qt.ItemDataRole.UserRole:
            return self._raw[row][col]
        if role == Qt.ItemDataRole.ForegroundRole:
            color = _status_color(v)
            return QBrush(QColor(color)) if color else None
        if role == Qt.ItemDataRole.BackgroundRole:
            rel = self.relation(row)
            return QBrush(PARENT_TINT if rel == "parent" else CHILD_TINT) if rel else None
        if role == Qt.ItemDataRole.FontRole and col in (0, 1):
            font = QFont()
            if col == 0:
                font.setBold(True)
            else:  # ids are for copying, not reading: keep them from crowding the row
                font.setPointSizeF(max(font.pointSizeF() - 1.5, 7.0))
            return font
        if role == Qt.ItemDataRole.TextAlignmentRole and col >= NUMERIC_FROM:
            return _RIGHT
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(v, col)
        return None

    def _tooltip(self, v: Variant, col: int) -> str | None:
        if col == COLUMNS.index("Name"):
            return f"id {v.id}"  # the ID column is hidden on narrow windows
        if col == COLUMNS.index("Status"):
            lines = [v.missing or "", v.error or "", *((v.card or {}).get("warnings") or [])]
            return "\n".join(x for x in lines if x) or None
        if col == COLUMNS.index("Parent") and v.parent:
            return f"parent id {v.parent}"
        if col == COLUMNS.index("Method"):
            return (v.card or {}).get("method")  # the full form, with parameter names
        return None


class NumericSortProxy(QSortFilterProxyModel):
    """Sorts by the raw UserRole values; rows without a value stay at the bottom either way."""

    def __init__(self, parent: Any = None):
        super().__init__(parent)
        self.setSortRole(Qt.ItemDataRole.UserRole)

    def lessThan(self, left: Index, right: Index) -> bool:
        a, b = left.data(Qt.ItemDataRole.UserRole), right.data(Qt.ItemDataRole.UserRole)
        descending = self.sortOrder() == Qt.SortOrder.DescendingOrder
        if a is None or b is None:
            # Qt flips the result for descending order, so "missing" must flip too
            return (a is None) == descending and a is not b
        if isinstance(a, str) or isinstance(b, str):
            return str(a) < str(b)
        return a < b
