"""Banner on the Model page: the loaded model does not fit the recipe's data, with fixes.

The rule is the engine's (engine.data.fit), so the page flags at once what Run would refuse.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from engine.recipe import DataSpec, ModelSpec


def fit_fixes(data: DataSpec, loaded: Any) -> list[tuple[str, object]]:
    """(button text, DataSpec or ModelSpec) that would each make data and model fit."""
    from engine.data.fit import MODEL_FOR_TASK, builtin_data_for, data_task

    fixes: list[tuple[str, object]] = []
    if loaded.task in ("causal-lm", "classification"):
        task = data_task(data)
        if task is not None and task != loaded.task:
            name = builtin_data_for(loaded.task)
            if name:
                fixes.append((f"Use built-in {name} data", dataclasses.replace(data, source="builtin", path=name)))
            model = MODEL_FOR_TASK.get(task)
            if model:
                fixes.append((f"Load {model} instead", ModelSpec(source="builtin", path=model)))
        elif data.max_length > loaded.max_positions:
            fixed = dataclasses.replace(data, max_length=loaded.max_positions)
            fixes.append((f"Set max length to {loaded.max_positions}", fixed))
    else:  # a generic model takes no text data
        fixes.append(("Run without data", dataclasses.replace(data, source="none")))
    return fixes


class FitBanner(QFrame):
    """Amber strip with the reason and one button per fix; `fix_chosen(spec)` on a click."""

    fix_chosen = Signal(object)  # DataSpec or ModelSpec

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("fitBanner")
        self.setStyleSheet(
            "#fitBanner { background: #fff4e5; border: 1px solid #f0b35b; border-radius: 6px; }"
        )
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._row = QHBoxLayout(self)
        self._row.setContentsMargins(10, 6, 10, 6)
        self._row.addWidget(self.text, 1)
        self.buttons: list[QPushButton] = []
        self._shown: tuple[str, list] | None = None  # what is on show now
        self.hide()

    def show_problem(self, reason: str, fixes: list[tuple[str, object]]) -> None:
        """Show `reason` with a button per fix; an empty reason hides the banner."""
        shown = (reason, [(t, s) for t, s in fixes] if reason else [])
        if shown == self._shown:
            return  # called on every recipe edit: keep the same buttons (no flicker)
        self._shown = shown
        for b in self.buttons:
            self._row.removeWidget(b)
            b.deleteLater()
        self.buttons = []
        self.text.setText(f"⚠ Model and data do not fit: {reason}" if reason else "")
        for text, spec in fixes if reason else []:
            button = QPushButton(text)
            button.clicked.connect(lambda _=False, s=spec: self.fix_chosen.emit(s))
            self._row.addWidget(button)
            self.buttons.append(button)
        self.setVisible(bool(reason))
