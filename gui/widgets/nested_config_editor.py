"""A config held inside a config (a distillation step's teacher ModelSpec), edited as a group.

The group is a framed ConfigForm of its own: its fields get the same editors, captions and
messages as any form, and their errors read with the whole path (methods[0].teacher.path).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QGroupBox, QVBoxLayout

from gui.widgets.field_editors import FieldEditor


class NestedConfigEditor(FieldEditor):
    """The nested config's own form in a framed box; `get()` is its value or a ValueError."""

    def __init__(self, config_cls: type, path: str, captions: bool) -> None:
        from gui.widgets.config_form import ConfigForm  # the form builds this editor

        self.widget = QGroupBox()
        self.widget.setObjectName("nested_group")
        box = QVBoxLayout(self.widget)
        box.setContentsMargins(8, 8, 8, 8)
        self.form = ConfigForm(config_cls, path=path, captions=captions)
        box.addWidget(self.form)

    def get(self) -> Any:
        value = self.form.value()
        if value is None:  # the field itself says what is wrong, inside the group
            raise ValueError("fix the setting marked in this group")
        return value

    def set(self, value: Any) -> None:
        self.form.set_value(value)

    def on_change(self, fn: Callable[[], None]) -> None:
        self.form.changed.connect(lambda _value: fn())

    def set_invalid(self, invalid: bool) -> None:
        pass  # the bad field inside is framed red already; a red group would say it twice
