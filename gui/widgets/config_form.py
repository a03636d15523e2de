"""ConfigForm: a form generated from a config dataclass, validated as you type.

Nothing here knows about any particular method: widgets come from the field types
and `option(...)` metadata, and messages from the engine's `check_value` /
`validate_config`, so a new registered method gets a working form for free and the
form says exactly what the CLI would say about the same value.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.config_fields import (
    check_value,
    field_label,
    nested_config,
    resolved_hints,
    validate_config,
)
from gui.widgets.field_editors import FieldEditor, editor_for
from gui.widgets.nested_config_editor import NestedConfigEditor

ERROR_COLOR = "#c62828"
CAPTION_COLOR = "#6b6b6b"
FORM_STYLE = f"""
QLineEdit[invalid="true"], QComboBox[invalid="true"] {{ border: 1px solid {ERROR_COLOR}; }}
QLabel[role="caption"] {{ color: {CAPTION_COLOR}; }}
QLabel[role="error"] {{ color: {ERROR_COLOR}; }}
"""


def small_label(text: str, role: str) -> QLabel:
    """A word-wrapped caption (grey) or error (red) line under a field."""
    label = QLabel(text)
    label.setProperty("role", role)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    font = label.font()
    font.setPointSizeF(max(font.pointSizeF() - 1, 7))
    label.setFont(font)
    return label


@dataclasses.dataclass
class _Row:
    field: dataclasses.Field
    hint: Any
    editor: FieldEditor
    label: QLabel
    box: QWidget  # editor + caption + error, right of the label
    line: QHBoxLayout  # the editor and any buttons a page attaches next to it
    error: QLabel
    advanced: bool


class ConfigForm(QWidget):
    """Form for `config_cls`; `value()` is a config instance, or None while invalid."""

    changed = Signal(object)  # the new config, or None when some field is invalid

    def __init__(
        self,
        config_cls: type,
        value: Any = None,
        path: str = "",
        parent: QWidget | None = None,
        captions: bool = True,
    ):
        super().__init__(parent)
        self.config_cls = config_cls
        self.path = path or config_cls.__name__
        self.setStyleSheet(FORM_STYLE)
        self._rows: dict[str, _Row] = {}
        self._errors: dict[str, str] = {}  # field name (or "" for the whole config) -> message
        self._value: Any = None
        self._base: Any = None  # the config last shown: hidden (irrelevant) fields keep its values
        self._loading = False

        # label | (editor, caption, error) rows; hidden rows take no space in a grid
        self._layout = QGridLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setHorizontalSpacing(8)
        self._layout.setVerticalSpacing(6)
        self._layout.setColumnStretch(1, 1)
        hints = resolved_hints(config_cls)
        fields = [f for f in dataclasses.fields(config_cls) if f.init]
        basic = [f for f in fields if not f.metadata.get("advanced")]
        advanced = [f for f in fields if f.metadata.get("advanced")]
        for f in basic:
            self._add_row(f, hints[f.name], captions)
        self.advanced_toggle: QToolButton | None = None
        if advanced:
            self.advanced_toggle = self._make_advanced_toggle(len(advanced))
            self._layout.addWidget(self.advanced_toggle, self._layout.rowCount(), 0, 1, 2)
            for f in advanced:
                self._add_row(f, hints[f.name], captions, advanced=True)
            self._show_advanced(False)
        self._form_error = small_label("", "error")  # errors not tied to one field
        self._form_error.hide()
        self._layout.addWidget(self._form_error, self._layout.rowCount(), 0, 1, 2)
        self.set_value(value if value is not None else _default_instance(config_cls))

    # -- building ----------------------------------------------------------------
    def _add_row(self, f: dataclasses.Field, hint: Any, captions: bool, advanced: bool = False) -> None:
        nested = nested_config(hint)
        editor = (NestedConfigEditor(nested, f"{self.path}.{f.name}", captions) if nested
                  else editor_for(f, hint))  # fmt: skip
        help_text = f.metadata.get("help") or ""
        label = QLabel(field_label(f) + ":")
        label.setToolTip(help_text)
        label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        editor.widget.setToolTip(help_text)
        editor.widget.setObjectName(f"field_{f.name}")
        box = QWidget()
        col = QVBoxLayout(box)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(1)
        line = QHBoxLayout()
        line.setContentsMargins(0, 0, 0, 0)
        line.addWidget(editor.widget, 1)
        col.addLayout(line)
        if captions and help_text:
            col.addWidget(small_label(help_text, "caption"))
        greyed = getattr(editor, "unavailable_text", lambda: "")()  # choices this machine lacks
        if greyed:
            col.addWidget(small_label(greyed, "caption"))
        error = small_label("", "error")
        error.setObjectName(f"error_{f.name}")
        error.hide()
        col.addWidget(error)
        row = self._layout.rowCount()
        # top-aligned with the editor line, whatever the caption below it adds
        self._layout.addWidget(label, row, 0, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        if not nested:  # a group is tall: its label sits at its top, not its middle
            label.setMinimumHeight(editor.widget.sizeHint().height())
        self._layout.addWidget(box, row, 1)
        self._rows[f.name] = _Row(f, hint, editor, label, box, line, error, advanced)
        editor.on_change(self._on_edit)

    def _make_advanced_toggle(self, count: int) -> QToolButton:
        button = QToolButton()
        button.setText(f"Advanced ({count})")
        button.setCheckable(True)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        button.setArrowType(Qt.ArrowType.RightArrow)
        button.setAutoRaise(True)
        button.toggled.connect(self._show_advanced)
        return button

    def _show_advanced(self, shown: bool) -> None:
        if self.advanced_toggle is None:
            return
        self.advanced_toggle.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)
        if self.advanced_toggle.isChecked() != shown:
            self.advanced_toggle.setChecked(shown)  # re-enters with the same value; harmless
        self._apply_visibility()

    def _relevant(self, row: _Row) -> bool:
        """False while a `shown_when` condition on another field is unmet."""
        for other, values in row.field.metadata.get("shown_when", {}).items():
            try:
                current = self._rows[other].editor.get()
            except (KeyError, ValueError):
                continue
            if current not in values:
                return False
        return True

    def _apply_visibility(self) -> None:
        expanded = self.advanced_toggle is None or self.advanced_toggle.isChecked()
        for row in self._rows.values():
            visible = (expanded or not row.advanced) and self._relevant(row)
            row.label.setVisible(visible)
            row.box.setVisible(visible)

    # -- values ------------------------------------------------------------------
    def set_value(self, cfg: Any) -> None:
        """Show `cfg` in the editors (emits `changed` once)."""
        self._base = cfg
        self._loading = True
        try:
            for name, row in self._rows.items():
                row.editor.set(getattr(cfg, name))
        finally:
            self._loading = False
        self._on_edit()

    def set_field(self, name: str, value: Any) -> None:
        """Change one field as if typed (validates and emits `changed`)."""
        self._rows[name].editor.set(value)

    def attach(self, name: str, widget: QWidget) -> None:
        """Put `widget` (e.g. a Browse… button) to the right of field `name`'s editor."""
        self._rows[name].line.addWidget(widget)

    def set_model(self, loaded: Any) -> None:
        """Tell editors that draw the model (a layer picker) which one is loaded (None: none)."""
        for row in self._rows.values():
            row.editor.set_model(loaded)

    def value(self) -> Any:
        """The config as typed, or None while any field is invalid."""
        return self._value

    def typed_value(self) -> Any:
        """The config as typed, also when only its cross-field/machine checks refuse it (previews)."""
        return self._typed

    def errors(self) -> list[str]:
        """Every current problem as 'path.field: message' (the CLI's wording)."""
        out = []
        for name, msg in self._errors.items():
            out.append(f"{self.path}.{name}: {msg}" if name else f"{self.path}: {msg}")
        return out

    def field_error(self, name: str) -> str:
        """The message under one field ('' when it is fine)."""
        return self._errors.get(name, "")

    def editor(self, name: str) -> QWidget:
        """The widget editing field `name` (for tests and focus handling)."""
        return self._rows[name].editor.widget

    def is_valid(self) -> bool:
        return self._value is not None

    def revalidate(self) -> None:
        """Check every field again (e.g. after `path` changed) and emit `changed`."""
        self._on_edit()

    # -- validation --------------------------------------------------------------
    def _on_edit(self) -> None:
        if self._loading:
            return
        self._typed = None  # _validate sets it when every field parses
        self._value, self._errors = self._validate()
        for name, row in self._rows.items():
            msg = self._errors.get(name, "")
            row.error.setText(msg)
            row.error.setVisible(bool(msg))
            row.editor.set_invalid(bool(msg))
            if msg and row.advanced:
                self._show_advanced(True)  # never hide an error behind a collapsed section
        self._apply_visibility()
        other = [m for n, m in self._errors.items() if n not in self._rows]
        self._form_error.setText("\n".join(other))
        self._form_error.setVisible(bool(other))
        self.changed.emit(self._value)

    def _validate(self) -> tuple[Any, dict[str, str]]:
        errors: dict[str, str] = {}
        kwargs: dict[str, Any] = {}
        for name, row in self._rows.items():
            if not self._relevant(row):
                # a field the current choices hide (e.g. rounds of a schedule not selected) keeps
                # the value it was given: what was typed there before the switch is not the
                # user's setting any more, and an error in it could not be seen
                kwargs[name] = getattr(self._base, name)
                continue
            try:
                v = row.editor.get()
            except ValueError as exc:
                errors[name] = str(exc)
                continue
            msg = check_value(row.field, row.hint, v)
            if msg:
                errors[name] = msg
            kwargs[name] = v
        if errors:
            return None, errors
        try:
            cfg = self._typed = self.config_cls(**kwargs)
        except (TypeError, ValueError) as exc:  # a __post_init__ check
            return None, {"": str(exc)}
        # validate_config adds the config's own cross-field checks (extra_checks)
        for fe in validate_config(cfg, self.path):
            name = fe.path[len(self.path) + 1 :]
            if name in self._rows and self._relevant(self._rows[name]):
                errors[name] = fe.message
            else:  # not tied to a field that is shown: the line under the whole form
                errors[""] = f"{name}: {fe.message}" if name in self._rows else fe.message
        return (None, errors) if errors else (cfg, {})


def _default_instance(config_cls: type) -> Any:
    try:
        return config_cls()
    except TypeError as exc:
        raise TypeError(f"{config_cls.__name__} needs defaults for every field to get a form") from exc
