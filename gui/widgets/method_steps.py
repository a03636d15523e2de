"""The recipe's ordered list of optimization steps, one generated form per step.

Everything comes from `engine.registry`: the "Add step" menu lists the registered
methods grouped by family, each step's form is a ConfigForm of its config class,
and the live estimate is the method's own `preview`. A new method needs no edit here.
"""

from __future__ import annotations

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

from engine.registry import MethodEntry, entry_for_config, methods
from gui.widgets.config_form import FORM_STYLE, ConfigForm, small_label

FAMILY_TITLES = {"prune": "Pruning", "quantize": "Quantization", "distill": "Distillation"}


def family_title(family: str) -> str:
    return FAMILY_TITLES.get(family, family.replace("_", " ").capitalize())


def fmt_count(n: float) -> str:
    """1234567 -> '1.23M', 45600 -> '45.6K'."""
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= div:
            return f"{n / div:.3g}{unit}"
    return f"{int(n)}"


class StepCard(QGroupBox):
    """One step: title, help, its form, its own estimate, and move/remove buttons."""

    def __init__(self, entry: MethodEntry, config: Any, index: int, owner: MethodStepList):
        super().__init__()
        self.entry = entry
        self.form = ConfigForm(entry.config_cls, config, path=f"methods[{index}]")
        self.estimate = small_label("", "caption")
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
        layout.addWidget(self.estimate)
        self.set_index(index)

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
        self.setStyleSheet(FORM_STYLE)  # red preview errors under a step, like field errors
        self.cards: list[StepCard] = []
        self.module: Any = None  # the loaded model, for previews
        self.add_button = QToolButton()
        self.add_button.setText("+ Add step")
        self.add_button.setToolTip("Add an optimization step (methods come from the engine registry)")
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.add_button.setMenu(self._build_menu())
        self.empty = QLabel("No steps yet: add one to prune (or, later, quantize / distill) the model.")
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
        self.update_estimates()
        self.changed.emit()

    # -- values --------------------------------------------------------------------
    def values(self) -> tuple[Any, ...] | None:
        out = tuple(card.form.value() for card in self.cards)
        return None if any(v is None for v in out) else out

    def errors(self) -> list[str]:
        return [msg for card in self.cards for msg in card.form.errors()]

    # -- live estimate -------------------------------------------------------------
    def set_module(self, module: Any) -> None:
        self.module = module
        self.update_estimates()

    def update_estimates(self) -> None:
        """Each step's preview under its form (red when its patterns match nothing)."""
        for card in self.cards:
            text, ok = self.preview(card)
            card.estimate.setText(text)
            card.estimate.setProperty("role", "caption" if ok else "error")
            card.estimate.style().unpolish(card.estimate)
            card.estimate.style().polish(card.estimate)
            card.estimate.setVisible(bool(text))

    def preview(self, card: StepCard) -> tuple[str, bool]:
        """(text, ok) for one step; '' when there is no model or no preview for the method."""
        cfg = card.form.value()
        if self.module is None or cfg is None or card.entry.preview is None:
            return "", True
        try:
            p = card.entry.preview(cfg, self.module)
        except ValueError as exc:
            return str(exc), False
        return (
            f"This step: {p['layers']} layers targeted, {fmt_count(p['removed'])} of "
            f"{fmt_count(p['targeted'])} of their weights removed.",
            True,
        )

    def totals(self) -> dict[str, int] | None:
        """Summed preview over the steps (None without a model or if any step cannot preview)."""
        if self.module is None:
            return None
        total = {"layers": 0, "targeted": 0, "removed": 0}
        for card in self.cards:
            cfg = card.form.value()
            if cfg is None or card.entry.preview is None:
                continue
            try:
                p = card.entry.preview(cfg, self.module)
            except ValueError:
                return None
            for k in total:
                total[k] += int(p.get(k, 0))
        return total

    def preview_errors(self) -> list[str]:
        """Steps whose preview fails on the loaded model (e.g. patterns matching nothing)."""
        out = []
        for card in self.cards:
            text, ok = self.preview(card)
            if not ok:
                out.append(f"{card.form.path}: {text}")
        return out

    def estimate_text(self) -> tuple[str, bool]:
        """('Parameters after pruning: …', ok) for the whole list; ok False = show in red."""
        if self.module is None:
            return "Estimate: no model loaded yet", True
        total_params = sum(p.numel() for p in self.module.parameters())
        if self.values() is None:
            return f"Parameters: {fmt_count(total_params)} — estimate once the steps are valid", True
        for i, card in enumerate(self.cards):
            if not self.preview(card)[1]:
                return f"No estimate: step {i + 1} cannot be applied to this model (see the message under it)", False
        totals = self.totals()
        if not totals or not totals["layers"]:
            return f"Parameters: {fmt_count(total_params)} (no pruning step)", True
        removed = min(totals["removed"], total_params)
        return (
            f"Parameters after pruning: {fmt_count(total_params - removed)} of {fmt_count(total_params)} "
            f"(−{removed / max(total_params, 1):.1%}, {totals['layers']} layers targeted)",
            True,
        )
