"""The Training form says what this machine trains on and fills processes from the GPUs seen."""

from __future__ import annotations

import os

import torch

from engine.recipe import TrainConfig
from gui.widgets.config_form import ConfigForm
from gui.widgets.device_hint import attach_device_hint, machine_text, suggested_processes


def test_the_machine_line_names_gpus_and_cores():
    assert machine_text(["NVIDIA H200", "NVIDIA H200"], 16) == (
        "this machine: 2 CUDA GPUs (NVIDIA H200 × 2) · 16 CPU cores")  # fmt: skip
    assert machine_text(["A100", "T4"], 8) == "this machine: 2 CUDA GPUs (A100, T4) · 8 CPU cores"
    cpu_only = machine_text([], 2)
    assert cpu_only.startswith("this machine: no CUDA GPU · 2 CPU cores") and "gloo" in cpu_only


def test_processes_are_one_per_visible_gpu_only_while_at_the_default():
    assert suggested_processes("ddp", gpus=4, current=1) == 4
    assert suggested_processes("fsdp", gpus=2, current=1) == 2
    assert suggested_processes("deepspeed", gpus=8, current=1) == 8
    assert suggested_processes("ddp", gpus=4, current=3) is None  # the user's number stays
    assert suggested_processes("ddp", gpus=1, current=1) is None  # one GPU: one process
    assert suggested_processes("ddp", gpus=0, current=1) is None  # CPU: the user says how many
    assert suggested_processes("single", gpus=4, current=1) is None


def test_the_line_sits_under_the_strategy_and_a_shown_recipe_is_not_changed(qtbot):
    form = ConfigForm(TrainConfig, path="train")
    qtbot.addWidget(form)
    label = attach_device_hint(form)
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    assert label.text().startswith("this machine:") and f"{os.cpu_count()} CPU cores" in label.text()
    box = form.editor("strategy").parentWidget()
    assert box.layout().indexOf(label) == 1  # right under the combo
    form.set_value(TrainConfig(strategy="ddp", nproc_per_node=1, device="cpu"))
    assert form.typed_value().nproc_per_node == 1  # showing a recipe fills nothing
    combo = form.editor("strategy")
    combo.setCurrentIndex(combo.findText("ddp"))
    combo.activated.emit(combo.currentIndex())  # the user picks ddp
    expected = gpus if gpus >= 2 else 1
    assert form.typed_value().nproc_per_node == expected
