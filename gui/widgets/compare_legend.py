"""The Compare page's one-line legend: what the table's tints and the red dot mean."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel

from gui.widgets.compare_table import CHILD_TINT, PARENT_TINT


def compare_legend() -> QLabel:
    """Parent / children tints of the selected row, the collapsed dot, double-click."""
    legend = QLabel(
        f"<span style='background:{PARENT_TINT.name()}'>&nbsp;parent&nbsp;</span>&nbsp;"
        f"<span style='background:{CHILD_TINT.name()}'>&nbsp;children&nbsp;</span>"
        "&nbsp;of the selected variant · metric (change vs its parent) · "
        "<span style='color:#c62828'>●</span>&nbsp;collapsed · "
        "double-click: Export page"
    )
    legend.setStyleSheet("color: #555;")
    legend.setToolTip("A red dot marks a collapsed variant: its metric is far worse than its "
                      "parent's (limits: the recipe's checks section)")
    return legend
