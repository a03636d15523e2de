"""One editor widget per config-field type, chosen from the type hint and metadata.

Editors never refuse keystrokes: they hand back what was typed (a number when it
parses, else the raw text) so the form can show the engine's own message for it
(`check_value`), exactly as the CLI would print it for the same value in a YAML file.
"""

from __future__ import annotations

import dataclasses
import importlib
import types
import typing
from collections.abc import Callable
from typing import Any

import yaml
from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QWidget

from gui.widgets.no_wheel import ignore_wheel_unless_focused

NONE_CHOICE = "(none)"


def split_optional(tp: Any) -> tuple[bool, Any]:
    """(is Optional, the type inside)."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) < len(typing.get_args(tp)) and len(args) == 1:
            return True, args[0]
    return False, tp


def _fmt_number(v: float) -> str:
    return repr(float(v)) if isinstance(v, float) else str(v)


def bounds_hint(meta: Any, optional: bool) -> str:
    """Placeholder text such as '0 ≤ value < 1' so the range is visible before typing."""
    lo, hi = meta.get("min"), meta.get("max")
    parts = []
    if lo is not None:
        parts.append(f"{lo:g} {'<' if meta.get('min_exclusive') else '≤'} ")
    parts.append("value")
    if hi is not None:
        parts.append(f" {'<' if meta.get('max_exclusive') else '≤'} {hi:g}")
    text = "".join(parts) if len(parts) > 1 else ""
    if optional:
        text = f"{text}  (empty = none)" if text else "empty = none"
    return text


class FieldEditor:
    """Wraps one widget: `get()` parses (ValueError = message), `set()` shows a value."""

    widget: QWidget

    def get(self) -> Any:
        raise NotImplementedError

    def set(self, value: Any) -> None:
        raise NotImplementedError

    def on_change(self, fn: Callable[[], None]) -> None:
        raise NotImplementedError

    def set_model(self, loaded: Any) -> None:
        """The loaded model (engine LoadedModel, or None) changed; editors that draw it override."""

    def set_invalid(self, invalid: bool) -> None:
        # a red frame next to the red message makes the bad field easy to spot
        self.widget.setProperty("invalid", invalid)
        self.widget.style().unpolish(self.widget)
        self.widget.style().polish(self.widget)


class BoolEditor(FieldEditor):
    def __init__(self) -> None:
        self.widget = QCheckBox()

    def get(self) -> bool:
        return self.widget.isChecked()

    def set(self, value: Any) -> None:
        self.widget.setChecked(bool(value))

    def on_change(self, fn: Callable[[], None]) -> None:
        self.widget.toggled.connect(lambda _checked: fn())


class ChoiceEditor(FieldEditor):
    def __init__(
        self, choices: tuple[Any, ...], optional: bool, unavailable: dict[Any, str] | None = None
    ) -> None:
        self.choices = ((None,) if optional else ()) + tuple(choices)
        self.widget = QComboBox()
        ignore_wheel_unless_focused(self.widget)  # scrolling the form must not change the choice
        self.widget.addItems([NONE_CHOICE if c is None else str(c) for c in self.choices])
        # what this machine cannot run: listed (so it is known to exist) but greyed, with why
        self.unavailable = {c: why for c, why in (unavailable or {}).items() if c in self.choices}
        for choice, why in self.unavailable.items():
            item = self.widget.model().item(self.choices.index(choice))
            item.setEnabled(False)
            item.setToolTip(why)

    def unavailable_text(self) -> str:
        """'deepspeed unavailable: why', a line per greyed choice (the form shows it)."""
        return "\n".join(f"{c} unavailable: {why}" for c, why in self.unavailable.items())

    def get(self) -> Any:
        return self.choices[self.widget.currentIndex()]

    def set(self, value: Any) -> None:
        if value in self.choices:
            self.widget.setCurrentIndex(self.choices.index(value))

    def on_change(self, fn: Callable[[], None]) -> None:
        self.widget.currentIndexChanged.connect(lambda _i: fn())


class TextEditor(FieldEditor):
    """int / float / str (and Optional of them) as free text."""

    def __init__(self, base: Any, optional: bool, placeholder: str = "") -> None:
        self.base, self.optional = base, optional
        self.widget = QLineEdit()
        self.widget.setPlaceholderText(placeholder)
        self.widget.setClearButtonEnabled(optional)

    def get(self) -> Any:
        text = self.widget.text().strip()
        if not text and (self.optional or self.base is not str):
            return None  # None on a required field reads "is required" from check_value
        if self.base is int:
            try:
                return int(text)
            except ValueError:
                pass
            try:  # "1.5" -> 1.5 so the message says "whole number, got 1.5"
                return float(text)
            except ValueError:
                return text
        if self.base is float:
            try:
                return float(text)
            except ValueError:
                return text
        return self.widget.text() if self.base is str else text

    def set(self, value: Any) -> None:
        if value is None:
            self.widget.setText("")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            self.widget.setText(_fmt_number(value))
        else:
            self.widget.setText(str(value))
        self.widget.setCursorPosition(0)  # a long value shows its start, not its end

    def on_change(self, fn: Callable[[], None]) -> None:
        self.widget.textChanged.connect(lambda _t: fn())


class TupleEditor(FieldEditor):
    """tuple[str, ...] / tuple[int, ...] as comma-separated text."""

    def __init__(self, item: Any, optional: bool) -> None:
        self.item, self.optional = item, optional
        self.widget = QLineEdit()
        what = "whole numbers" if item is int else "patterns"
        self.widget.setPlaceholderText(f"{what}, separated by commas" + (" (empty = none)" if optional else ""))

    def get(self) -> Any:
        text = self.widget.text().strip()
        if not text:
            return None if self.optional else ()
        parts = [p.strip() for p in text.split(",") if p.strip()]
        if self.item is int:
            try:
                return tuple(int(p) for p in parts)
            except ValueError:
                raise ValueError(f"must be whole numbers separated by commas, got {text!r}") from None
        if self.item is float:
            try:
                return tuple(float(p) for p in parts)
            except ValueError:
                raise ValueError(f"must be numbers separated by commas, got {text!r}") from None
        return tuple(parts)

    def set(self, value: Any) -> None:
        self.widget.setText("" if value is None else ", ".join(str(v) for v in value))
        self.widget.setCursorPosition(0)  # a long list shows its first patterns

    def on_change(self, fn: Callable[[], None]) -> None:
        self.widget.textChanged.connect(lambda _t: fn())


class YamlEditor(FieldEditor):
    """Anything else (dicts, lists, unions): YAML flow text, e.g. {a: 1}."""

    def __init__(self, optional: bool) -> None:
        self.optional = optional
        self.widget = QLineEdit()
        self.widget.setPlaceholderText("YAML, e.g. {key: value}")

    def get(self) -> Any:
        text = self.widget.text().strip()
        if not text:
            return None
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError:
            raise ValueError(f"is not valid YAML: {text!r}") from None

    def set(self, value: Any) -> None:
        if value is None:
            self.widget.setText("")
        else:
            self.widget.setText(yaml.safe_dump(value, default_flow_style=True).strip())
        self.widget.setCursorPosition(0)

    def on_change(self, fn: Callable[[], None]) -> None:
        self.widget.textChanged.connect(lambda _t: fn())


def editor_for(f: dataclasses.Field, tp: Any) -> FieldEditor:
    """The editor a field gets, from its type hint and `option(...)` metadata."""
    optional, base = split_optional(tp)
    meta = f.metadata
    if meta.get("editor") == "layer_picker":
        from gui.widgets.layer_picker import LayerPickerEditor  # it builds on this module

        return LayerPickerEditor(optional)
    if meta.get("choices"):
        return ChoiceEditor(tuple(meta["choices"]), optional, unavailable_choices(meta))
    if base is bool:
        return BoolEditor()
    if base in (int, float, str):
        hint = bounds_hint(meta, optional) if base is not str else ("empty = none" if optional else "")
        return TextEditor(base, optional, hint)
    if typing.get_origin(base) is tuple:
        args = typing.get_args(base)
        item = args[0] if args else str
        if item in (str, int, float):
            return TupleEditor(item, optional)
    return YamlEditor(optional)


def unavailable_choices(meta: Any) -> dict[Any, str]:
    """{choice: why} of a field's `option(unavailable="pkg.mod.fn")` (fn() answers), or {}."""
    path = meta.get("unavailable")
    if not path:
        return {}
    module, _, name = path.rpartition(".")
    return dict(getattr(importlib.import_module(module), name)())
