"""Ask what a model folder or file does not say: its task, number of labels or architecture.

Shown when a load fails for want of model.task / model.num_labels / model.architecture; the
answers go into the ModelSpec (and so into the recipe), and the load is tried again.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.recipe import ModelSpec

OPTION_FIELDS = ("model.task", "model.num_labels", "model.architecture")
TASKS = (
    ("classification", "Classification — a new head that predicts one of N labels"),
    ("causal-lm", "Causal language model — predicts the next token"),
)
DEFAULT_LABELS = 2
# the engine's message speaks recipe language (set model.task …); the dialog asks in words
QUESTIONS = {
    "model.task": "{name} does not say what the model predicts. Choose its task:",
    "model.num_labels": "{name} has no classification head. How many labels should the new head predict?",
    "model.architecture": "{name} holds only weights. Choose the built-in architecture they belong to:",
}


def question(field: str, path: str, fallback: str) -> str:
    """The dialog's one-line question for a missing field."""
    name = "/".join(Path(path).parts[-2:]) or path  # a HF folder is often just "model"
    return QUESTIONS[field].format(name=name) if field in QUESTIONS else fallback


class ModelOptionsDialog(QDialog):
    """Task, number of labels and (for bare weights) architecture, pre-filled from hints."""

    def __init__(
        self,
        spec: ModelSpec,
        reason: str,
        field: str = "",
        hints: dict[str, Any] | None = None,
        architectures: list[str] | None = None,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.spec = spec
        hints = hints or {}
        self.setWindowTitle("Model options — kept in the recipe")
        self.reason = QLabel(question(field, spec.path, reason))
        self.reason.setToolTip(reason)
        self.reason.setWordWrap(True)
        self.reason.setStyleSheet("color: #555;")
        found = ", ".join(hints.get("architectures") or []) or "none"
        self.found = QLabel(f"The folder says: architectures {found}" + _labels_text(hints))
        self.found.setWordWrap(True)
        # only what a config.json said (a bare file's hints hold just a label count from the data)
        self.found.setVisible(bool(hints.get("architectures") or hints.get("label_names")))

        self.task = QComboBox()
        for value, text in TASKS:
            self.task.addItem(text, value)
        self.labels = QSpinBox()
        self.labels.setRange(2, 100_000)
        self.architecture = QComboBox()
        for name in architectures or []:
            self.architecture.addItem(name, name)
        self.needs_arch = False
        self._prefill(spec, hints)
        self.task.currentIndexChanged.connect(self._task_changed)
        self.architecture.currentIndexChanged.connect(self._task_changed)

        form = QFormLayout()
        needs_arch = self.needs_arch = field == "model.architecture" or bool(spec.architecture)
        if needs_arch:
            form.addRow("Architecture:", self.architecture)
        else:
            form.addRow("Task:", self.task)
        form.addRow("Number of labels:", self.labels)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Load")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.reason)
        layout.addWidget(self.found)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.setMinimumWidth(460)
        self._task_changed()

    def _prefill(self, spec: ModelSpec, hints: dict[str, Any]) -> None:
        task = spec.task if spec.task in ("classification", "causal-lm") else hints.get("task")
        self.task.setCurrentIndex(max(0, self.task.findData(task or "classification")))
        self.labels.setValue(spec.num_labels or hints.get("num_labels") or DEFAULT_LABELS)
        if spec.architecture:
            self.architecture.setCurrentIndex(max(0, self.architecture.findData(spec.architecture)))

    def _task_changed(self, *_: Any) -> None:
        # labels only mean something for a classifier (tiny-bert is one too)
        arch = self.architecture.currentData() if self.needs_arch else None
        classifier = arch == "tiny-bert" if arch else self.task.currentData() == "classification"
        self.labels.setEnabled(classifier)

    def chosen_spec(self) -> ModelSpec:
        """The spec with the answers filled in."""
        if self.needs_arch:
            arch = self.architecture.currentData()
            labels = self.labels.value() if arch == "tiny-bert" else None
            return dataclasses.replace(self.spec, architecture=arch, num_labels=labels)
        task = self.task.currentData()
        labels = self.labels.value() if task == "classification" else None
        return dataclasses.replace(self.spec, task=task, num_labels=labels)


def _labels_text(hints: dict[str, Any]) -> str:
    names = hints.get("label_names") or []
    if names:
        shown = ", ".join(names[:6]) + (", …" if len(names) > 6 else "")
        return f"; labels {shown}"
    return "; no label names"
