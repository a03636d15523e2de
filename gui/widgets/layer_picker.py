"""A visual picker for the teacher blocks a layer-drop student keeps (`keep_layers`).

One toggle per transformer block of the loaded model (B0 B1 ...): kept blocks are
highlighted, dropped ones greyed and struck through, and a line under them says how many
are kept and roughly how many parameters the student has. The picker writes the same
comma-separated text the plain text box holds, so the form validates and saves exactly
what typing would; without a model (or one with no block stack) only the text box shows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.estimate import fmt_count
from gui.widgets.config_form import small_label
from gui.widgets.field_editors import FieldEditor, TupleEditor

PER_ROW = 8  # toggles per row: a 24-block model wraps instead of widening the step column
TOGGLE_STYLE = """
QToolButton { min-width: 30px; padding: 2px 4px; border: 1px solid #b0b0b0; border-radius: 3px;
              color: #9a9a9a; background: #f2f2f2; }
QToolButton:checked { color: white; background: #1e6fd9; border-color: #1559b3; }
QToolButton[auto="true"] { color: #1559b3; background: #dce8fa; border: 1px dashed #1e6fd9; }
"""


def block_sizes(loaded: Any) -> tuple[list[int], int] | None:
    """(parameters of each transformer block, parameters of the whole model), or None when
    there is no model or it has no single block stack (then the text box is used)."""
    module = getattr(loaded, "module", None)
    if module is None:
        return None
    from engine.methods.distill.blocks import transformer_blocks  # torch: only with a model

    try:
        blocks = transformer_blocks(module)[1]
    except ValueError:
        return None
    sizes = [sum(p.numel() for p in block.parameters()) for block in blocks]
    return sizes, sum(p.numel() for p in module.parameters())


def every_other(n: int) -> tuple[int, ...]:
    """What an empty keep_layers means (engine.methods.distill.students.default_keep)."""
    return tuple(range(0, max(n, 1), 2))


def summary(keep: tuple[int, ...], sizes: list[int], total: int) -> str:
    """'keeps 2 of 4 blocks: 0, 2 · student ≈ 479K of 876K params' (empty: every other)."""
    n = len(sizes)
    auto = not keep
    kept = sorted(set(every_other(n) if auto else keep))
    outside = [i for i in kept if not 0 <= i < n]
    if outside:
        return (f"block {', '.join(map(str, outside))} does not exist: the loaded model has {n} "
                f"blocks, 0..{n - 1}")  # fmt: skip
    student = total - sum(s for i, s in enumerate(sizes) if i not in kept)
    head = "empty = every other block: " if auto else ""
    text = (f"{head}keeps {len(kept)} of {n} blocks: {', '.join(map(str, kept))} · "
            f"student ≈ {fmt_count(student)} of {fmt_count(total)} params")  # fmt: skip
    return text[0].upper() + text[1:] + (" (nothing dropped: not smaller)" if len(kept) == n else "")


class LayerPickerEditor(FieldEditor):
    """`keep_layers` as toggles when the block count is known, else as comma-separated text."""

    def __init__(self, optional: bool) -> None:
        self.text = TupleEditor(int, optional)  # the value's one home: toggles write into it
        self.widget = QWidget()
        col = QVBoxLayout(self.widget)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(3)
        col.addWidget(self.text.widget)
        self.panel = QWidget()
        self.panel.setObjectName("layerPicker")
        self.panel.setStyleSheet(TOGGLE_STYLE)
        inner = QVBoxLayout(self.panel)
        inner.setContentsMargins(0, 0, 0, 0)
        inner.setSpacing(3)
        self.grid = QGridLayout()
        self.grid.setSpacing(3)
        inner.addLayout(self.grid)
        actions = QHBoxLayout()
        self.every_other_button = QPushButton("Every other")
        self.every_other_button.setToolTip("Keep blocks 0, 2, 4, ... (what an empty selection means)")
        self.every_other_button.clicked.connect(lambda: self._write(every_other(len(self.toggles))))
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Empty selection: the student keeps every other block")
        self.clear_button.clicked.connect(lambda: self._write(()))
        actions.addWidget(self.every_other_button)
        actions.addWidget(self.clear_button)
        actions.addStretch(1)
        inner.addLayout(actions)
        self.summary = small_label("", "summary")  # blue like the kept blocks, not a grey caption
        self.summary.setObjectName("layerSummary")
        self.summary.setStyleSheet("color: #1559b3;")
        inner.addWidget(self.summary)
        inner.addSpacing(3)  # apart from the field's help caption below
        col.addWidget(self.panel)
        self.toggles: list[QToolButton] = []
        self._sizes: tuple[list[int], int] | None = None
        self.text.on_change(self._refresh)
        self.set_model(None)

    # -- FieldEditor ------------------------------------------------------------------
    def get(self) -> Any:
        return self.text.get()

    def set(self, value: Any) -> None:
        self.text.set(value)
        self._refresh()

    def on_change(self, fn: Callable[[], None]) -> None:
        self.text.on_change(fn)  # a toggle writes the text, so both paths reach the form alike

    def set_invalid(self, invalid: bool) -> None:
        self.text.set_invalid(invalid)

    def set_model(self, loaded: Any) -> None:
        """One toggle per block of `loaded`; no model / no block stack: the text box."""
        self._sizes = block_sizes(loaded)
        n = len(self._sizes[0]) if self._sizes else 0
        if n != len(self.toggles):
            self._build_toggles(n)
        self.panel.setVisible(n > 0)
        self.text.widget.setVisible(n == 0)
        self._refresh()

    # -- toggles ------------------------------------------------------------------------
    def _build_toggles(self, n: int) -> None:
        for button in self.toggles:
            self.grid.removeWidget(button)
            button.deleteLater()
        self.toggles = []
        for i in range(n):
            button = QToolButton()
            button.setText(f"B{i}")
            button.setObjectName(f"block{i}")
            button.setCheckable(True)
            button.clicked.connect(lambda _c=False, i=i: self._toggle(i))
            self.grid.addWidget(button, i // PER_ROW, i % PER_ROW)
            self.toggles.append(button)
        self.grid.setColumnStretch(PER_ROW, 1)  # toggles stay left, at their own width

    def _current(self) -> tuple[int, ...]:
        """The explicit selection as typed ((): empty or not whole numbers)."""
        try:
            value = self.text.get()
        except ValueError:
            return ()
        return tuple(value or ())

    def _toggle(self, i: int) -> None:
        # from an empty selection a click starts a new one: B1 then B3 keeps exactly 1 and 3
        keep = set(self._current())
        keep ^= {i}
        self._write(tuple(sorted(keep)))

    def _write(self, keep: tuple[int, ...]) -> None:
        self.text.set(keep)  # textChanged: the form validates, the recipe updates

    def _refresh(self) -> None:
        if not self._sizes or not self.toggles:
            return
        keep = self._current()
        shown = set(keep) if keep else set(every_other(len(self.toggles)))
        for i, button in enumerate(self.toggles):
            on = i in shown
            button.setChecked(bool(keep) and on)
            button.setProperty("auto", not keep and on)  # the default, not a choice: dashed
            font = button.font()
            font.setStrikeOut(not on)
            button.setFont(font)
            button.setToolTip(f"Block {i}: {'kept' if on else 'dropped'}"
                              f"{' (default: every other)' if not keep and on else ''}; click to toggle")  # fmt: skip
            button.style().unpolish(button)
            button.style().polish(button)
        self.summary.setText(summary(keep, *self._sizes))
