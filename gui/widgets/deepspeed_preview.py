"""The DeepSpeed JSON config, shown read-only under the Training form's ZeRO offload field.

With train.strategy deepspeed the run hands DeepSpeed a config generated from the form
(engine.train.deepspeed_config): the same JSON is written to the run folder and printed by
`workbench-cli launch --print`. The preview follows every change of the form, so the effect
of batch size, accumulation, clipping, precision, ZeRO stage and offload is visible before
the run. It sits in the offload field's column, so it is hidden with the DeepSpeed fields.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QPlainTextEdit

from engine.train.deepspeed_config import config_text
from engine.train.device_checks import resolved_device_type
from gui.widgets.config_form import ConfigForm

INVALID_TEXT = "DeepSpeed config: — (fix the fields marked in red)"


def preview_text(train: Any) -> str:
    """The JSON for a TrainConfig as typed (None while a field is invalid: INVALID_TEXT)."""
    if train is None:
        return INVALID_TEXT
    return config_text(train, resolved_device_type(train.device))


def attach_deepspeed_preview(form: ConfigForm) -> QPlainTextEdit:
    """A read-only JSON box under `form`'s deepspeed_offload editor, following the form."""
    box = QPlainTextEdit()
    box.setObjectName("deepspeed_preview")
    box.setReadOnly(True)
    box.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
    box.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
    box.setToolTip("the DeepSpeed config this run will use (written to the run folder as "
                   "deepspeed_config.json)")
    column = form.editor("deepspeed_offload").parentWidget()  # hidden with the field
    column.layout().addWidget(box)

    def update(value: Any) -> None:
        # a machine without DeepSpeed refuses the recipe, yet its config is still worth seeing
        typed = value if value is not None else form.typed_value()
        if typed is not None and typed.strategy != "deepspeed":
            return  # hidden with the field: nothing to show
        text = preview_text(typed)
        if text != box.toPlainText():
            box.setPlainText(text)
        # as tall as its lines (a JSON of 10-25 lines), no inner scrolling for the usual case
        lines = text.count("\n") + 1
        box.setFixedHeight(min(lines, 24) * box.fontMetrics().lineSpacing() + 12)

    form.changed.connect(update)
    update(form.value())
    return box
