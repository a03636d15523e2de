"""The dashed 'nothing here yet' box that pages show for an empty state."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget


def hint_box(html: str, button: QPushButton | None = None, word_wrap: bool = True) -> QWidget:
    """A dashed box with a centred message (and an optional button) for empty states."""
    box = QWidget()
    box.setObjectName("hintBox")
    box.setStyleSheet("#hintBox { border: 2px dashed #bbb; border-radius: 10px; }")
    label = QLabel(html)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    if word_wrap:
        label.setWordWrap(True)
    label.setStyleSheet("color: #555;")
    layout = QVBoxLayout(box)
    layout.addStretch(1)
    layout.addWidget(label)
    if button is not None:
        layout.addWidget(button, 0, Qt.AlignmentFlag.AlignHCenter)
    layout.addStretch(1)
    return box
