"""The note under a comparison: which parent it uses, and a fair one to make when it is unfair.

A pruned child fine-tuned on the data, compared with a baseline that never trained, mixes
training with pruning. The note says so and offers the dense fine-tuned control (same
model, data and training, no methods) as a recipe on the Optimize page, ready to Run.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from engine.fair_parent import PARENT_NOTE, comparison_parent, control_recipe, needs_control
from engine.store import Variant
from gui.state import AppState

WARN_STYLE = "#fairNote { background: #fff4e0; border: 1px solid #e0b060; border-radius: 6px; }"
INFO_STYLE = "#fairNote { background: #eef5ee; border: 1px solid #9cc79c; border-radius: 6px; }"
QUIET_STYLE = "#fairNote { background: transparent; border: 1px solid #dcdfe4; border-radius: 6px; }"
QUIET_TEXT = "Select a variant: this line says which parent its changes are measured against."
RESERVED_LINES = 3  # the longest note wraps to three lines at 1024 px


class FairParentNote(QFrame):
    """Hidden when the comparison is fair; else the reason and a 'Create dense control' button."""

    def __init__(self, state: AppState, parent: QWidget | None = None, reserve: bool = False):
        """reserve: keep the note's room when there is nothing to say (a table under it
        must not move between the two clicks of a double-click)."""
        super().__init__(parent)
        self.state = state
        self.reserve = reserve
        self.setObjectName("fairNote")
        self.child: Variant | None = None
        self.kind = ""  # 'unfair' | 'control' | '' (nothing to say)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.button = QPushButton("Create dense control recipe")
        self.button.setToolTip("Same model, data and training as this variant, no methods: opens "
                               "it on the Optimize page, ready to run")
        self.button.clicked.connect(self.create_control)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.button, 0, Qt.AlignmentFlag.AlignVCenter)
        if reserve:
            lines = self.label.fontMetrics().lineSpacing() * RESERVED_LINES
            self.setMinimumHeight(lines + 2 * 6 + 2)
        self._quiet()

    def show_for(self, child: Variant | None, variants: list[Variant]) -> None:
        """Explain the comparison of `child` (None: hidden, or the neutral line when reserved)."""
        self.child, self.kind = child, ""
        compared, kind = comparison_parent(variants, child) if child else (None, "parent")
        if child is not None and kind == "control" and compared is not None:
            self.kind = "control"
            text = (f"Compared with the dense fine-tuned control <b>{html.escape(compared.name)}</b> "
                    "(same model, data and training, no methods) instead of the untrained parent.")
        elif child is not None and compared is not None and needs_control(child, compared.card):
            self.kind = "unfair"
            text = (f"⚠ <b>{html.escape(PARENT_NOTE.capitalize())}.</b> {html.escape(child.name)} was "
                    f"fine-tuned, its parent {html.escape(compared.name)} was not. Run a dense "
                    "fine-tuned control (same model, data and training, no methods) as the fair parent.")
        elif child is not None and compared is not None and self.reserve:
            text = f"Changes are measured against its parent <b>{html.escape(compared.name)}</b>."
        else:
            self._quiet()
            return
        style = {"unfair": WARN_STYLE, "control": INFO_STYLE}.get(self.kind, QUIET_STYLE)
        self.setStyleSheet(style)
        self.label.setText(text)
        self.button.setVisible(self.kind == "unfair")
        self.show()

    def _quiet(self) -> None:
        """Nothing to explain: hidden, or a neutral line holding the note's room."""
        if not self.reserve:
            self.hide()
            return
        self.setStyleSheet(QUIET_STYLE)
        self.label.setText(f"<span style='color:#666'>{html.escape(QUIET_TEXT)}</span>")
        self.button.hide()
        self.show()

    def text(self) -> str:
        """The note as plain text (for tests and copying)."""
        from PySide6.QtGui import QTextDocument

        doc = QTextDocument()
        doc.setHtml(self.label.text())
        return doc.toPlainText()

    def create_control(self) -> None:
        """Make the control the current recipe and open the Optimize page to run it."""
        if self.child is None:
            return
        self.state.set_recipe(control_recipe(self.child))
        self.state.navigate.emit("Optimize")
