"""The recipe's ordered list of optimization steps, one generated form per step.

Everything comes from `engine.registry`: the "Add step" menu lists the registered
methods grouped by family and each step's form is a ConfigForm of its config class, so
a new method needs no edit here. Each card also shows the figures the steps reach up to
it (from the page's live estimate) and problems of the step as a whole, such as an order
the engine refuses.
"""

from __future__ import annotations

import re
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.estimate import fmt_count
from engine.registry import MethodEntry, entry_for_config, methods
from gui.widgets.config_form import FORM_STYLE, ConfigForm, small_label

_METHODS_PATH = re.compile(r"methods\[(\d+)\]")
FAMILY_TITLES = {"prune": "Pruning", "quantize": "Quantization", "distill": "Distillation"}


def family_title(family: str) -> str:
    return FAMILY_TITLES.get(family, family.replace("_", " ").capitalize())


class StepCard(QGroupBox):
    """One step: title, help, its form, its own estimate, and move/remove buttons."""

    def __init__(self, entry: MethodEntry, config: Any, index: int, owner: MethodStepList):
        super().__init__()
        self.entry = entry
        self.form = ConfigForm(entry.config_cls, config, path=f"methods[{index}]")
        self.figure = small_label("", "caption")  # what the steps up to this one reach
        self.figure.setObjectName("stepFigure")
        self.figure.hide()
        self.problem = small_label("", "error")  # the step as a whole (order, patterns)
        self.problem.setObjectName("stepProblem")
        self.problem.hide()
        self._problems: dict[str, str] = {}  # source ("recipe" | "estimate") -> message
        header = QHBoxLayout()
        self.help = small_label(entry.help, "caption")
        header.addWidget(self.help, 1)
        icons = self.style()
        for icon, tip, slot in (
            (QStyle.StandardPixmap.SP_ArrowUp, "Move this step earlier", lambda: owner.move(self, -1)),
            (QStyle.StandardPixmap.SP_ArrowDown, "Move this step later", lambda: owner.move(self, 1)),
            (QStyle.StandardPixmap.SP_DialogCloseButton, "Remove this step", lambda: owner.remove(self)),
        ):
            b = QToolButton()
            b.setIcon(icons.standardIcon(icon))
            b.setToolTip(tip)
            b.setAutoRaise(True)
            b.clicked.connect(slot)
            header.addWidget(b)
        self.remove_button = b
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.form)
        layout.addWidget(self.problem)
        layout.addWidget(self.figure)
        self.set_index(index)

    def set_problem(self, source: str, message: str) -> None:
        """Show (or clear, with '') the problem `source` found with this step."""
        self._problems[source] = message
        text = "\n".join(dict.fromkeys(m for m in self._problems.values() if m))  # once each
        self.problem.setText(text)
        self.problem.setVisible(bool(text))

    def problems(self) -> list[str]:
        """The messages shown under this step's form (not its field errors)."""
        return list(dict.fromkeys(m for m in self._problems.values() if m))

    def set_index(self, index: int) -> None:
        # a group title never wraps: the short name keeps the column narrow, the full label is a tooltip
        self.setTitle(f"Step {index + 1} · {self.entry.label.split(' (')[0]}")
        self.setToolTip(f"{family_title(self.entry.family)}: {self.entry.label}")
        self.form.path = f"methods[{index}]"


class MethodStepList(QWidget):
    """Ordered method steps; `values()` is the recipe's `methods` tuple or None if invalid."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setStyleSheet(FORM_STYLE)  # red step problems under a step, like field errors
        self.cards: list[StepCard] = []
        self._model: Any = None  # the loaded model, for editors that draw it (layer picker)
        self.add_button = QToolButton()
        self.add_button.setText("+ Add step")
        self.add_button.setToolTip("Add an optimization step; steps run top to bottom")
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.add_button.setMenu(self._build_menu())
        self.empty = QLabel("No steps yet: add one to optimize the model.")
        self.empty.setStyleSheet("color: #6b6b6b;")
        self.empty.setWordWrap(True)
        self._cards_box = QVBoxLayout()
        self._cards_box.setSpacing(10)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self._cards_box)
        layout.addWidget(self.empty)
        row = QHBoxLayout()
        row.addWidget(self.add_button)
        row.addStretch(1)
        layout.addLayout(row)

    def _build_menu(self) -> QMenu:
        menu = QMenu(self)
        families: dict[str, list[MethodEntry]] = {}
        for entry in methods():
            families.setdefault(entry.family, []).append(entry)
        for family, entries in families.items():
            menu.addSection(family_title(family))
            for entry in entries:
                action = menu.addAction(entry.label)
                action.setToolTip(entry.help)
                action.triggered.connect(lambda _=False, e=entry: self.add_step(e.type_name))
        return menu

    # -- editing -------------------------------------------------------------------
    def set_steps(self, configs: tuple[Any, ...]) -> None:
        """Replace every step with forms showing `configs` (emits `changed` once)."""
        for card in self.cards:
            card.deleteLater()
        self.cards = []
        for cfg in configs:
            self._append(entry_for_config(cfg), cfg)
        self._relayout()

    def add_step(self, type_name: str) -> StepCard:
        """Append a step of the registered method `type_name` with its default settings."""
        entry = next(e for e in methods() if e.type_name == type_name)
        card = self._append(entry, entry.config_cls())
        self._relayout()
        return card

    def remove(self, card: StepCard) -> None:
        self.cards.remove(card)
        card.deleteLater()
        self._relayout()

    def move(self, card: StepCard, delta: int) -> None:
        i = self.cards.index(card)
        j = max(0, min(len(self.cards) - 1, i + delta))
        self.cards.insert(j, self.cards.pop(i))
        self._relayout()

    def _append(self, entry: MethodEntry, cfg: Any) -> StepCard:
        card = StepCard(entry, cfg, len(self.cards), self)
        card.form.set_model(self._model)
        card.form.changed.connect(lambda _v: self._on_change())
        self.cards.append(card)
        return card

    def _relayout(self) -> None:
        for i, card in enumerate(self.cards):
            self._cards_box.removeWidget(card)
            self._cards_box.insertWidget(i, card)
            card.set_index(i)
            card.form.revalidate()  # re-validate so messages carry the new methods[i] path
        self.empty.setVisible(not self.cards)
        self._on_change()

    def _on_change(self) -> None:
        self.changed.emit()

    def set_model(self, loaded: Any) -> None:
        """The loaded model (engine LoadedModel or None) for every step's form."""
        self._model = loaded
        for card in self.cards:
            card.form.set_model(loaded)

    # -- values --------------------------------------------------------------------
    def values(self) -> tuple[Any, ...] | None:
        out = tuple(card.form.value() for card in self.cards)
        return None if any(v is None for v in out) else out

    def errors(self) -> list[str]:
        """Field errors of every step, named 'Step N · methods[i].field: …'."""
        return [name_steps(msg) for card in self.cards for msg in card.form.errors()]

    # -- live estimate and step problems --------------------------------------------
    def show_estimate(self, estimate: Any) -> None:
        """Each step's reached figures (engine.estimate.StepsEstimate) under its form."""
        steps = list(getattr(estimate, "steps", []) or [])
        for i, card in enumerate(self.cards):
            step = steps[i] if i < len(steps) else None
            card.figure.setText(step_figure(step, estimate.dense_params) if step and not step.error else "")
            card.figure.setVisible(bool(card.figure.text()))
            card.set_problem("estimate", step.error if step else "")

    def clear_estimate(self) -> None:
        """No figures (no model, invalid steps): only the forms show."""
        for card in self.cards:
            card.figure.setText("")
            card.figure.hide()
            card.set_problem("estimate", "")

    def show_problems(self, problems: dict[int, list[str]]) -> None:
        """Recipe-level problems of step i (e.g. an order the engine refuses) on its card."""
        for i, card in enumerate(self.cards):
            card.set_problem("recipe", "\n".join(problems.get(i, [])))

    @staticmethod
    def step_problems_from(estimate: Any) -> list[str]:
        """Steps the estimate could not apply, as 'Step N · methods[i]: …'."""
        return [f"{step_name(i)}: {s.error}" for i, s in enumerate(estimate.steps) if s.error]


def step_name(index: int) -> str:
    """'Step 2 · methods[1]': how the form and the engine's messages name a step."""
    return f"Step {index + 1} · methods[{index}]"


def name_steps(message: str) -> str:
    """'methods[1].amount: …' -> 'Step 2 · methods[1].amount: …' (already named: unchanged)."""
    m = _METHODS_PATH.match(message)
    return f"Step {int(m.group(1)) + 1} · {message}" if m else message


def step_figure(step: Any, dense_params: int) -> str:
    """What the steps up to this one leave, e.g. 'After this step: 412K of 876K parameters
    non-zero · pruned layers 50.0% sparse · 16 layers targeted'."""
    if getattr(step, "artifact", False):  # a parameter count would say nothing changed
        return "Quantizes the exported ONNX file; the PyTorch model is unchanged"
    n = step.targeted_layers
    targeted = f" · {n} layer{'s' if n != 1 else ''} targeted" if n else ""
    if step.sparsity > 0:  # masks hold zeros: count what is left non-zero
        return (
            f"After this step: {fmt_count(step.nonzero)} of {fmt_count(step.params)} parameters "
            f"non-zero · pruned layers {step.sparsity:.1%} sparse{targeted}"
        )
    return f"After this step: {fmt_count(step.params)} of {fmt_count(dense_params)} parameters{targeted}"
