"""A config nested in a step's config (a teacher ModelSpec) is edited as a group in the form."""

from __future__ import annotations

import os
from dataclasses import dataclass

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QGroupBox  # noqa: E402

from engine.config_fields import option  # noqa: E402
from engine.recipe import ModelSpec  # noqa: E402
from gui.widgets.config_form import ConfigForm  # noqa: E402


@dataclass(frozen=True)
class TeacherStepConfig:
    teacher: ModelSpec = option(ModelSpec(source="builtin", path="tiny-gpt"), help="the teacher")
    temperature: float = option(2.0, min=0.0, min_exclusive=True, help="softmax temperature")


def test_a_nested_config_is_a_group_with_its_own_fields(qtbot):
    loaded = TeacherStepConfig(teacher=ModelSpec(source="checkpoint", path="runs/t/checkpoint"))
    form = ConfigForm(TeacherStepConfig, loaded, path="methods[0]")
    qtbot.addWidget(form)
    form.show()
    group = form.editor("teacher")
    assert isinstance(group, QGroupBox)
    inner = group.findChild(ConfigForm)
    assert inner.path == "methods[0].teacher"
    assert inner.editor("source").currentText() == "checkpoint"
    assert inner.editor("path").text() == "runs/t/checkpoint"
    assert form.value() == loaded
    inner.editor("path").setText("runs/other/checkpoint")  # typed inside the group
    assert form.value() == TeacherStepConfig(teacher=ModelSpec(source="checkpoint", path="runs/other/checkpoint"))


def test_a_bad_nested_field_is_marked_inside_the_group_and_blocks_the_form(qtbot):
    form = ConfigForm(TeacherStepConfig, path="methods[0]")
    qtbot.addWidget(form)
    inner = form.editor("teacher").findChild(ConfigForm)
    inner.editor("path").setText(" ")
    assert form.value() is None
    assert "is empty" in inner.field_error("path")
    assert inner.errors()[0].startswith("methods[0].teacher.path: is empty")
    assert "fix the setting marked in this group" in form.field_error("teacher")
    inner.editor("path").setText("tiny-bert")
    assert form.value() == TeacherStepConfig(teacher=ModelSpec(path="tiny-bert")) and form.errors() == []
    form.set_field("teacher", ModelSpec(source="hf", path="models/minilm"))  # loaded from a recipe
    assert inner.editor("source").currentText() == "hf" and form.value().teacher.path == "models/minilm"
