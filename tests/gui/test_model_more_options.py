"""Model page "More options": tokenizer, class folder, example-input dtype/range, weights dtype.

Real widgets driven by keyboard, a real TorchScript model file loaded by the real engine, the
real ModelSpec in the page's request and in the recipe saved by the Optimize page.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import dataclasses  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QWidget  # noqa: E402
from torch import nn  # noqa: E402

from engine.models.types import ModelLoadError  # noqa: E402
from engine.recipe import ModelSpec, Recipe  # noqa: E402
from gui.pages.model_page import ModelPage  # noqa: E402
from gui.state import AppState  # noqa: E402

LOAD_MS = 60_000
VOCAB = 100


class TokenModel(nn.Module):
    """Takes token ids (casts, so a float example input runs too) and returns 3 logits."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(VOCAB, 8)
        self.head = nn.Linear(8, 3)
        self.top = VOCAB - 1  # an attribute: TorchScript cannot close over a module global

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.emb(x.long().clamp(0, self.top)).mean(1))


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    """A TorchScript token model (scripted once: TorchScript keeps one compiled class per name)."""
    path = tmp_path_factory.mktemp("ts") / "token_model.ts"
    torch.jit.save(torch.jit.script(TokenModel()), str(path))
    return path


@pytest.fixture
def files(model_file: Path, tmp_path: Path) -> dict[str, Path]:
    """The model, a real tokenizer.json and a folder holding a model class."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace

    model = model_file
    vocab = {"[UNK]": 0, **{w: i + 1 for i, w in enumerate("the cat sat on a mat".split())}}
    tok = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = Whitespace()
    tokenizer = tmp_path / "tokenizer.json"
    tok.save(str(tokenizer))
    classes = tmp_path / "my_models"
    classes.mkdir()
    (classes / "token_model.py").write_text("from torch import nn\n\nclass TokenModel(nn.Module):\n    pass\n")
    return {"model": model, "tokenizer": tokenizer, "classes": classes}


@pytest.fixture
def page(qtbot, tmp_path):
    w = ModelPage(AppState(tmp_path / "ws"))
    qtbot.addWidget(w)
    w.resize(1024, 700)
    w.show()
    qtbot.waitExposed(w)
    return w


def _requests(page: ModelPage) -> list[ModelSpec]:
    seen: list[ModelSpec] = []
    page.picker.requested.connect(seen.append)
    return seen


def _type(qtbot, widget: QWidget, text: str) -> None:
    """Type into a field as a user does: focus, select all, type, Enter."""
    widget.setFocus()
    qtbot.keyClick(widget, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(widget, text)
    qtbot.keyClick(widget, Qt.Key.Key_Return)


def _choose(qtbot, combo: QWidget, steps: int) -> None:
    """Move a combo's choice with the arrow keys (emits activated, as a user's choice does)."""
    combo.setFocus()
    key = Qt.Key.Key_Down if steps > 0 else Qt.Key.Key_Up
    for _ in range(abs(steps)):
        qtbot.keyClick(combo, key)


def _wait(qtbot, page: ModelPage) -> None:
    qtbot.waitUntil(lambda: not page.is_busy(), timeout=LOAD_MS)


def test_tokenizer_and_class_folder_go_into_the_requested_spec_and_the_recipe(qtbot, page, files):
    opts = page.picker.options
    assert not opts.isVisible()
    qtbot.mouseClick(opts.toggle, Qt.MouseButton.LeftButton)
    assert opts.isVisible()
    _type(qtbot, opts.tokenizer, str(files["tokenizer"]))
    _type(qtbot, opts.class_folder, str(files["classes"]))
    _type(qtbot, page.picker.shape, "1, 16")
    seen = _requests(page)
    page.load_path(files["model"])
    assert seen[-1].tokenizer == str(files["tokenizer"])
    assert seen[-1].python_path == str(files["classes"])
    assert seen[-1].input_shape == (1, 16)
    _wait(qtbot, page)
    # a TorchScript file does not say it is a text model: the engine refuses the tokenizer for
    # a generic model, the reason shows next to Tokenizer and the page asks for the task
    assert opts.errors["model.tokenizer"].isVisible()
    assert "see More options below" in page.picker.error.text()
    dialog = page.options_dialog
    assert dialog is not None and dialog.isVisible() and not dialog.needs_arch
    assert "does not say what the model predicts" in dialog.reason.text()
    assert dialog.found.isHidden()  # no config.json beside a TorchScript file: nothing to quote
    dialog.task.setCurrentIndex(dialog.task.findData("classification"))
    dialog.labels.setValue(3)
    dialog.accept()
    _wait(qtbot, page)
    assert page.picker.error.text() == ""
    model = page.state.recipe.model
    assert (model.source, model.task, model.num_labels) == ("torchscript", "classification", 3)
    assert (model.tokenizer, model.python_path) == (str(files["tokenizer"]), str(files["classes"]))
    assert page.state.model_info.loaded.tokenizer is not None  # the file the user chose
    assert not opts.errors["model.tokenizer"].isVisible()


def test_changing_an_option_reloads_the_same_file_with_it(qtbot, page, files):
    page.picker.shape.setText("1, 16")
    page.load_path(files["model"])
    _wait(qtbot, page)
    assert page.state.recipe.model.dtype == "float32"
    opts = page.picker.options
    opts.toggle.setChecked(True)
    seen = _requests(page)
    _choose(qtbot, opts.weights_dtype, 1)  # "keep as stored"
    assert [s.dtype for s in seen] == ["keep"] and seen[0].path == str(files["model"])
    _wait(qtbot, page)
    assert page.state.recipe.model.dtype == "keep"
    opts.toggle.setChecked(False)
    assert opts.toggle.text() == "More options… (1 set)"  # closed, it still says one applies


def test_int64_shows_the_range_boxes_and_produces_input_range(qtbot, page, files):
    page.picker.shape.setText("1, 16")
    page.load_path(files["model"])
    _wait(qtbot, page)
    opts = page.picker.options
    opts.toggle.setChecked(True)
    assert not opts.range_low.isVisible() and not opts.range_high.isVisible()
    seen = _requests(page)
    _choose(qtbot, opts.input_dtype, 1)
    assert opts.range_low.isVisible() and opts.range_high.isVisible()
    assert opts.range_high.text() == "auto" and not opts.range_low.isEnabled()
    assert seen[-1].input_dtype == "int64" and seen[-1].input_range is None
    _wait(qtbot, page)
    _type(qtbot, opts.range_high, str(VOCAB))
    assert opts.range_low.isEnabled()
    assert (seen[-1].input_dtype, seen[-1].input_range) == ("int64", (0, VOCAB))
    _wait(qtbot, page)
    count = len(seen)
    _type(qtbot, opts.range_low, str(VOCAB + 5))  # low above high: refused, said next to it
    assert len(seen) == count
    assert "low < high" in opts.errors["model.input_range"].text()
    assert opts.errors["model.input_range"].isVisible()
    _choose(qtbot, opts.input_dtype, -1)  # back to float32: no range in the spec, boxes hidden
    assert not opts.range_high.isVisible() and opts.values()["input_range"] is None
    assert seen[-1].input_dtype == "float32" and seen[-1].input_range is None


def test_bad_paths_show_one_red_line_and_no_load_is_asked(qtbot, page, files, tmp_path):
    opts = page.picker.options
    opts.toggle.setChecked(True)
    missing = tmp_path / "no-such-tokenizer"
    qtbot.keyClicks(opts.tokenizer, str(missing))  # checked as typed, before Enter
    error = opts.errors["model.tokenizer"]
    assert error.isVisible() and error.text().startswith(f"{missing} does not exist")
    assert "c62828" in error.styleSheet() and "c62828" in opts.tokenizer.styleSheet()
    _type(qtbot, opts.class_folder, str(files["tokenizer"]))  # a file, not a folder
    assert "is a file; choose the folder" in opts.errors["model.python_path"].text()
    seen = _requests(page)
    page.load_path(files["model"])
    assert seen == []  # a typo is fixed first, not sent to the engine
    assert page.picker.error.isVisible() and "More options" in page.picker.error.text()
    opts.tokenizer.clear()
    opts.class_folder.clear()
    assert not error.isVisible() and not opts.errors["model.python_path"].isVisible()
    empty = tmp_path / "empty"
    empty.mkdir()
    _type(qtbot, opts.tokenizer, str(empty))
    assert "holds no tokenizer.json" in error.text()


def test_load_error_naming_the_tokenizer_opens_the_field_with_the_message(qtbot, page, files):
    opts = page.picker.options
    opts.fill(ModelSpec(source="torchscript", path="m.ts", tokenizer=str(files["tokenizer"])))
    assert not opts.isVisible() and opts.toggle.text() == "More options… (1 set)"
    message = str(ModelLoadError(f"{files['tokenizer']} is not a tokenizer the loader can read "
                                 "(expected value at line 1); re-save it with save_pretrained",
                                 "model.tokenizer"))
    page.picker.show_error(message)
    assert opts.isVisible() and opts.toggle.isChecked()
    error = opts.errors["model.tokenizer"]
    assert error.isVisible() and "is not a tokenizer the loader can read" in error.text()
    assert "c62828" in opts.tokenizer.styleSheet()
    assert "see More options below" in page.picker.error.text()
    qtbot.keyClick(opts.tokenizer, Qt.Key.Key_End)  # the user edits the path: the old reason goes
    qtbot.keyClick(opts.tokenizer, Qt.Key.Key_Backspace)
    assert "does not exist" in error.text()  # ...and what is typed now is checked instead
    qtbot.keyClicks(opts.tokenizer, "n")
    assert not error.isVisible() and opts.tokenizer.styleSheet() == ""
    # a fix named in another field's message opens the field it names
    page.picker.show_error("model.path: a pickled module whose class cannot be imported; set "
                           "model.python_path to the folder holding its .py and tick trust")
    class_error = opts.errors["model.python_path"]
    assert class_error.isVisible() and "set “Class folder” to the folder" in class_error.text()
    assert "“Class folder” (More options)" in page.picker.error.text()
    page.picker.show_error("")  # a new load: the last load's reasons no longer hold
    assert not class_error.isVisible()


def test_recipe_options_fill_the_widgets_and_the_saved_recipe_keeps_them(qtbot, page, files, tmp_path):
    from gui.pages.optimize_page import OptimizePage

    spec = ModelSpec(source="torchscript", path=str(files["model"]), task="classification",
                     num_labels=3, input_shape=(1, 16), input_dtype="int64", input_range=(0, VOCAB), tokenizer=str(files["tokenizer"]),
                     python_path=str(files["classes"]), dtype="keep")
    page.state.set_recipe(page.state.recipe.replace(model=spec))  # as File → Open recipe does
    opts = page.picker.options
    assert opts.tokenizer.text() == str(files["tokenizer"])
    assert opts.class_folder.text() == str(files["classes"])
    assert opts.input_dtype.currentData() == "int64"
    assert (opts.range_low.value(), opts.range_high.value()) == (0, VOCAB)
    assert opts.weights_dtype.currentData() == "keep"
    assert page.picker.shape.text() == "1, 16"
    assert opts.toggle.text() == "More options… (5 set)"
    _wait(qtbot, page)
    opts.toggle.setChecked(True)
    _type(qtbot, opts.range_high, "50")  # a GUI edit on top of the recipe's options
    _wait(qtbot, page)
    assert page.picker.error.text() == ""
    optimize = OptimizePage(page.state)
    qtbot.addWidget(optimize)
    saved = tmp_path / "saved.yaml"
    assert optimize.save_recipe(saved)
    text = saved.read_text()
    assert "tokenizer:" in text and "python_path:" in text and "dtype: keep" in text
    back = Recipe.load(saved).model
    assert back == dataclasses.replace(spec, input_range=(0, 50))


def test_wheel_over_an_unfocused_option_leaves_it_alone(qtbot, page):
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    opts = page.picker.options
    opts.toggle.setChecked(True)
    opts.input_dtype.setCurrentIndex(1)  # int64: the range boxes are shown
    opts._refresh()
    page.picker.shape.setFocus()  # focus elsewhere, as when scrolling past the panel
    for widget in (opts.input_dtype, opts.weights_dtype, opts.range_low, opts.range_high):
        before = widget.currentIndex() if hasattr(widget, "currentIndex") else widget.value()
        local = QPointF(widget.width() / 2, widget.height() / 2)
        event = QWheelEvent(local, QPointF(widget.mapToGlobal(local.toPoint())), QPoint(0, 0),
                            QPoint(0, 120), Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                            Qt.ScrollPhase.NoScrollPhase, False)
        QApplication.sendEvent(widget, event)
        after = widget.currentIndex() if hasattr(widget, "currentIndex") else widget.value()
        assert after == before, widget
