"""A workspace-variant picker beside a step's nested model path (the Distill step's teacher).

A step config that nests a ModelSpec (`teacher_model`) gets the ModelSpec's own generated form,
whose `path` is a text box. With `source: variant` the path is a variant's name or run id, so a
combo filled from the workspace's finished variants (newest first, as the Model page's variant
menu lists them) takes the text box's place (beside it, a narrow step column would leave room for
neither); picking one writes the run id, which no later run can take over. A path that names no
finished variant here (typed into a recipe file) stays in the list, said so. Other sources show
the text box again. Generic: any nested ModelSpec in any step gets one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QGroupBox, QLineEdit, QSizePolicy

from engine.recipe import ModelSpec
from gui.widgets.config_form import ConfigForm

PLACEHOLDER = "Pick a variant…"
Choices = Callable[[], list[tuple[str, str]]]  # (text, run id), newest first


def variant_choices(workspace: Any) -> list[tuple[str, str]]:
    """(text, run id) of the workspace's finished variants, newest first; [] when unreadable."""
    try:
        variants = workspace.variants("finished")
    except (OSError, ValueError):  # the path field still takes a typed name or id
        return []
    names = [v.name for v in variants]
    # the name; reruns under one name also get their run id's random tail to tell them apart
    return [(f"{v.name} · {v.id[-6:]}" if names.count(v.name) > 1 else v.name, v.id)
            for v in reversed(variants)]  # fmt: skip


class VariantPathPicker(QComboBox):
    """Beside a ModelSpec form's path: shown for source 'variant', filled each time it opens."""

    def __init__(self, form: ConfigForm, choices: Choices):
        super().__init__()
        self.form = form
        self.choices = choices
        self.setObjectName("variantPathPicker")
        self.setToolTip("A finished variant of this workspace (writes its run id into the path)")
        # in the hidden text box's place: as wide as the box was, and no wider than the column
        self.setMinimumContentsLength(10)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.refill()
        self.activated.connect(self._picked)
        form.changed.connect(lambda _v: self._follow_source())
        self._follow_source()

    def refill(self) -> None:
        """Re-read the workspace (runs finish while the page is open); the current path stays."""
        self.blockSignals(True)
        self.clear()
        self.addItem(PLACEHOLDER, None)
        for text, run_id in self.choices():
            self.addItem(text, run_id)
            self.setItemData(self.count() - 1, f"{text} — run {run_id}", Qt.ItemDataRole.ToolTipRole)
        self._select_path()
        self.blockSignals(False)

    def _select_path(self) -> None:
        """Show the path's variant; a path naming none of them is listed as it is."""
        path = self._path()
        at = self.findData(path) if path else 0
        if at < 0:  # a name: its newest run, as the job resolves it
            at = next((i for i in range(1, self.count())
                       if self.itemText(i) == path or self.itemText(i).startswith(path + " · ")), -1)  # fmt: skip
        if at < 0:
            self.insertItem(1, f"{path} (no finished variant of this name or id here)", path)
            at = 1
        self.setCurrentIndex(at)

    def showPopup(self) -> None:  # noqa: N802 (Qt's name)
        self.refill()
        super().showPopup()

    def _path(self) -> str:
        box = self.form.editor("path")  # read off the widgets: value() is None while invalid
        return box.text().strip() if isinstance(box, QLineEdit) else ""

    def _follow_source(self) -> None:
        box = self.form.editor("source")
        variant = isinstance(box, QComboBox) and box.currentText() == "variant"
        self.setVisible(variant)
        self.form.editor("path").setVisible(not variant)
        if variant and self.currentData() != self._path():  # e.g. a recipe was loaded
            self.blockSignals(True)
            self._select_path()
            self.blockSignals(False)

    def _picked(self, index: int) -> None:
        run_id = self.itemData(index)
        if run_id:
            self.form.set_field("path", run_id)


def nested_model_forms(form: ConfigForm) -> list[ConfigForm]:
    """The forms of a step's nested ModelSpec fields (a distill step's teacher_model)."""
    out = []
    for f in dataclasses.fields(form.config_cls):
        group = form.editor(f.name) if f.init else None
        if isinstance(group, QGroupBox):  # a nested config's framed form (NestedConfigEditor)
            inner = group.findChild(ConfigForm)
            if inner is not None and inner.config_cls is ModelSpec:
                out.append(inner)
    return out


def attach_variant_pickers(steps: Any, choices: Choices) -> None:
    """Give every nested ModelSpec form of `steps` (a MethodStepList) a picker, now and for steps
    added later."""

    def attach() -> None:
        for card in steps.cards:
            for inner in nested_model_forms(card.form):
                if inner.findChild(VariantPathPicker) is None:
                    inner.attach("path", VariantPathPicker(inner, choices))

    steps.changed.connect(attach)
    attach()
