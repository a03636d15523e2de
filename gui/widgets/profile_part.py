"""ProfilePart: one panel of the Profile view (a chart or table drawn from a profile record).

Every part shows either its drawing or a short "not measured: why" line (never a blank plot),
and gives its numbers as CSV rows, so the page can export each part as PNG + CSV.
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QStackedWidget, QVBoxLayout, QWidget

from gui.widgets.plot_export import add_plot_export

BOUND_COLORS = {"compute": "#4a7fc1", "memory": "#e08a2c", "unknown": "#9e9e9e"}
ARTIFACT_COLORS = ("#4a7fc1", "#2e7d32", "#c62828", "#8e24aa", "#00838f", "#6d4c41")


def bound_color(bound: str | None) -> str:
    return BOUND_COLORS.get(bound or "unknown", BOUND_COLORS["unknown"])


def fmt_ms(ms: float | None) -> str:
    """'0.42 ms' / '12.3 ms' / '1,234 ms' ('–' when unknown)."""
    if ms is None:
        return "–"
    if ms >= 100:
        return f"{ms:,.0f} ms"
    return f"{ms:.3g} ms" if ms < 1 else f"{ms:.1f} ms"


def fmt_mb(mb: float | None) -> str:
    if mb is None:
        return "–"
    return f"{mb:.3g} MB" if mb < 10 else f"{mb:,.1f} MB"


def fmt_share(share: float) -> str:
    """'31%', '<1%' for a small non-zero share (never a misleading '0%')."""
    return "<1%" if 0 < share < 0.01 else f"{share:.0%}"


def fmt_flops(flops: float | None) -> str:
    if not flops:
        return "0"
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(flops) >= div:
            return f"{flops / div:.3g} {unit}FLOP"
    return f"{flops:g} FLOP"


def static_plot(left: str | None = None, bottom: str | None = None,
                fixed: bool = True) -> pg.PlotWidget:
    """A white chart for a finished measurement: no context menu or auto-range button, axis
    units in their labels (never pyqtgraph's "(x0.001)" rescaling), grey axes; `fixed`: no
    mouse zoom or pan."""
    plot = pg.PlotWidget(background="w")
    plot.setMenuEnabled(False)
    if fixed:
        plot.setMouseEnabled(x=False, y=False)
    plot.hideButtons()
    for axis, label in (("left", left), ("bottom", bottom)):
        if label:
            plot.getAxis(axis).setLabel(label)
        plot.getAxis(axis).enableAutoSIPrefix(False)
        plot.getAxis(axis).setTextPen("#333")
        plot.getAxis(axis).setPen("#888")
    return plot


def rich_label() -> QLabel:
    """A word-wrapped, selectable rich-text label aligned top-left (verdicts, energy lines)."""
    label = QLabel()
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class ProfilePart(QWidget):
    """Title + (content | 'not measured' text). Subclasses fill `content` and implement
    `draw(record) -> str` (an empty string once drawn, else why the part is not measured) and
    `csv_table() -> (header, rows)`."""

    stem = "part"  # file name of this part's PNG/CSV
    title = ""

    def __init__(self, content: QWidget, parent: QWidget | None = None):
        super().__init__(parent)
        self.heading = QLabel(self.title)
        self.heading.setStyleSheet("color: #333; font-weight: 600;")
        self.missing = QLabel()
        self.missing.setWordWrap(True)
        self.missing.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.missing.setStyleSheet("color: #666; border: 2px dashed #ccc; border-radius: 8px; padding: 12px;")
        self.content = content
        self._stack = QStackedWidget()
        self._stack.addWidget(content)
        self._stack.addWidget(self.missing)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.heading)
        layout.addWidget(self._stack, 1)
        self.record: dict[str, Any] | None = None
        for plot in content.findChildren(pg.PlotWidget):  # the part's numbers, as its CSV file
            add_plot_export(plot, f"profile {self.stem}", data=self.csv_table)

    def show_record(self, record: dict[str, Any]) -> None:
        """Draw `record`; a part it does not measure shows why instead of an empty plot."""
        self.record = record
        why = self.draw(record)
        self.missing.setText(f"Not measured: {why}" if why else "")
        self._stack.setCurrentIndex(1 if why else 0)

    def missing_text(self) -> str:
        """The 'Not measured: …' line shown ('' when the part is drawn)."""
        return self.missing.text() if self._stack.currentIndex() == 1 else ""

    def draw(self, record: dict[str, Any]) -> str:
        raise NotImplementedError

    def csv_table(self) -> tuple[list[str], list[list[Any]]]:
        raise NotImplementedError
