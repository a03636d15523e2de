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
from engine.shrink import NOISE, SMALLER, shrink_report
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


def _ratio_html(ratio: float | None, good: bool, note: str = "") -> str:
    if ratio is None:
        return f"<span style='color:{MUTED}'>–</span>"
    color = GOOD if good else MUTED
    tail = f" <span style='color:{MUTED}'>{note}</span>" if note else ""
    return f"<span style='color:{color}; font-weight:600'>{ratio:.2f}×</span>{tail}"


def metric_row(r: dict[str, Any]) -> tuple[str, str, str, str]:
    """(metric name, this variant, parent, change as rich text): the quality next to size and speed."""
    m = r.get("metric")
    if not m:
        return ("metric", "–", "–", f"<span style='color:{MUTED}'>–</span>")
    name = m["name"]
    color = {"lost": BAD, "gained": GOOD}.get(m["change"], MUTED)
    note = {"lost": "worse", "gained": "better", "kept": "within tolerance"}[m["change"]]
    change = (f"<span style='color:{color}; font-weight:600'>{html.escape(fmt_delta(name, m['delta']))}"
              f"</span> <span style='color:{MUTED}'>{note}</span>")
    return (name, fmt_metric(name, m["value"]), fmt_metric(name, m["parent_value"]), change)


def comparison_rows(r: dict[str, Any], who: str = "parent") -> list[tuple[str, str, str, str]]:
    """(what, this variant, parent, ratio as rich text) for ONNX size, zip size, latency, metric."""
    size, zipped, speed = r["size_ratio"], r["zip_ratio"], r["speedup"]
    dense_zeros = r["outcome"] in ("zip_only", "none") and r["params_present"] == r["params_dense"]
    speed_note = ""
    if speed is not None:
        speed_note = "noise" if r["latency_noise"] or dense_zeros else "faster" if speed > 1 else "slower"
    return [
        ("ONNX file", _mb(r["onnx_bytes"]), _mb(r["parent_onnx_bytes"]),
         _ratio_html(size, size is not None and size < SMALLER, f"of the {who}")),
        ("zipped", _mb(r["zip_bytes"]), _mb(r["parent_zip_bytes"]),
         _ratio_html(zipped, zipped is not None and zipped < SMALLER, f"of the {who}")),
        ("latency p50", _ms(r["latency_ms_p50"]), _ms(r["parent_latency_ms_p50"]),
         _ratio_html(speed, speed is not None and speed >= 1 + NOISE and not dense_zeros, speed_note)),
        metric_row(r),
    ]  # fmt: skip


class ShrinkCard(QFrame):
    """Verdict, parameter bars, size / zip / latency against the parent, and the reasons."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("shrinkCard")
        self.setStyleSheet(
            "#shrinkCard { background: palette(base); border: 1px solid palette(mid);"
            " border-radius: 6px; }"
        )
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
        mark, color = OUTCOME_STYLE.get(r["outcome"], ("", INK))
        if (r.get("metric") or {}).get("change") == "lost":  # smaller or faster is no win then
            mark, color = "⚠", WARN
        self.verdict.setText(
            f"<span style='color:{color}; font-size:11pt; font-weight:600'>{mark} "
            f"{html.escape(r['verdict'])}</span>"
        )
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
