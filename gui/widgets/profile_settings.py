"""The Profile page's settings column: the form generated from ProfileConfig, scrolling."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QScrollArea, QVBoxLayout, QWidget


def settings_panel(width: int) -> tuple[QScrollArea, Any]:
    """(the scrolling column, its ConfigForm) — the form is None when the engine's profile
    module is missing: the page still shows stored profiles."""
    box = QWidget()
    col = QVBoxLayout(box)
    col.setContentsMargins(0, 0, 6, 0)
    title = QLabel("Settings")
    title.setStyleSheet("font-weight: 600; color: #333;")
    col.addWidget(title)
    form = None
    try:
        from engine.analysis.profile import ProfileConfig  # imported with the page, not at start-up
        from gui.widgets.config_form import ConfigForm

        form = ConfigForm(ProfileConfig, path="profile")
        col.addWidget(form)
    except ImportError as exc:
        col.addWidget(QLabel(f"Profiling is unavailable here: {exc}"))
    col.addStretch(1)
    scroll = QScrollArea()
    scroll.setWidget(box)
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QScrollArea.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.setFixedWidth(width)
    return scroll, form
