"""'Teacher: <description> (<metric>)' over a distilled variant's details, with a jump to the teacher.

One line (elided; the tooltip has it whole) so the Export page keeps its room at 1024 × 700.
The words come from engine.methods.distill.teacher_link.teacher_line, as `workbench-cli show`
prints them; 'Show teacher' appears only when the teacher is a finished run of this workspace.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QPushButton, QWidget

from engine.methods.distill.teacher_link import find_teacher, teacher_line
from gui.widgets.elided_label import ElidedLabel

STYLE = "#teacherLine { background: #f3f0fa; border: 1px solid #cfc6e6; border-radius: 6px; }"


class TeacherLine(QFrame):
    """Hidden unless the variant was distilled; `open_teacher(run_id)` asks to show the teacher."""

    open_teacher = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("teacherLine")
        self.setStyleSheet(STYLE)
        self.teacher_id: str | None = None
        self.label = ElidedLabel(mode=Qt.TextElideMode.ElideMiddle)  # the tooltip has it whole
        self.button = QPushButton("Show teacher")
        self.button.setToolTip("Select the teacher's run (its own card, files and numbers)")
        self.button.clicked.connect(self._open)
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 3, 8, 3)
        row.addWidget(self.label, 1)
        row.addWidget(self.button)
        self.hide()

    def show_for(self, card: dict[str, Any], variants: Iterable[Any]) -> None:
        """The teacher of the variant whose card this is; hidden when it was not distilled."""
        teacher = find_teacher(card, variants)
        line = teacher_line(card, teacher)
        self.teacher_id = teacher.id if teacher is not None else None
        if line is None:
            self.hide()
            return
        self.label.setText(line)
        self.button.setVisible(teacher is not None)
        self.show()

    def text(self) -> str:
        """The whole line (the label may draw it elided)."""
        return self.label.text()

    def _open(self) -> None:
        if self.teacher_id:
            self.open_teacher.emit(self.teacher_id)
