"""Header card of the Model page: what the model is and its headline numbers."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QVBoxLayout, QWidget

from gui.widgets.anatomy_table import fmt_count

TILES = ("Task", "Parameters", "Non-zero", "Size", "GFLOPs", "Source")


class StatTile(QWidget):
    """A small caption over a large value."""

    def __init__(self, caption: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.caption = QLabel(caption.upper())
        self.caption.setStyleSheet("color: #666; font-size: 9pt; letter-spacing: 1px;")
        self.value = QLabel("–")
        self.value.setStyleSheet("font-size: 15pt; font-weight: 600;")
        self.value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.caption)
        layout.addWidget(self.value)

    def set(self, value: str, tooltip: str = "") -> None:
        self.value.setText(value)
        self.setToolTip(tooltip)


class AnatomyHeader(QFrame):
    """Description line plus a row of stat tiles."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("anatomyHeader")
        self.setStyleSheet(
            "#anatomyHeader { background: palette(base); border: 1px solid palette(mid);"
            " border-radius: 6px; }"
        )
        self.title = QLabel()
        self.title.setStyleSheet("font-size: 12pt; font-weight: 600;")
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.tiles = {name: StatTile(name) for name in TILES}
        grid = QGridLayout(self)
        grid.setContentsMargins(14, 10, 14, 12)
        grid.setHorizontalSpacing(28)
        grid.addWidget(self.title, 0, 0, 1, len(TILES))
        for col, name in enumerate(TILES):
            grid.addWidget(self.tiles[name], 1, col)
        grid.setColumnStretch(len(TILES) - 1, 1)  # the source path takes what is left

    def show_model(self, loaded: Any, summary: Any, spec: Any, flops_input: str) -> None:
        """Fill from a LoadedModel, its ModelSummary and the ModelSpec it came from."""
        self.title.setText(loaded.description or type(loaded.module).__name__)
        t = self.tiles
        labels = f", {loaded.num_labels} labels" if loaded.num_labels else ""
        t["Task"].set(f"{loaded.task}{labels}")
        t["Parameters"].set(fmt_count(summary.total_params), f"{summary.total_params:,} parameters")
        sparsity = f" ({summary.sparsity:.1%} zero)" if summary.sparsity >= 0.01 else ""
        t["Non-zero"].set(
            fmt_count(summary.nonzero_params) + sparsity, f"{summary.nonzero_params:,} non-zero"
        )
        t["Size"].set(f"{summary.total_bytes / 1e6:.2f} MB", f"{summary.total_bytes:,} bytes")
        gflops = f"{summary.total_flops / 1e9:.3f}" if summary.total_flops else "n/a"
        t["GFLOPs"].set(gflops, f"one forward on {flops_input}")
        t["GFLOPs"].caption.setText(f"GFLOPS ({flops_input})".upper())
        where = spec.path if spec.source == "builtin" else _tail(spec.path)
        t["Source"].set(f"{spec.source}: {where}", spec.path)


def _tail(path: str, limit: int = 48) -> str:
    """The end of a long path, where the file name is."""
    return path if len(path) <= limit else "…" + path[-(limit - 1) :]
