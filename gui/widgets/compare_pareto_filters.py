"""The row above the Compare plot: Pareto front on/off and filters by family, method, target check.

Family is the model's architecture from the card's description ("tiny-gpt: GPT-style causal
LM, …" → "GPT-style causal LM"); method is a step type of the recipe (a variant matches when any
step has it; the base model has none); a target filter keeps the points whose file passed (or
failed) that deployment target's check (card `target_checks`, one entry per target and file).
"""

from __future__ import annotations

import functools
from typing import Any

import yaml
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QSizePolicy, QWidget

from engine.store import Variant

ANY = None  # a combo's "all" entry
BASELINE = "(none: base model)"
TARGET_TIP = ("Keep files that passed / failed this deployment target's check "
              "(Export page → Targets, or deploy.targets in a recipe)")
NO_TARGETS_TIP = "No variant has been checked against a deployment target yet (Export page → Targets)"


def family_of(card: dict[str, Any]) -> str:
    """The architecture part of the model description, e.g. 'GPT-style causal LM'."""
    text = str((card.get("model") or {}).get("description") or "")
    arch = text.split(":", 1)[1] if ":" in text else text
    arch = arch.split(",", 1)[0].split(" (", 1)[0].strip()
    return arch or "unknown model"


@functools.lru_cache(maxsize=1024)
def _recipe_types(text: str) -> tuple[str, ...] | None:
    """Step types of a recipe's YAML; cached because a redraw asks once per point and a full
    recipe takes ~15 ms to parse."""
    try:
        recipe = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    except yaml.YAMLError:
        return None
    steps = recipe.get("methods") if isinstance(recipe, dict) else None
    if not isinstance(steps, list):
        return None
    return tuple(str(s["type"]) for s in steps if isinstance(s, dict) and s.get("type"))


def method_types(v: Variant) -> list[str]:
    """The step types of the variant's recipe, in order; [] for a base model."""
    types = _recipe_types(v.recipe or "")
    if types is not None:
        return list(types)
    # no readable recipe: the card's method label ("unstructured_prune(amount=0.5) + int8_dynamic()")
    label = str((v.card or {}).get("method") or "none")
    return [] if label == "none" else [part.split("(", 1)[0].strip() for part in label.split(" + ")]


def check_result(card: dict[str, Any], kind: str, target: str) -> bool | None:
    """Whether file `kind` passed every check on `target`; None when it was not checked there."""
    found = [r for r in card.get("target_checks") or []
             if isinstance(r, dict) and r.get("target") == target and r.get("artifact") == kind]
    return all(bool(r.get("passed")) for r in found) if found else None


def _fill(combo: QComboBox, items: list[tuple[str, Any]]) -> None:
    """Replace a combo's items, keeping the current choice when it still exists."""
    current = combo.currentData()
    combo.blockSignals(True)
    combo.clear()
    for text, data in items:
        combo.addItem(text, data)
    index = combo.findData(current) if current is not None else 0
    combo.setCurrentIndex(max(index, 0))
    combo.blockSignals(False)


class ParetoFilters(QWidget):
    """Emits `changed` when the front toggle or a filter changes."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.front = QCheckBox("Pareto front")
        self.front.setChecked(True)
        self.front.setToolTip("Step line through the points no other plotted point beats on both "
                              "axes (cheaper and at least as good a metric); the rest are dimmed")
        self.family, self.method, self.target = QComboBox(), QComboBox(), QComboBox()
        for combo in (self.family, self.method, self.target):
            # a long family name must not widen the page past 1024 px (the teacher panel shares it)
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(7)
        self.family.setToolTip("Model family: the architecture of the variant's model")
        self.method.setToolTip("Keep variants with a step of this type")
        self.summary = QLabel()
        self.summary.setStyleSheet("color: #555;")
        self.summary.setToolTip("On the front: no plotted point beats it on one axis without losing "
                                "on the other. Hidden: points the filters leave out")
        # one line, cut rather than wrapped: a taller row would shrink the small plot under it
        self.summary.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.front)
        for text, combo in (("Family", self.family), ("Method", self.method), ("Target", self.target)):
            row.addWidget(QLabel(text + ":"))
            row.addWidget(combo)
            combo.currentIndexChanged.connect(self.changed)
        row.addWidget(self.summary, 1)
        self.front.toggled.connect(self.changed)
        self.fill([])

    def fill(self, variants: list[Variant]) -> None:
        """Offer the families, methods and targets found in `variants`."""
        done = [v for v in variants if v.status == "finished"]
        families = sorted({family_of(v.card or {}) for v in done})
        methods = sorted({t for v in done for t in method_types(v)})
        targets = sorted({str(r.get("target")) for v in done for r in (v.card or {}).get("target_checks") or []
                          if isinstance(r, dict) and r.get("target")})
        _fill(self.family, [("all", ANY)] + [(f, f) for f in families])
        _fill(self.method, [("all", ANY), (BASELINE, BASELINE)] + [(m, m) for m in methods])
        checks: list[tuple[str, Any]] = [("any", ANY)]
        for t in targets:
            checks += [(f"passes {t}", f"pass:{t}"), (f"fails {t}", f"fail:{t}")]
        _fill(self.target, checks)
        self.target.setEnabled(bool(targets))
        self.target.setToolTip(TARGET_TIP if targets else NO_TARGETS_TIP)

    def keep(self, v: Variant, kind: str) -> bool:
        """Whether the point of file `kind` (onnx-fp32 for the variant's own) passes the filters."""
        card = v.card or {}
        family, method, target = (self.family.currentData(), self.method.currentData(),
                                  self.target.currentData())
        if family is not None and family_of(card) != family:
            return False
        types = method_types(v)
        if method == BASELINE and types or method not in (ANY, BASELINE) and method not in types:
            return False
        if target is not None:
            want, name = target.split(":", 1)
            return check_result(card, kind, name) is (want == "pass")
        return True

    def show_front(self) -> bool:
        return self.front.isChecked()
