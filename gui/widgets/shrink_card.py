"""'Did it really shrink and speed up?': a variant's parameters, sizes and latency vs its parent.

The numbers and the plain-English verdict come from `engine.shrink.shrink_report`, so the
GUI, the CLI and the stored card always tell the same story.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from engine.metric_text import fmt_delta, fmt_metric
from engine.shrink import NOISE, shrink_report
from engine.shrink_verdict import size_direction
from gui.widgets.anatomy_table import fmt_count

GOOD, WARN, BAD, MUTED, INK = "#2e7d32", "#b26a00", "#c62828", "#666", "#222"
# outcome -> (mark, colour) for the verdict line
OUTCOME_STYLE = {
    "smaller_faster": ("✔", GOOD),
    "smaller": ("◐", GOOD),
    "faster": ("◐", GOOD),
    "zip_only": ("≈", WARN),
    "none": ("✘", WARN),
    "missing": ("–", MUTED),
}
PARAM_ROWS = (
    ("params_dense", "dense", "#9e9e9e", "parameters before pruning"),
    ("params_present", "present", "#4c72b0", "physically in the tensors (what the file stores)"),
    ("params_nonzero", "non-zero", "#d62728", "present and not zero"),
)


class ParamBars(QWidget):
    """Three horizontal bars on one scale: dense, physically present and non-zero parameters."""

    ROW_H, LABEL_W, VALUE_W = 24, 72, 150

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.rows: list[tuple[str, str, float | None]] = []  # (label, colour, count)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(self.ROW_H * len(PARAM_ROWS))

    def sizeHint(self) -> QSize:
        return QSize(360, self.ROW_H * len(PARAM_ROWS))

    def set_report(self, report: dict[str, Any]) -> None:
        """Take the three counts from a shrink report."""
        self.rows = [(label, color, report.get(key)) for key, label, color, _ in PARAM_ROWS]
        tips = [f"{label}: {_count(report.get(key))} — {tip}" for key, label, _, tip in PARAM_ROWS]
        self.setToolTip("\n".join(tips))
        self.update()

    def texts(self) -> list[str]:
        """'dense 875.78k', 'present 875.78k (100%)', ... as drawn (for tests and copying)."""
        dense = self.rows[0][2] if self.rows else None
        out = []
        for label, _, count in self.rows:
            share = f" ({count / dense:.0%})" if count is not None and dense and label != "dense" else ""
            out.append(f"{label} {_count(count)}{share}")
        return out

    def paintEvent(self, event: object) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        dense = self.rows[0][2] if self.rows else None
        bar_w = max(self.width() - self.LABEL_W - self.VALUE_W, 40)
        for i, ((label, color, count), text) in enumerate(zip(self.rows, self.texts(), strict=True)):
            y = i * self.ROW_H
            p.setPen(QColor(MUTED))
            p.drawText(QRectF(0, y, self.LABEL_W - 8, self.ROW_H), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, label)
            track = QRectF(self.LABEL_W, y + 5, bar_w, self.ROW_H - 10)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor("#eceff1"))
            p.drawRoundedRect(track, 3, 3)
            if count is not None and dense:
                filled = QRectF(track.x(), track.y(), track.width() * min(count / dense, 1.0), track.height())
                p.setBrush(QColor(color))
                p.drawRoundedRect(filled, 3, 3)
            p.setPen(QColor(INK))
            value = text.split(" ", 1)[1]
            p.drawText(QRectF(self.LABEL_W + bar_w + 10, y, self.VALUE_W - 10, self.ROW_H), Qt.AlignmentFlag.AlignVCenter, value)
        p.end()


def _count(n: float | None) -> str:
    return fmt_count(n) if isinstance(n, (int, float)) else "–"


def _mb(n: float | None) -> str:
    return f"{n / 1e6:.2f} MB" if isinstance(n, (int, float)) else "–"


def _ms(n: float | None) -> str:
    return f"{n:.2f} ms" if isinstance(n, (int, float)) else "–"


def _ratio_html(ratio: float | None, good: bool, note: str = "", bad: bool = False) -> str:
    if ratio is None:
        return f"<span style='color:{MUTED}'>–</span>"
    color = GOOD if good else WARN if bad else MUTED
    tail = f" <span style='color:{MUTED}'>{note}</span>" if note else ""
    return f"<span style='color:{color}; font-weight:600'>{ratio:.2f}×</span>{tail}"


def _size_html(ratio: float | None, who: str) -> str:
    """'0.60× of the parent' (green when smaller), '1.20× of the parent: larger' (amber)."""
    way = size_direction(ratio) if ratio is not None else "same"
    note = f"of the {who}" + (": larger" if way == "larger" else "")
    return _ratio_html(ratio, way == "smaller", note, bad=way == "larger")


def _speed_html(speed: float | None, noise: bool) -> str:
    """'1.50× faster' (green), '1.25× slower' (latency 1.25× the parent's), '1.02× noise'."""
    if speed is None or noise or 1 - NOISE < speed < 1 + NOISE:
        return _ratio_html(speed, False, "noise" if speed is not None else "")
    if speed >= 1 + NOISE:
        return _ratio_html(speed, True, "faster")
    return _ratio_html(1 / speed, False, "slower", bad=True)


def metric_row(r: dict[str, Any]) -> tuple[str, str, str, str]:
    """(metric name, this variant, parent, change as rich text): the quality next to size and speed."""
    m = r.get("metric")
    if not m:
        return ("metric", "–", "–", f"<span style='color:{MUTED}'>–</span>")
    name = m["name"]
    color = {"lost": BAD, "gained": GOOD}.get(m["change"], MUTED)
    note = {"lost": "worse", "gained": "better", "kept": "within tolerance"}[m["change"]]
    c = r.get("collapse") or {}
    if c.get("collapsed"):  # far beyond 'worse': the model no longer works
        note = f"<b style='color:{BAD}'>✘ collapsed ({html.escape(c.get('change', ''))})</b>"
    change = (f"<span style='color:{color}; font-weight:600'>{html.escape(fmt_delta(name, m['delta']))}"
              f"</span> <span style='color:{MUTED}'>{note}</span>")
    return (name, fmt_metric(name, m["value"]), fmt_metric(name, m["parent_value"]), change)


def comparison_rows(r: dict[str, Any], who: str = "parent") -> list[tuple[str, str, str, str]]:
    """(what, this variant, parent, ratio as rich text) for ONNX size, zip size, latency, metric."""
    dense_zeros = r["outcome"] in ("zip_only", "none") and r["params_present"] == r["params_dense"]
    return [
        ("ONNX file", _mb(r["onnx_bytes"]), _mb(r["parent_onnx_bytes"]), _size_html(r["size_ratio"], who)),
        ("zipped", _mb(r["zip_bytes"]), _mb(r["parent_zip_bytes"]), _size_html(r["zip_ratio"], who)),
        ("latency p50", _ms(r["latency_ms_p50"]), _ms(r["parent_latency_ms_p50"]),
         _speed_html(r["speedup"], bool(r["latency_noise"]) or dense_zeros)),
        metric_row(r),
    ]  # fmt: skip


STYLE = "#shrinkCard { background: palette(base); border: 1px solid palette(mid); border-radius: 6px; }"


def verdict_html(r: dict[str, Any]) -> str:
    """The verdict line; for a collapsed variant the collapse first, its cause, what to try,
    then the size and speed verdict, muted (it is no success while the model does not work)."""
    mark, color = OUTCOME_STYLE.get(r["outcome"], ("", INK))
    if (r.get("metric") or {}).get("change") == "lost":  # smaller or faster is no win then
        mark, color = "⚠", WARN
    c = r.get("collapse") or {}
    if not r.get("collapsed") or not c.get("headline"):
        return f"<span style='color:{color}; font-size:11pt; font-weight:600'>{mark} {html.escape(r['verdict'])}</span>"
    out = f"<span style='color:{BAD}; font-size:11pt; font-weight:600'>✘ {html.escape(c['headline'])}</span>"
    for label, key in (("Likely cause", "causes"), ("Try", "advice")):
        if c.get(key):
            out += f"<br><b>{label}:</b> " + html.escape("; ".join(c[key])) + "."
    out += f"<br><span style='color:{MUTED}'>Flagged because {html.escape(c.get('rule', ''))}.</span>"
    size = r.get("size_verdict") or ""
    return out + f"<br><span style='color:{MUTED}'>Size and speed: {html.escape(size)}</span>"


class ShrinkCard(QFrame):
    """Verdict, parameter bars, size / zip / latency against the parent, and the reasons."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("shrinkCard")
        self.setStyleSheet(STYLE)
        self.report: dict[str, Any] = {}
        title = QLabel("Did it really shrink and speed up?")
        title.setStyleSheet("font-size: 11pt; font-weight: 600;")
        self.verdict = QLabel()
        self.verdict.setWordWrap(True)
        self.verdict.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.bars = ParamBars()
        self.table = QGridLayout()
        self.table.setHorizontalSpacing(18)
        self.table.setVerticalSpacing(4)
        self.cells: dict[tuple[int, int], QLabel] = {}
        self.heads: list[QLabel] = []
        for col, head in enumerate(("", "this variant", "parent", "ratio / change")):
            label = QLabel(head)
            label.setStyleSheet(f"color: {MUTED}; font-size: 9pt;")
            self.table.addWidget(label, 0, col)
            self.heads.append(label)
        for row in range(1, 5):
            for col in range(4):
                cell = QLabel()
                cell.setTextFormat(Qt.TextFormat.RichText)
                if col == 0:
                    cell.setStyleSheet(f"color: {MUTED};")
                self.table.addWidget(cell, row, col)
                self.cells[(row, col)] = cell
        self.table.setColumnStretch(3, 1)
        self.reasons = QLabel()
        self.reasons.setWordWrap(True)
        self.reasons.setTextFormat(Qt.TextFormat.RichText)
        self.reasons.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.reasons.setStyleSheet("color: #333;")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(8)
        layout.addWidget(title)
        layout.addWidget(self.verdict)
        layout.addWidget(self.bars)
        layout.addLayout(self.table)
        layout.addWidget(self.reasons)
        layout.addStretch(1)

    def show_card(
        self, card: dict[str, Any], parent_card: dict[str, Any] | None, control: bool = False
    ) -> dict[str, Any]:
        """Compute the shrink report from the two cards (fresh: the parent may have been re-exported).

        `control`: the parent card is the dense fine-tuned control, not the recorded parent.
        """
        r = shrink_report(card, parent_card, "control" if control else "parent")
        self.report = r
        self.heads[2].setText("dense control" if control else "parent")
        self.verdict.setText(verdict_html(r))
        self.setStyleSheet(STYLE.replace("palette(mid)", BAD if r.get("collapsed") else "palette(mid)"))
        self.bars.set_report(r)
        for row, cells in enumerate(comparison_rows(r, "control" if control else "parent"), start=1):
            for col, text in enumerate(cells):
                self.cells[(row, col)].setText(text)
        items = "".join(f"<li>{html.escape(line)}</li>" for line in r["reasons"])
        self.reasons.setText(f"<ul style='margin-left:-24px'>{items}</ul>" if items else "")
        self.reasons.setVisible(bool(items))
        return r

    def row_text(self, row: int) -> list[str]:
        """Plain text of one comparison row (1 ONNX file, 2 zipped, 3 latency, 4 metric), for tests."""
        from PySide6.QtGui import QTextDocument

        out = []
        for col in range(4):
            doc = QTextDocument()
            doc.setHtml(self.cells[(row, col)].text())
            out.append(doc.toPlainText())
        return out
