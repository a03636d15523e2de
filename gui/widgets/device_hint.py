"""What this machine can train on, under the Training form's strategy, and processes filled in.

The processes and devices a parallel strategy asks for depend on the machine: a line under
the strategy says what torch sees (CUDA GPUs by name, CPU cores), and choosing a
multi-process strategy in the form fills `nproc_per_node` with one process per visible GPU
while it still holds its default. A recipe loaded into the form is never changed: only the
user's own choice of strategy (the combo's `activated`) fills the field.
"""

from __future__ import annotations

import os
from collections import Counter

import torch
from PySide6.QtWidgets import QComboBox, QLabel

from engine.train.train_config import MULTI
from gui.widgets.config_form import ConfigForm, small_label


def cuda_names() -> list[str]:
    """The visible CUDA GPUs' names, in device order (empty without CUDA)."""
    if not torch.cuda.is_available():
        return []
    return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]


def machine_text(gpus: list[str], cores: int | None) -> str:
    """'this machine: 2 CUDA GPUs (NVIDIA H200 × 2) · 16 CPU cores', or what CPU-only means."""
    cpu = f"{cores} CPU cores" if cores else "CPU"
    if not gpus:
        return f"this machine: no CUDA GPU · {cpu} (ddp and fsdp run CPU processes with gloo)"
    names = ", ".join(f"{n} × {c}" if c > 1 else n for n, c in Counter(gpus).items())
    plural = "s" if len(gpus) > 1 else ""
    return f"this machine: {len(gpus)} CUDA GPU{plural} ({names}) · {cpu}"


def suggested_processes(strategy: str, gpus: int, current: int) -> int | None:
    """The nproc_per_node to fill in when the user picks `strategy`: one per visible GPU for a
    multi-process strategy on 2+ GPUs while the field holds its default 1; else None (leave it)."""
    if strategy in MULTI and gpus >= 2 and current == 1:
        return gpus
    return None


def attach_device_hint(form: ConfigForm) -> QLabel:
    """A caption under the strategy editor naming this machine's devices; fills processes."""
    gpus = cuda_names()
    label = small_label(machine_text(gpus, os.cpu_count()), "device_hint")
    label.setWordWrap(True)
    combo = form.editor("strategy")
    combo.parentWidget().layout().insertWidget(1, label)

    def picked(_index: int) -> None:
        if not isinstance(combo, QComboBox):
            return
        typed = form.typed_value()
        current = typed.nproc_per_node if typed is not None else 1
        fill = suggested_processes(combo.currentText(), len(gpus), current)
        if fill is not None:
            form.set_field("nproc_per_node", fill)

    if isinstance(combo, QComboBox):
        combo.activated.connect(picked)  # the user's choice only, not a recipe being shown
    return label
