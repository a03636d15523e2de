"""The Model page's "More options": tokenizer, class folder, example-input type, weight dtype.

They fill the ModelSpec fields model.tokenizer / python_path / input_dtype / input_range /
dtype of the files and folders the user opens, so they go into the recipe with the model.
Each field is checked as the user types (one red line under it naming the fix); a load
error naming one of them opens the panel on that field with the engine's message.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QToolButton,
    QWidget,
)

from engine.recipe import ModelSpec
from gui.widgets.model_option_checks import (
    MAX_TOKEN_ID,
    class_folder_problem,
    range_problem,
    tokenizer_problem,
)
from gui.widgets.no_wheel import guard_wheel_in

MORE_FIELDS = ("model.tokenizer", "model.python_path", "model.input_dtype", "model.input_range",
               "model.dtype")
INPUT_DTYPES = (("float32", "float32"), ("int64", "int64 (token ids)"))
WEIGHT_DTYPES = (("float32", "float32 (convert half precision)"), ("keep", "keep as stored"))
TOKENIZER_FILTER = "Tokenizers (*.json *.pt *.pth *.pkl *.bin);;All files (*)"
ERROR_STYLE = "color: #c62828;"
FLAG_STYLE = "border: 1px solid #c62828;"
DEFAULTS = ModelSpec()


class ModelMoreOptions(QFrame):
    """The panel (hidden until `toggle` opens it); `committed` fires when the user changes one."""

    committed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("moreOptions")
        self.setStyleSheet("#moreOptions { border: 1px solid palette(mid); border-radius: 6px; }")
        self.toggle = QToolButton()  # the picker places it in its input-shape row
        self.toggle.setCheckable(True)
        self.toggle.setAutoRaise(True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setToolTip("Tokenizer, class folder, example-input type and weight precision")
        self.toggle.toggled.connect(self._toggled)
        self._load_errors: dict[str, str] = {}  # field -> the last load's message about it
        grid = QGridLayout(self)
        grid.setContentsMargins(10, 6, 10, 8)
        grid.setVerticalSpacing(4)
        note = QLabel("For the files and folders you open; kept in the recipe with the model.")
        note.setStyleSheet("color: palette(mid);")
        grid.addWidget(note, 0, 0, 1, 3)
        self._build_paths(grid)
        self._build_dtypes(grid)
        grid.setColumnStretch(1, 1)
        self._committed = self.values()
        guard_wheel_in(self)  # the page scrolls; a combo or spin box under the pointer must not change
        self._refresh()
        self._toggled(False)

    def _build_paths(self, grid: QGridLayout) -> None:
        """Rows 1-4: tokenizer (file or folder) and class folder, each with its error line."""
        self.tokenizer = QLineEdit()
        self.tokenizer.setPlaceholderText("none: a Hugging Face tokenizer folder, tokenizer.json or a saved tokenizer")
        self.tokenizer.setToolTip("Tokenizer for text models that do not bring one (model.tokenizer);\n"
                                  "a saved tokenizer object is unpickled only with “Trust this file”")
        self.tokenizer_file_btn = _small_button("File…", lambda: self._browse_file(self.tokenizer))
        self.tokenizer_folder_btn = _small_button("Folder…", lambda: self._browse_folder(self.tokenizer))
        self.class_folder = QLineEdit()
        self.class_folder.setPlaceholderText("none: the folder holding the .py that defines a pickled model's class")
        self.class_folder.setToolTip("Added to the import path so a torch.save'd module's class can be\n"
                                     "imported (model.python_path); used only with “Trust this file”")
        self.class_folder_btn = _small_button("Folder…", lambda: self._browse_folder(self.class_folder))
        self.errors: dict[str, QLabel] = {}
        for row, field, label, edit, buttons in (
            (1, "model.tokenizer", "Tokenizer:", self.tokenizer,
             (self.tokenizer_file_btn, self.tokenizer_folder_btn)),
            (3, "model.python_path", "Class folder:", self.class_folder, (self.class_folder_btn,)),
        ):
            edit.textChanged.connect(lambda _t, f=field: self._edited(f))
            edit.editingFinished.connect(self.commit)
            grid.addWidget(QLabel(label), row, 0)
            grid.addWidget(edit, row, 1)
            grid.addLayout(_row(*buttons, stretch=True), row, 2)
            grid.addWidget(self._error_label(field), row + 1, 1, 1, 2)

    def _build_dtypes(self, grid: QGridLayout) -> None:
        """Rows 5-8: the example input's element type (+ id range) and the weights' dtype."""
        self.input_dtype = _combo(INPUT_DTYPES, "Element type of a generic model's example input "
                                                "(model.input_dtype): int64 for models that take token ids")
        self.input_dtype.activated.connect(lambda _i: self._edited("model.input_dtype", commit=True))
        self.range_from = QLabel("ids from")
        self.range_low = QSpinBox()
        self.range_low.setRange(0, MAX_TOKEN_ID - 1)
        self.range_to = QLabel("to (exclusive)")
        self.range_high = QSpinBox()
        self.range_high.setRange(0, MAX_TOKEN_ID)
        self.range_high.setSpecialValueText("auto")  # 0: no range in the recipe (the engine picks)
        self.range_high.setToolTip("Token ids are drawn from [from, to) (model.input_range), e.g. 0 to 50257\n"
                                   "for GPT-2's vocabulary; auto leaves the range to the engine")
        for spin in (self.range_low, self.range_high):
            spin.setMinimumWidth(90)
            spin.setMaximumWidth(130)  # ids up to 2^31 fit; wider only spreads the row
            spin.setGroupSeparatorShown(True)
            spin.valueChanged.connect(lambda _v: self._edited("model.input_range"))
            spin.editingFinished.connect(self.commit)
        self.weights_dtype = _combo(WEIGHT_DTYPES, "model.dtype: half-precision (bf16/fp16) weights are "
                                                   "converted to float32 for training and export,\nor kept as stored")
        self.weights_dtype.activated.connect(lambda _i: self._edited("model.dtype", commit=True))
        inputs = _row(self.input_dtype, self.range_from, self.range_low, self.range_to, self.range_high)
        inputs.addStretch(1)
        grid.addWidget(QLabel("Example input:"), 5, 0)
        grid.addLayout(inputs, 5, 1, 1, 2)
        grid.addWidget(self._error_label("model.input_dtype", "model.input_range"), 6, 1, 1, 2)
        grid.addWidget(QLabel("Weights:"), 7, 0)
        grid.addLayout(_row(self.weights_dtype, stretch=True), 7, 1, 1, 2)
        grid.addWidget(self._error_label("model.dtype"), 8, 1, 1, 2)

    def _error_label(self, *fields: str) -> QLabel:
        label = QLabel()
        label.setWordWrap(True)
        label.setStyleSheet(ERROR_STYLE)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        label.hide()
        for field in fields:
            self.errors[field] = label
        return label

    # -- values --------------------------------------------------------------------
    def values(self) -> dict[str, Any]:
        """The ModelSpec fields as set here."""
        int64 = self.input_dtype.currentData() == "int64"
        high = self.range_high.value()
        return {
            "tokenizer": self.tokenizer.text().strip() or None,
            "python_path": self.class_folder.text().strip() or None,
            "input_dtype": self.input_dtype.currentData(),
            "input_range": (self.range_low.value(), high) if int64 and high else None,
            "dtype": self.weights_dtype.currentData(),
        }

    def apply(self, spec: ModelSpec) -> ModelSpec:
        """`spec` with these options."""
        return dataclasses.replace(spec, **self.values())

    def fill(self, spec: ModelSpec) -> None:
        """Show `spec`'s options (a recipe's, or the model being loaded) without a reload."""
        self.tokenizer.setText(spec.tokenizer or "")
        self.class_folder.setText(spec.python_path or "")
        self.input_dtype.setCurrentIndex(max(0, self.input_dtype.findData(spec.input_dtype)))
        low, high = spec.input_range if spec.input_range and len(spec.input_range) == 2 else (0, 0)
        self.range_low.setValue(max(0, low))
        self.range_high.setValue(max(0, high))
        self.weights_dtype.setCurrentIndex(max(0, self.weights_dtype.findData(spec.dtype)))
        self._committed = self.values()
        self._refresh()

    def problems(self) -> dict[str, str]:
        """field -> what to fix, for what is typed now (checked on disk, before any load)."""
        found = {
            "model.tokenizer": tokenizer_problem(self.tokenizer.text()),
            "model.python_path": class_folder_problem(self.class_folder.text()),
        }
        if self.values()["input_range"] is not None:
            found["model.input_range"] = range_problem(self.range_low.value(), self.range_high.value())
        return {field: text for field, text in found.items() if text}

    def set_count(self) -> int:
        """How many options differ from the defaults (shown on the closed toggle)."""
        defaults = {name: getattr(DEFAULTS, name) for name in self.values()}
        return sum(self.values()[name] != defaults[name] for name in defaults)

    # -- edits and errors ----------------------------------------------------------
    def commit(self) -> None:
        """Emit `committed` when the options changed since the last time and all are valid."""
        if self.values() != self._committed and not self.problems():
            self._committed = self.values()
            self.committed.emit()

    def _edited(self, field: str, commit: bool = False) -> None:
        self._load_errors.pop(field, None)  # the user is fixing it: the old message is stale
        self._refresh()
        if commit:
            self.commit()

    def reveal(self, field: str, message: str) -> None:
        """Open the panel on `field` with a load's `message` next to it."""
        self._load_errors[field] = message
        self.toggle.setChecked(True)
        self._refresh()
        self._editor(field).setFocus(Qt.FocusReason.OtherFocusReason)

    def clear_load_errors(self) -> None:
        """A new load started or one succeeded: the last load's messages no longer hold."""
        self._load_errors.clear()
        self._refresh()

    def _refresh(self) -> None:
        """Range boxes only for int64; each field's line: what is typed now, else the last load's."""
        int64 = self.input_dtype.currentData() == "int64"
        for w in (self.range_from, self.range_low, self.range_to, self.range_high):
            w.setVisible(int64)
        self.range_low.setEnabled(self.range_high.value() > 0)  # "auto" leaves both ends to the engine
        messages = {**self._load_errors, **self.problems()}
        for label in set(self.errors.values()):
            texts = [messages[f] for f, lab in self.errors.items() if lab is label and f in messages]
            label.setText(texts[0] if texts else "")
            label.setVisible(bool(texts))
        for field in MORE_FIELDS:
            self._editor(field).setStyleSheet(FLAG_STYLE if field in messages else "")
        # closed, the toggle says how many are set: nothing applies to a load unseen
        count, opened = self.set_count(), self.toggle.isChecked()
        self.toggle.setText("More options" + ("" if opened else "…")
                            + (f" ({count} set)" if count and not opened else ""))

    def _editor(self, field: str) -> QWidget:
        return {
            "model.tokenizer": self.tokenizer, "model.python_path": self.class_folder,
            "model.input_dtype": self.input_dtype, "model.dtype": self.weights_dtype,
            "model.input_range": self.range_high if self.input_dtype.currentData() == "int64"
            else self.input_dtype,
        }[field]

    def _toggled(self, on: bool) -> None:
        self.setVisible(on)
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)
        self._refresh()

    def _browse_file(self, edit: QLineEdit) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a tokenizer file", "", TOKENIZER_FILTER)
        self._picked(edit, path)

    def _browse_folder(self, edit: QLineEdit) -> None:
        self._picked(edit, QFileDialog.getExistingDirectory(self, "Choose a folder"))

    def _picked(self, edit: QLineEdit, path: str) -> None:
        if path:
            edit.setText(path)
            self.commit()


def _small_button(text: str, on_click: Any) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    button.clicked.connect(on_click)
    return button


def _combo(items: tuple[tuple[str, str], ...], tip: str) -> QComboBox:
    combo = QComboBox()
    for value, text in items:
        combo.addItem(text, value)
    combo.setToolTip(tip)
    return combo


def _row(*widgets: QWidget, stretch: bool = False) -> QHBoxLayout:
    row = QHBoxLayout()
    row.setSpacing(6)
    for w in widgets:
        row.addWidget(w)
    if stretch:
        row.addStretch(1)
    return row
