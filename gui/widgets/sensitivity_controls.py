"""The sensitivity dialog's input row: levels, target, eval batches, Analyze, Pause and Cancel."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from engine.sensitivity import DEFAULT_EVAL_BATCHES, DEFAULT_LEVELS, MAX_AMOUNT
from gui.widgets.config_form import CAPTION_COLOR


class SensitivityControls(QWidget):
    """The fields and buttons; the panel connects them (target -> re-propose, buttons -> run)."""

    def __init__(self, eval_batches: int | None, parent: QWidget | None = None):
        super().__init__(parent)
        self.levels_edit = QLineEdit(", ".join(f"{v:g}" for v in DEFAULT_LEVELS))
        self.levels_edit.setToolTip("Sparsities to try for each layer, comma-separated, in (0, 1]")
        self.target_spin = QDoubleSpinBox()
        self.target_spin.setRange(0.0, MAX_AMOUNT * 100)
        self.target_spin.setSingleStep(5.0)
        self.target_spin.setDecimals(1)
        self.target_spin.setSuffix(" %")
        self.target_spin.setValue(50.0)
        self.target_spin.setToolTip("Overall sparsity over the analysed layers (size-weighted)")
        self.batches_spin = QSpinBox()
        self.batches_spin.setRange(1, 10_000)
        self.batches_spin.setValue(eval_batches or DEFAULT_EVAL_BATCHES)
        self.batches_spin.setToolTip("Validation batches per measurement: fewer is faster, noisier")
        self.run_button = QPushButton("Analyze ▶")
        self.run_button.setDefault(True)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setEnabled(False)
        self.pause_button.setToolTip("Hold the analysis after the measurement under way; Resume goes on")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for text, widget, stretch in (
            ("Levels:", self.levels_edit, 3), ("Target overall sparsity:", self.target_spin, 0),
            ("Eval batches:", self.batches_spin, 0),
        ):  # fmt: skip
            row.addWidget(QLabel(text))
            row.addWidget(widget, stretch)
            row.addSpacing(10)
        row.addWidget(self.run_button)
        row.addWidget(self.pause_button)
        row.addWidget(self.cancel_button)


def intro_label() -> QLabel:
    """What the analysis does, in one caption above the controls."""
    intro = QLabel(
        "Prunes one layer at a time to each level (smallest |w| first), measures the "
        "validation metric, then proposes per-layer amounts that reach the target overall "
        "sparsity while sparing the layers whose metric drops first."
    )
    intro.setWordWrap(True)
    intro.setStyleSheet(f"color: {CAPTION_COLOR};")
    return intro
