"""Header card of the Model page: what the model is and its headline numbers."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QVBoxLayout, QWidget

from gui.widgets.anatomy_table import fmt_count
from gui.widgets.elided_label import ElidedLabel

TILES = ("Task", "Parameters", "Non-zero", "Size", "GFLOPs")


class StatTile(QWidget):
    """A small caption over a large value."""

    def __init__(self, caption: str, parent: QWidget | None = None, elide: bool = False):
        super().__init__(parent)
        self.caption = QLabel(caption.upper())
        self.caption.setStyleSheet("color: #666; font-size: 9pt; letter-spacing: 1px;")
        # an elided value (a path) never asks for its whole width, so it cannot widen the window
        self.value = ElidedLabel("–") if elide else QLabel("–")
        self.value.setStyleSheet("font-size: 14pt; font-weight: 600;")
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
        # the source path on a line of its own, elided in the middle (both ends tell something)
        self.source = ElidedLabel("", Qt.TextElideMode.ElideMiddle)
        self.source.setStyleSheet("color: #555;")
        self.lineage = QLabel()  # a variant: its parent and what changed against it
        self.lineage.setWordWrap(True)
        self.lineage.setStyleSheet("color: #0b3d91;")
        self.lineage.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.lineage.hide()
        grid = QGridLayout(self)
        grid.setContentsMargins(12, 8, 12, 10)
        grid.setHorizontalSpacing(20)
        grid.addWidget(self.title, 0, 0, 1, len(TILES))
        grid.addWidget(self.source, 1, 0, 1, len(TILES))
        grid.addWidget(self.lineage, 2, 0, 1, len(TILES))
        for col, name in enumerate(TILES):
            grid.addWidget(self.tiles[name], 3, col)
        grid.setColumnStretch(len(TILES) - 1, 1)  # the last tile takes what is left

    def show_model(self, loaded: Any, summary: Any, spec: Any, flops_input: str) -> None:
        """Fill from a LoadedModel, its ModelSummary and the ModelSpec it came from."""
        self.title.setText(loaded.description or type(loaded.module).__name__)
        t = self.tiles
        t["Task"].set(loaded.task)
        labels = f" ({loaded.num_labels} labels)" if loaded.num_labels else ""
        t["Task"].caption.setText(f"TASK{labels.upper()}")
        t["Parameters"].set(fmt_count(summary.total_params), f"{summary.total_params:,} parameters")
        sparsity = f" ({summary.sparsity:.1%} zero)" if summary.sparsity >= 0.01 else ""
        t["Non-zero"].set(
            fmt_count(summary.nonzero_params) + sparsity, f"{summary.nonzero_params:,} non-zero"
        )
        t["Size"].set(f"{summary.total_bytes / 1e6:.2f} MB", f"{summary.total_bytes:,} bytes")
        gflops = f"{summary.total_flops / 1e9:.3f}" if summary.total_flops else "n/a"
        t["GFLOPs"].set(gflops, f"one forward on {flops_input}")
        t["GFLOPs"].caption.setText(f"GFLOPS ({flops_input})".upper())
        self.source.setText(f"Source: {spec.source} {spec.path}")

    def show_lineage(self, variant: Any, parent: Any, summary: Any) -> None:
        """For a workspace variant: its parent and the parameter / non-zero changes against it."""
        self.lineage.setText(lineage_text(variant, parent, summary))
        self.lineage.setVisible(bool(self.lineage.text()))


def _delta(now: int, before: Any) -> str:
    if not isinstance(before, int | float) or not before:
        return fmt_count(now)
    change = (now - before) / before
    return f"{fmt_count(before)} → {fmt_count(now)} ({change:+.1%})" if now != before else f"{fmt_count(now)} (same)"


def lineage_text(variant: Any, parent: Any, summary: Any) -> str:
    """'Method …; parent p (id): parameters a → b, non-zero c → d' for a workspace variant."""
    if variant is None:
        return ""
    head = f"Method {variant.card.get('method') or 'none'}"
    if parent is None:
        return head + ("; its parent is no longer in the workspace" if variant.parent else "; no parent")
    model = parent.card.get("model") or {}
    return (
        f"{head} · parent {parent.name} ({parent.id}): "
        f"parameters {_delta(summary.total_params, model.get('params'))}, "
        f"non-zero {_delta(summary.nonzero_params, model.get('nonzero_params'))}"
    )
