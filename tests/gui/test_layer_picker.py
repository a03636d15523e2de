"""The distill step's keep_layers picker: one toggle per teacher block of the loaded model,
writing the recipe exactly as typing in the text box would; the text box without a model."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton, QToolButton

from engine.models.loaders import load_model
from engine.recipe import Recipe
from gui.pages.optimize_page import OptimizePage
from gui.state import ModelInfo
from gui.widgets.layer_picker import LayerPickerEditor

RECIPE = Path(__file__).resolve().parents[2] / "assets" / "recipes" / "distill-tiny-gpt.yaml"


@pytest.fixture(scope="module")
def tiny_gpt():
    """The built-in 4-block GPT the distill recipe names (loaded once for these tests)."""
    return load_model(Recipe.from_yaml(RECIPE.read_text()).model)


def _page(qtbot, app_state, loaded=None) -> tuple[OptimizePage, LayerPickerEditor]:
    recipe = Recipe.from_yaml(RECIPE.read_text())
    app_state.set_recipe(recipe)
    if loaded is not None:
        app_state.set_model(ModelInfo(loaded, None, spec=recipe.model))
    page = OptimizePage(app_state)
    qtbot.addWidget(page)
    page.resize(1024, 700)
    page.show()
    editor = page.steps.cards[0].form._rows["keep_layers"].editor
    assert isinstance(editor, LayerPickerEditor)
    return page, editor


def _keep(app_state) -> tuple[int, ...]:
    return app_state.recipe.methods[0].keep_layers


def test_picker_shows_one_toggle_per_block_and_writes_the_recipe(qtbot, app_state, tiny_gpt):
    page, editor = _page(qtbot, app_state, tiny_gpt)
    picker = page.findChild(type(editor.panel), "layerPicker")
    buttons = [b for b in picker.findChildren(QToolButton) if b.objectName().startswith("block")]
    assert [b.text() for b in buttons] == ["B0", "B1", "B2", "B3"]
    assert editor.panel.isVisible() and not editor.text.widget.isVisible()
    assert [b.isChecked() for b in buttons] == [True, False, True, False]  # the recipe's [0, 2]
    assert buttons[1].font().strikeOut() and not buttons[0].font().strikeOut()
    assert "Keeps 2 of 4 blocks: 0, 2" in editor.summary.text()
    assert "student ≈" in editor.summary.text()

    qtbot.mouseClick(editor.clear_button, Qt.MouseButton.LeftButton)
    assert _keep(app_state) == ()
    assert editor.summary.text().startswith("Empty = every other block: keeps 2 of 4")
    qtbot.mouseClick(buttons[1], Qt.MouseButton.LeftButton)
    qtbot.mouseClick(buttons[3], Qt.MouseButton.LeftButton)
    assert _keep(app_state) == (1, 3)
    assert [b.isChecked() for b in buttons] == [False, True, False, True]
    every = next(b for b in picker.findChildren(QPushButton) if b.text() == "Every other")
    qtbot.mouseClick(every, Qt.MouseButton.LeftButton)
    assert _keep(app_state) == (0, 2)


def test_student_estimate_drops_the_blocks_parameters(qtbot, app_state, tiny_gpt):
    _page_, editor = _page(qtbot, app_state, tiny_gpt)
    module = tiny_gpt.module
    total = sum(p.numel() for p in module.parameters())
    per_block = sum(p.numel() for p in module.blocks[0].parameters())
    from engine.estimate import fmt_count

    qtbot.mouseClick(editor.toggles[0], Qt.MouseButton.LeftButton)  # keeps only block 2
    assert f"student ≈ {fmt_count(total - 3 * per_block)} of {fmt_count(total)}" in editor.summary.text()


def test_keeping_every_block_is_flagged_and_blocks_run(qtbot, app_state, tiny_gpt):
    page, editor = _page(qtbot, app_state, tiny_gpt)
    for i in (1, 3):
        qtbot.mouseClick(editor.toggles[i], Qt.MouseButton.LeftButton)
    assert "not smaller" in editor.summary.text()
    # the engine's estimate refuses a student equal to the teacher: Run stays off
    qtbot.waitUntil(lambda: "keep_layers" in page.first_error(), timeout=20000)
    assert not page.run_button.isEnabled()


def test_without_a_model_the_text_box_is_used(qtbot, app_state):
    app_state.set_model(None)
    page, editor = _page(qtbot, app_state)
    assert editor.text.widget.isVisible() and not editor.panel.isVisible()
    assert editor.text.widget.text() == "0, 2"
    editor.text.widget.setText("1, 3")
    assert _keep(app_state) == (1, 3)
    editor.text.widget.setText("1, x")  # a typo: the field's own message, the recipe keeps (1, 3)
    form = page.steps.cards[0].form
    assert "whole numbers" in form.field_error("keep_layers")
    assert _keep(app_state) == (1, 3)


def test_a_model_without_a_block_stack_keeps_the_text_box(qtbot, app_state, tiny_gpt):
    from types import SimpleNamespace

    from torch import nn

    _page_, editor = _page(qtbot, app_state, tiny_gpt)
    assert len(editor.toggles) == 4
    editor.set_model(SimpleNamespace(module=nn.Sequential(nn.Linear(4, 4))))  # a generic model
    assert editor.text.widget.isVisible() and not editor.panel.isVisible()
    assert editor.toggles == []
    editor.set_model(tiny_gpt)  # back to a transformer: the toggles return
    assert len(editor.toggles) == 4 and editor.panel.isVisible()
