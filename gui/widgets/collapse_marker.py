"""The red collapse marker of the Compare table and its tooltip text (see engine.collapse)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPixmap

from engine.collapse import collapse_lines

COLLAPSED_COLOR = "#c62828"
_ICON: list[QIcon] = []  # built once, after the QApplication exists


def is_collapsed(c: dict[str, Any] | None) -> bool:
    return bool(c and c.get("collapsed"))


def collapse_tip(c: dict[str, Any] | None) -> str:
    """'Collapsed: perplexity rose … \\nlikely cause: …\\ntry: …\\nflagged because …', or ''."""
    return "\n".join(collapse_lines(c))


def collapse_icon() -> QIcon:
    """A red disc with a white cross: the row's model no longer works."""
    if not _ICON:
        pix = QPixmap(16, 16)
        pix.fill(Qt.GlobalColor.transparent)
        p = QPainter(pix)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(COLLAPSED_COLOR))
        p.drawEllipse(1, 1, 14, 14)
        p.setPen(QColor("white"))
        font = QFont()
        font.setPixelSize(11)
        font.setBold(True)
        p.setFont(font)
        p.drawText(QRectF(0, 0, 16, 16), Qt.AlignmentFlag.AlignCenter, "✕")
        p.end()
        _ICON.append(QIcon(pix))
    return _ICON[0]
