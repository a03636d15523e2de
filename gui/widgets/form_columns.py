"""Layout pieces for form pages: titled group boxes stacked in a vertically scrolling column."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QGroupBox, QScrollArea, QVBoxLayout, QWidget


def scroll_column(*widgets: QWidget) -> QScrollArea:
    """A vertically scrolling column holding `widgets` top to bottom."""
    inner = QWidget()
    col = QVBoxLayout(inner)
    col.setContentsMargins(0, 0, 8, 0)
    col.setSpacing(12)
    for w in widgets:
        col.addWidget(w)
    col.addStretch(1)
    area = QScrollArea()
    area.setWidget(inner)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return area


def group_box(title: str, widget: QWidget) -> QGroupBox:
    """`widget` in a titled group box."""
    box = QGroupBox(title)
    lay = QVBoxLayout(box)
    lay.addWidget(widget)
    return box
