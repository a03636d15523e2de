"""A one-line label that elides what does not fit and never changes its height.

Used for lines that change while the user types (the estimate, "Cannot run yet — …"):
a wrapping label would grow and shrink and move the whole form under the cursor.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget


class StatusLine(QLabel):
    """Always one line tall; text that is too long ends in '…' and is whole in the tooltip."""

    def __init__(self, text: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self._full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.set_line(text)

    def set_line(self, text: str) -> None:
        """Show `text` (one line; elided to the width, whole in the tooltip)."""
        self._full = " ".join(text.split())  # newlines would make a second line
        self.setToolTip(self._full if self._full else "")
        self._elide()

    def full_text(self) -> str:
        """The whole text, however much of it fits."""
        return self._full

    def setFont(self, font) -> None:  # noqa: N802 (Qt's name)
        super().setFont(font)
        self.setFixedHeight(self.fontMetrics().height() + 2)
        self._elide()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return QSize(100, self.fontMetrics().height() + 2)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return QSize(40, self.fontMetrics().height() + 2)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        self.setFixedHeight(self.fontMetrics().height() + 2)
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, max(self.width(), 40))
        super().setText(shown)
