"""Generated config forms and the Optimize page: validation as you type, live estimate, recipes."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel, QLineEdit, QWidget

from engine.config_fields import option
from engine.methods.prune.unstructured import UnstructuredPruneConfig
from engine.recipe import Recipe
from gui.pages.optimize_page import OptimizePage
from gui.widgets.config_form import ConfigForm


@dataclass(frozen=True)
class _Every:
    flag: bool = option(True, help="a switch")
    mode: str = option("a", choices=("a", "b"))
    count: int = option(3, min=1, max=10)
    ratio: float = option(0.5, min=0.0, max=1.0, max_exclusive=True)
    label: str = option("x", help="free text")
    limit: int | None = option(None, min=1)
    shape: tuple[int, ...] | None = option(None)
    patterns: tuple[str, ...] = option(default_factory=lambda: ("*",))
    hidden: int = option(7, min=0, advanced=True)


def test_form_widgets_follow_field_types(qtbot):
    form = ConfigForm(_Every, path="every")
    qtbot.addWidget(form)
    kinds = {name: type(form.editor(name)) for name in ("flag", "mode", "count", "ratio", "label",
                                                         "limit", "shape", "patterns", "hidden")}
    assert kinds["flag"] is QCheckBox
    assert kinds["mode"] is QComboBox
    assert all(kinds[n] is QLineEdit for n in ("count", "ratio", "label", "limit", "shape", "patterns"))
    assert form.value() == _Every()
    assert form.editor("label").toolTip() == "free text"
    assert "1 ≤ value ≤ 10" in form.editor("count").placeholderText()
    # advanced fields start collapsed and open when one of them is wrong
    assert form.advanced_toggle is not None and not form.advanced_toggle.isChecked()
    form.editor("hidden").setText("-1")
    assert form.advanced_toggle.isChecked()
    assert form.field_error("hidden") == "must be in [0, inf], got -1"

    form.editor("hidden").setText("7")
    form.editor("patterns").setText("blocks.*, *.mlp.*")
    form.editor("shape").setText("1, 3, 32")
    form.editor("limit").setText("")
    form.editor("mode").setCurrentIndex(1)
    form.editor("flag").setChecked(False)
    v = form.value()
    assert v.patterns == ("blocks.*", "*.mlp.*") and v.shape == (1, 3, 32)
    assert v.limit is None and v.mode == "b" and v.flag is False

    form.editor("shape").setText("1, x")
    assert form.value() is None
    assert "whole numbers" in form.field_error("shape")
    form.editor("shape").setText("")
    form.editor("count").setText("2.5")
    assert form.errors() == ["every.count: must be a whole number, got 2.5"]


def test_amount_error_shows_under_field_and_blocks_run(qtbot, app_state):
    page = OptimizePage(app_state)
    qtbot.addWidget(page)
    form = page.steps.cards[0].form
    seen: list = []
    form.changed.connect(seen.append)
    assert page.run_button.isEnabled()

    form.editor("amount").setText("1.5")
    assert form.field_error("amount") == "must be in [0, 1), got 1.5"
    error_label = form.findChild(QLabel, "error_amount")
    assert error_label.text() == "must be in [0, 1), got 1.5" and not error_label.isHidden()
    assert not page.run_button.isEnabled()
    status = page.error_label.full_text()
    assert "Step 1 · methods[0].amount: must be in [0, 1), got 1.5" in status
    assert seen[-1] is None
    assert app_state.recipe.methods[0].amount == 0.5  # invalid edits never reach the state

    form.editor("amount").setText("0.3")
    assert form.field_error("amount") == "" and error_label.isHidden()
    assert page.run_button.isEnabled() and page.error_label.full_text() == "Ready to run."
    assert app_state.recipe.methods[0] == UnstructuredPruneConfig(amount=0.3)


def test_other_forms_update_the_state_recipe(qtbot, app_state):
    page = OptimizePage(app_state)
    qtbot.addWidget(page)
    with qtbot.waitSignal(app_state.recipe_changed):
        page.train_form.editor("batch_size").setText("32")
    assert app_state.recipe.train.batch_size == 32
    page.data_form.editor("max_length").setText("4")  # below min=8
    assert not page.run_button.isEnabled()
    assert page.first_error() == "data.max_length: must be in [8, 8192], got 4"
    page.data_form.editor("max_length").setText("48")
    page.name_edit.setText("  ")
    assert page.first_error().startswith("name: is empty")
    page.name_edit.setText("my-variant")
    assert page.run_button.isEnabled()
    assert app_state.recipe.name == "my-variant" and app_state.recipe.data.max_length == 48


def test_steps_add_remove_and_recipe_files(qtbot, app_state, tmp_path):
    page = OptimizePage(app_state)
    qtbot.addWidget(page)
    actions = [a for a in page.steps.add_button.menu().actions() if not a.isSeparator()]
    labels = [a.text() for a in actions]  # every registered method, from the registry
    assert labels[0] == "Unstructured pruning (magnitude / random / Taylor)"
    assert "N:M semi-structured pruning (2:4 ...)" in labels
    actions[0].trigger()
    assert len(page.steps.cards) == 2 and len(app_state.recipe.methods) == 2
    page.steps.cards[1].form.editor("amount").setText("2")
    assert page.first_error() == "Step 2 · methods[1].amount: must be in [0, 1), got 2"
    page.steps.remove(page.steps.cards[1])
    assert page.run_button.isEnabled() and len(app_state.recipe.methods) == 1

    path = tmp_path / "r.yaml"
    page.train_form.editor("max_steps").setText("7")
    assert page.save_recipe(path)
    assert Recipe.load(path) == app_state.recipe
    page.train_form.editor("max_steps").setText("9")
    assert page.load_recipe(path)
    assert page.train_form.editor("max_steps").text() == "7" and app_state.recipe.train.max_steps == 7
    bad = tmp_path / "bad.yaml"
    bad.write_text("methods:\n  - {type: magnitude_prune, amount: 3}\nbogus: 1\n")
    assert not page.load_recipe(bad)
    assert "bogus" in page.error_label.full_text()


def test_run_button_navigates_and_requests_a_run(qtbot, app_state):
    page = OptimizePage(app_state)
    qtbot.addWidget(page)
    pages: list[str] = []
    app_state.navigate.connect(pages.append)
    with qtbot.waitSignal(page.run_requested) as blocker:
        page.run_button.click()
    assert pages == ["Run"] and blocker.args[0] == app_state.recipe


@pytest.mark.parametrize("path,source", [("notes.txt", "text"), ("train.csv", "labelled")])
def test_choosing_a_data_file_switches_builtin_source(qtbot, app_state, path, source):
    page = OptimizePage(app_state)
    qtbot.addWidget(page)
    page.set_data_path(path)
    assert app_state.recipe.data.path == path and app_state.recipe.data.source == source


def test_errors_while_typing_never_move_the_form(qtbot, app_state):
    page = OptimizePage(app_state)
    qtbot.addWidget(page)
    page.resize(900, 640)
    page.show()
    qtbot.waitExposed(page)
    steps_area = page.steps.parentWidget()
    while steps_area is not None and not steps_area.inherits("QScrollArea"):
        steps_area = steps_area.parentWidget()
    before = steps_area.geometry()
    status_height = page.error_label.height()
    page.steps.cards[0].form.editor("amount").setText("1.5")  # an error appears...
    qtbot.wait(20)
    assert page.error_label.full_text().startswith("Cannot run yet — Step 1 · methods[0].amount")
    assert steps_area.geometry() == before and page.error_label.height() == status_height
    long = "x" * 300  # ...or a long one that would wrap in a plain label
    page.name_edit.setText(long)
    qtbot.wait(20)
    assert steps_area.geometry() == before and page.error_label.height() == status_height
    page.name_edit.setText("ok")
    page.steps.cards[0].form.editor("amount").setText("0.5")  # ...and goes
    qtbot.wait(20)
    assert steps_area.geometry() == before and page.error_label.full_text() == "Ready to run."


def test_a_saved_recipe_holds_what_the_user_set_not_hidden_fields(qtbot, app_state, tmp_path):
    import yaml

    page = OptimizePage(app_state)
    qtbot.addWidget(page)
    form = page.steps.cards[0].form
    form.set_field("schedule", "iterative")
    form.editor("rounds").setText("7")  # typed, then hidden again by the next choice
    form.set_field("schedule", "oneshot")
    form.editor("amount").setText("0.3")
    path = tmp_path / "mine.yaml"
    assert page.save_recipe(path)
    saved = yaml.safe_load(path.read_text())
    assert saved["methods"] == [{"type": "unstructured_prune", "amount": 0.3}]
    assert Recipe.load(path).methods == (UnstructuredPruneConfig(amount=0.3),)


def test_page_fits_a_1024x700_window_without_clipping(qtbot, app_state, tmp_path):
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QAbstractButton

    from gui.main_window import MainWindow
    from gui.widgets.status_line import StatusLine

    window = MainWindow(app_state, QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    page = window.findChild(OptimizePage)
    page.steps.add_step("nm_prune")  # two stacked steps
    page.steps.cards[0].form.editor("amount").setText("1.5")  # and an error
    app_state.navigate.emit("Optimize")
    window.resize(1024, 700)
    window.show()
    qtbot.waitExposed(window)
    qtbot.wait(50)
    assert (window.width(), window.height()) == (1024, 700)
    shown = [w for w in page.findChildren(QWidget) if w.isVisible() and not w.visibleRegion().isEmpty()]
    clipped = [
        w.text() for w in shown
        if isinstance(w, (QLabel, QAbstractButton)) and not isinstance(w, StatusLine)
        and not (isinstance(w, QLabel) and w.wordWrap()) and w.text()
        and w.width() < w.sizeHint().width()
    ]
    assert clipped == []
    editors = [w for w in shown if isinstance(w, (QLineEdit, QComboBox)) and w.objectName().startswith("field_")]
    assert editors and min(e.width() for e in editors) >= 150  # room to read a value
    assert page.error_label.full_text().startswith("Cannot run yet — Step 1 · methods[0].amount")
