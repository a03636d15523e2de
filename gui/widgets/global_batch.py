"""The effective global batch, shown live under the Training form's batch size.

batch_size is per process and per micro-batch, so the samples one optimizer step takes
(what the learning rate must suit) are batch_size × processes × accumulation; the line says
so as the fields change, e.g. 'global batch 32 = 8 × 2 processes × 2 accumulation'.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QLabel

from gui.widgets.config_form import ConfigForm, small_label

INVALID_TEXT = "global batch: — (fix the fields marked in red)"


def global_batch_text(train: Any) -> str:
    """'global batch N = batch × P processes × A accumulation', naming only factors above 1."""
    batch, accum, processes = train.batch_size, train.grad_accum_steps, train.processes
    total = batch * processes * accum
    if processes == 1 and accum == 1:
        return f"global batch {total} (one process, no accumulation)"
    factors = [str(batch)]
    if processes > 1:
        nodes = f" ({train.nnodes} nodes × {train.nproc_per_node})" if train.nnodes > 1 else ""
        factors.append(f"{processes} processes{nodes}")
    if accum > 1:
        factors.append(f"{accum} accumulation")
    return f"global batch {total} = " + " × ".join(factors)


def attach_global_batch(form: ConfigForm) -> QLabel:
    """A caption line under `form`'s batch size editor that follows every change of the form."""
    label = small_label("", "figure")  # the default colour: a value, not the grey help below it
    label.setObjectName("global_batch")
    box = form.editor("batch_size").parentWidget()  # the field's column: editor, caption, error
    box.layout().insertWidget(1, label)  # right under the editor line

    def update(value: Any) -> None:
        # the form's value is None while any field is invalid: the product would be a guess
        label.setText(global_batch_text(value) if value is not None else INVALID_TEXT)

    form.changed.connect(update)
    update(form.value())
    return label
