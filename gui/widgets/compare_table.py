"""Table model of all variants: CLI-formatted text, raw numbers for sorting, lineage tints."""

from __future__ import annotations

import re
from dataclasses import dataclass
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
from engine.collapse import collapse_check
from engine.fair_parent import PARENT_NOTE, comparison_parents, needs_control
from engine.metric_text import HEADLINE, compare_metric, fmt_metric, headline_metric
from engine.store import Variant
from gui.widgets.collapse_marker import COLLAPSED_COLOR, collapse_icon, collapse_tip, is_collapsed
from gui.widgets.variant_metrics import metric_label, model_number, onnx_number

Index = QModelIndex | QPersistentModelIndex
HEAD = ("Name", "ID", "Parent", "Status", "Method")
TAIL = ("Params", "Non-zero", "Sparsity", "Size MB", "ONNX MB", "p50 ms")
COLUMNS = (*HEAD, *TAIL)  # plus one column per metric present, between the two
METRIC_HEADERS = {name: name.capitalize() for name in HEADLINE}
NUMERIC_FROM = len(HEAD)
STATUS_COLORS = {"failed": "#c62828", "crashed": "#c62828", "cancelled": "#8a8a8a", "running": "#1565c0"}
WARNING_COLOR = "#b26a00"  # finished, but with warnings on its card
MISSING_COLOR = "#c62828"  # finished, but its files are gone
LOST_COLOR, GAINED_COLOR = "#c62828", "#2e7d32"  # a metric worse / better than its parent's
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


def metric_columns(variants: list[Variant]) -> list[str]:
    """The headline metrics the variants have, in HEADLINE order: one column each."""
    found = {m[0] for v in variants if (m := headline_metric(v.card or {}))}
    return [name for name in HEADLINE if name in found]


@dataclass
class Row:
    """What one variant shows: texts and raw sort values per column, and its comparison."""

    shown: dict[str, str]
    raw: dict[str, Any]
    compared: Variant | None = None  # the variant its deltas are against
    kind: str = "parent"  # 'control' when that is the dense fine-tuned control
    metric: dict[str, Any] | None = None  # engine.metric_text.compare_metric
    unfair: bool = False  # fine-tuned child vs a parent that never trained, and no control
    collapse: dict[str, Any] | None = None  # engine.collapse.collapse_check vs the same parent

    @property
    def collapsed(self) -> bool:
        return is_collapsed(self.collapse)


def _row(v: Variant, names: dict[str, str], fair: tuple[Variant | None, str]) -> Row:
    """One variant's texts (metric with its delta against the fair parent) and sort values."""
    c = v.card or {}
    compared, kind = fair
    delta = compare_metric(c, compared.card if compared else None)
    # judged against the same fair parent as the delta (the card's flag was against its parent)
    collapse = collapse_check(c, compared.card) if compared and v.status == "finished" else None
    text = variant_row(v, is_collapsed(collapse) if collapse else None)
    size = model_number(c, "size_bytes")
    sparsity = (c.get("sparsity") or {}).get("overall")
    parent = names.get(v.parent or "", v.parent or "") if v.parent else ""
    unfair = kind == "parent" and compared is not None and needs_control(v, compared.card)
    shown = {
        "Name": v.name, "ID": v.id, "Parent": (parent + " ⚠" if unfair else parent) or "–",
        "Status": text["status"], "Method": compact_method(text["method"]), "Params": text["params"],
        "Non-zero": text["nonzero"], "Sparsity": text["sparsity"],
        "Size MB": f"{size / 1e6:.2f}" if size else "-", "ONNX MB": text["onnx MB"], "p50 ms": text["p50 ms"],
    }  # fmt: skip
    raw = {
        "Name": v.name.lower(), "ID": v.id, "Parent": parent.lower(), "Status": v.status,
        "Method": text["method"], "Params": model_number(c, "params"),
        "Non-zero": model_number(c, "nonzero_params"),
        "Sparsity": float(sparsity) if isinstance(sparsity, (int, float)) else None,
        "Size MB": size, "ONNX MB": onnx_number(c, "size_bytes"), "p50 ms": onnx_number(c, "latency_ms_p50"),
    }  # fmt: skip
    for name in HEADLINE:
        value = (c.get("metrics") or {}).get(name)
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        header = METRIC_HEADERS[name]
        raw[header] = float(value) if ok else None
        shown[header] = fmt_metric(name, float(value)) if ok else "-"
        if ok and delta and delta["name"] == name:
            shown[header] = ("✘ " if is_collapsed(collapse) else "") + delta["text"]
    return Row(shown, raw, compared, kind, delta, unfair, collapse)


def _status_color(v: Variant) -> str | None:
    if v.missing:
        return MISSING_COLOR
    if v.status == "finished" and (v.card or {}).get("warnings"):
        return WARNING_COLOR
    return STATUS_COLORS.get(v.status)


class CompareModel(QAbstractTableModel):
    """One row per variant, one column per metric present; `focus(id)` tints parent and children."""

    def __init__(self, parent: Any = None):
        super().__init__(parent)
        self.variants: list[Variant] = []
        self.rows: list[Row] = []
        self.columns: list[str] = list(COLUMNS)
        self._focus: str | None = None

    def set_variants(self, variants: list[Variant]) -> None:
        self.beginResetModel()
        self.variants = list(variants)
        names = {v.id: v.name for v in self.variants}
        fair = comparison_parents(self.variants)
        self.rows = [_row(v, names, fair[v.id]) for v in self.variants]
        metrics = [METRIC_HEADERS[m] for m in metric_columns(self.variants)]
        self.columns = [*HEAD, *metrics, *TAIL]
        self.endResetModel()

    def column(self, name: str) -> int:
        """Index of a column by its header ('Accuracy', 'p50 ms', …); -1 when absent."""
        return self.columns.index(name) if name in self.columns else -1

    def row_of(self, run_id: str) -> int:
        """Source row of a variant id, -1 when absent."""
        return next((i for i, v in enumerate(self.variants) if v.id == run_id), -1)

    def focus(self, run_id: str | None) -> None:
        """Tint the parent and children of `run_id` (None clears)."""
        self._focus = run_id
        if self.variants:
            self.dataChanged.emit(
                self.index(0, 0),
                self.index(len(self.variants) - 1, len(self.columns) - 1),
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
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self.columns):
            return None
        name = self.columns[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return name
        if role == Qt.ItemDataRole.ToolTipRole and name.lower() in HEADLINE:
            return (f"{metric_label(name.lower())}; in brackets the change against the parent "
                    "(the dense fine-tuned control when the workspace has one)")
        return None

    def data(self, index: Index, role: int = 0) -> Any:
        if not index.isValid():
            return None
        row, name = index.row(), self.columns[index.column()]
        v, r = self.variants[row], self.rows[row]
        if role == Qt.ItemDataRole.DisplayRole:
            return r.shown[name]
        if role == Qt.ItemDataRole.UserRole:
            return r.raw[name]
        if role == Qt.ItemDataRole.ForegroundRole:
            color = _status_color(v) or self._metric_color(r, name)
            if r.collapsed and name in ("Name", "Status"):  # the row's red marker
                color = COLLAPSED_COLOR
            return QBrush(QColor(color)) if color else None
        if role == Qt.ItemDataRole.DecorationRole and name == "Name" and r.collapsed:
            return collapse_icon()
        if role == Qt.ItemDataRole.BackgroundRole:
            rel = self.relation(row)
            return QBrush(PARENT_TINT if rel == "parent" else CHILD_TINT) if rel else None
        if role == Qt.ItemDataRole.FontRole and name in ("Name", "ID"):
            font = QFont()
            if name == "Name":
                font.setBold(True)
            else:  # ids are for copying, not reading: keep them from crowding the row
                font.setPointSizeF(max(font.pointSizeF() - 1.5, 7.0))
            return font
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() >= NUMERIC_FROM:
            return _RIGHT
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = self._tooltip(v, r, name)
            if r.collapsed and (name in ("Name", "Status") or self._metric_color(r, name)):
                return "\n\n".join(x for x in (collapse_tip(r.collapse), tip) if x)
            return tip
        return None

    @staticmethod
    def _metric_color(r: Row, name: str) -> str | None:
        m = r.metric
        if m is None or METRIC_HEADERS[m["name"]] != name:
            return None
        return {"lost": LOST_COLOR, "gained": GAINED_COLOR}.get(m["change"])

    def _tooltip(self, v: Variant, r: Row, name: str) -> str | None:
        if name == "Name":
            return f"id {v.id}"  # the ID column is hidden on narrow windows
        if name == "Status":
            lines = [v.missing or "", v.error or "", *((v.card or {}).get("warnings") or [])]
            return "\n".join(x for x in lines if x) or None
        if name == "Parent" and v.parent:
            return f"parent id {v.parent}" + (f"\n⚠ {PARENT_NOTE}: run a dense fine-tuned control "
                                              "to compare fairly" if r.unfair else "")
        if name == "Method":
            return (v.card or {}).get("method")  # the full form, with parameter names
        if r.metric is not None and METRIC_HEADERS[r.metric["name"]] == name and r.compared:
            return comparison_tip(r)
        return None


def comparison_tip(r: Row) -> str:
    """Which parent a delta is against, in words (and why it may not be fair)."""
    m, compared = r.metric or {}, r.compared
    who = (f"the dense fine-tuned control {compared.name}" if r.kind == "control"
           else f"the parent {compared.name}") if compared else "no parent"
    tip = (f"{m['name']} {fmt_metric(m['name'], m['value'])} against {who}: "
           f"{fmt_metric(m['name'], m['parent_value'])}")
    return tip + (f"\n⚠ {PARENT_NOTE}" if r.unfair else "")


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
