"""One tile per deployable file of a variant (fp32 first, then each quantized file).

Every number on a tile was measured on that file in onnxruntime: size on disk, latency
(timed side by side with the fp32 file and the parent), the file's own metric on the
validation split, parity with the fp32 file, the ONNX checker, and the did-it-shrink
verdict with its plain-words reasons ("int8 is not faster here because ...").
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from gui.widgets.artifact_text import (
    MUTED,
    checker_text,
    kind_title,
    latency_text,
    metric_text,
    parity_text,
    size_text,
    truth_lines,
    verdict_for,
    verdict_text,
)

ROWS = (
    ("size", "Size"),
    ("latency", "Latency"),
    ("metric", "Metric"),
    ("parity", "Parity"),
    ("checker", "Checker"),
)
EMPTY = "This variant has no deployable files yet: export it first."


def plain(rich: str) -> str:
    """Text of a rich-text label, markup stripped (tests and copying)."""
    doc = QTextDocument()
    doc.setHtml(rich)
    return doc.toPlainText()


def _label(rich: bool = True) -> QLabel:
    label = QLabel()
    label.setTextFormat(Qt.TextFormat.RichText if rich else Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class ArtifactTile(QFrame):
    """One file: title, measured rows, verdict and reasons; `values[key]` per row."""

    def __init__(
        self, art: dict[str, Any], fp32: dict[str, Any], shrink: dict[str, Any] | None, nth: int = 0
    ):
        super().__init__()
        self.kind = str(art.get("kind") or "?")
        self.setObjectName("artifactTile")
        self.setStyleSheet(
            "#artifactTile { background: palette(base); border: 1px solid palette(mid);"
            " border-radius: 6px; }"
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 10)
        layout.setSpacing(6)
        self.title = _label()
        method = art.get("method")
        self.title.setText(
            f"<span style='font-size:12pt; font-weight:700'>{html.escape(kind_title(self.kind))}</span>"
            + (f"<span style='color:{MUTED}'> · {html.escape(str(method))}</span>" if method else "")
        )
        self.title.setToolTip(str(art.get("path") or ""))
        layout.addWidget(self.title)
        grid = QGridLayout()
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(5)
        is_fp32 = art is fp32
        texts = {
            "size": size_text(art, fp32),
            "latency": latency_text(art, is_fp32),
            "metric": metric_text(art, fp32),
            "parity": parity_text(art),
            "checker": checker_text(art),
        }
        self.values: dict[str, QLabel] = {}
        for row, (key, caption) in enumerate(ROWS):
            cap = QLabel(caption)
            cap.setStyleSheet(f"color: {MUTED};")
            value = _label()
            value.setText(texts[key])
            grid.addWidget(cap, row, 0, Qt.AlignmentFlag.AlignTop)
            grid.addWidget(value, row, 1, Qt.AlignmentFlag.AlignTop)
            self.values[key] = value
        grid.setColumnStretch(1, 1)
        layout.addLayout(grid)
        self._add_truth(layout, art, verdict_for(art, shrink, nth))

    def _add_truth(self, layout: QVBoxLayout, art: dict[str, Any], entry: dict[str, Any] | None) -> None:
        """The verdict in colour and, under it, each reason or note as a bullet."""
        text, color = verdict_text(entry)
        self.verdict = _label()
        self.verdict.setText(f"<span style='color:{color}; font-weight:600'>{html.escape(text)}</span>")
        self.verdict.setVisible(bool(text))
        layout.addWidget(self.verdict)
        self.lines = truth_lines(art, entry)
        self.reasons = _label()
        self.reasons.setText("".join(
            f"<p style='margin:0 0 4px 0'>• {html.escape(line)}</p>" for line in self.lines))
        self.reasons.setVisible(bool(self.lines))
        layout.addWidget(self.reasons)

    def text(self, key: str) -> str:
        """Plain text of one row ('size', 'latency', 'metric', 'parity', 'checker')."""
        return plain(self.values[key].text())


class ArtifactTiles(QScrollArea):
    """The tiles of one card, one under the other, scrolling when they do not fit."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.tiles: list[ArtifactTile] = []
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._inner = QWidget()
        self._box = QVBoxLayout(self._inner)
        self._box.setContentsMargins(4, 4, 4, 4)
        self._box.setSpacing(10)
        self.empty = QLabel(EMPTY)
        self.empty.setStyleSheet(f"color: {MUTED};")
        self._box.addWidget(self.empty)
        self._box.addStretch(1)
        self.setWidget(self._inner)

    def show_card(self, card: dict[str, Any]) -> None:
        """Rebuild the tiles from card["artifacts"] (fp32 first) and card["shrink"]."""
        for tile in self.tiles:
            self._box.removeWidget(tile)
            tile.deleteLater()
        self.tiles = []
        arts = [a for a in card.get("artifacts") or [] if isinstance(a, dict)]
        arts.sort(key=lambda a: a.get("kind") != "onnx-fp32")  # stable: fp32 first, rest in order
        fp32 = next((a for a in arts if a.get("kind") == "onnx-fp32"), {})
        seen: dict[str, int] = {}  # two int4 steps: the nth tile of a kind gets the nth verdict
        for i, art in enumerate(arts):
            nth = seen[str(art.get("kind"))] = seen.get(str(art.get("kind")), -1) + 1
            tile = ArtifactTile(art, fp32, card.get("shrink"), nth)
            self._box.insertWidget(i + 1, tile)
            self.tiles.append(tile)
        self.empty.setVisible(not arts)

    def viewportEvent(self, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        # wrapped labels report a wide minimum; pin the tiles to the visible width (it shrinks
        # when the vertical bar appears) so they wrap instead of running under it
        if event.type() == QEvent.Type.Resize:
            self._inner.setFixedWidth(self.viewport().width())
        return super().viewportEvent(event)

    def has_quantized(self) -> bool:
        """Whether any tile is a file other than the fp32 one."""
        return any(t.kind != "onnx-fp32" for t in self.tiles)
