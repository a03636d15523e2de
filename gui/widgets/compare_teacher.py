"""The Compare page's 'Student vs teacher' panel: a distilled variant next to the model it learnt from.

Shown beside the plot while the selected variant is a distilled student; hidden otherwise, so
the plot gets the width back. The numbers come from engine.methods.distill.teacher_link (the
teacher run's own card when the teacher is a run of this workspace, else the distill step's
record), the same functions `workbench-cli show` prints from.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.methods.distill.teacher_link import TeacherComparison, student_vs_teacher

TONES = {"good": "#2e7d32", "bad": "#c62828", "": "#222"}
HEADERS = ("", "Teacher", "Student", "Student vs teacher")
STYLE = "#teacherPanel { background: #fafbfc; border: 1px solid #dcdfe4; border-radius: 6px; }"
ROWS = 4  # parameters, size, latency, metric


class TeacherPanel(QFrame):
    """Teacher | student | ratio for parameters, size, latency and metric; 'Select teacher'."""

    select_teacher = Signal(str)  # the teacher's run id

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("teacherPanel")
        self.setStyleSheet(STYLE)
        self.comparison: TeacherComparison | None = None
        title = QLabel("<b>Student vs its teacher</b>")
        self.teacher_name = QLabel()
        self.teacher_name.setWordWrap(True)
        self.teacher_name.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.select_btn = QPushButton("Select teacher")
        self.select_btn.setToolTip("Select the teacher's run in the table and on the plot")
        self.select_btn.clicked.connect(self._select)
        head = QHBoxLayout()
        head.addWidget(title, 1)
        head.addWidget(self.select_btn)
        self.grid = QGridLayout()
        self.grid.setHorizontalSpacing(12)
        self.grid.setVerticalSpacing(3)
        self.cells = [[QLabel() for _ in HEADERS] for _ in range(ROWS + 1)]
        for r, row in enumerate(self.cells):
            for c, cell in enumerate(row):
                cell.setAlignment(Qt.AlignmentFlag.AlignLeft if c == 0 else Qt.AlignmentFlag.AlignRight)
                self.grid.addWidget(cell, r, c)
        for c, text in enumerate(HEADERS):
            self.cells[0][c].setText(text)
            self.cells[0][c].setStyleSheet("color: #555; font-weight: 600;")
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #666;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.addLayout(head)
        layout.addWidget(self.teacher_name)
        layout.addLayout(self.grid)
        layout.addWidget(self.note)
        layout.addStretch(1)
        self.hide()

    def show_for(self, student: Any | None, variants: Iterable[Any]) -> None:
        """Fill the panel for the selected variant; hidden unless it is a distilled student."""
        self.comparison = student_vs_teacher(student, variants) if student is not None else None
        if self.comparison is None:
            self.hide()
            return
        c = self.comparison
        who = (f"<b>{html.escape(c.teacher.name)}</b> → <b>{html.escape(c.student.name)}</b>"
               if c.in_workspace else f"{html.escape(c.description)} (not a run of this "
               f"workspace) → <b>{html.escape(c.student.name)}</b>")  # fmt: skip
        self.teacher_name.setText(who)
        self.teacher_name.setToolTip(f"Teacher: {c.description}")
        for r, row in enumerate(c.rows(), start=1):
            texts = (row.label, row.teacher, row.student, row.ratio)
            for cell, text in zip(self.cells[r], texts, strict=True):
                cell.setText(text)
            self.cells[r][0].setStyleSheet("color: #555;")
            self.cells[r][3].setStyleSheet(f"color: {TONES[row.tone]}; font-weight: 600;")
        self.note.setText(c.latency_note)
        self.select_btn.setVisible(c.in_workspace)
        self.show()

    def texts(self) -> list[tuple[str, ...]]:
        """The grid as text, header first (for tests and copying)."""
        return [tuple(cell.text() for cell in row) for row in self.cells]

    def heading(self) -> str:
        """'teacher → student' as plain text."""
        from PySide6.QtGui import QTextDocument

        doc = QTextDocument()
        doc.setHtml(self.teacher_name.text())
        return doc.toPlainText()

    def _select(self) -> None:
        if self.comparison is not None and self.comparison.teacher.run_id:
            self.select_teacher.emit(self.comparison.teacher.run_id)


def beside(plot: QWidget, panel: TeacherPanel) -> QWidget:
    """The plot with the panel on its right (the panel hides itself for other variants)."""
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    row.addWidget(plot, 1)
    row.addWidget(panel, 0, Qt.AlignmentFlag.AlignTop)
    return box
