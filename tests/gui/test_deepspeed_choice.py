"""The Training form's deepspeed choice: greyed out with the reason where this machine cannot
run it (no package or no CUDA GPU), and the DeepSpeed JSON preview following the form."""

from __future__ import annotations

import json

import pytest
import torch

from engine.recipe import TrainConfig
from engine.train.deepspeed_config import deepspeed_config
from engine.train.device_checks import FP16_ON_CPU, deepspeed_problem
from gui.widgets.config_form import ConfigForm
from gui.widgets.deepspeed_preview import INVALID_TEXT, attach_deepspeed_preview

REASON = deepspeed_problem()


def _item(combo, text: str):
    return combo.model().item(combo.findText(text))


@pytest.mark.skipif(REASON is None, reason="this machine can run deepspeed")
def test_deepspeed_is_listed_but_disabled_with_the_reason(qtbot):
    form = ConfigForm(TrainConfig, path="train")
    qtbot.addWidget(form)
    combo = form.editor("strategy")
    item = _item(combo, "deepspeed")
    assert not item.isEnabled() and item.toolTip() == REASON
    assert _item(combo, "ddp").isEnabled() and _item(combo, "single").isEnabled()
    # the reason is also a line under the field (a tooltip alone is easy to miss)
    lines = [w.text() for w in combo.parentWidget().findChildren(type(form._form_error))]
    assert f"deepspeed unavailable: {REASON}" in "\n".join(lines)


@pytest.mark.skipif(torch.cuda.is_available(), reason="fp16 is available with CUDA")
def test_fp16_is_disabled_without_cuda(qtbot):
    form = ConfigForm(TrainConfig, path="train")
    qtbot.addWidget(form)
    combo = form.editor("precision")
    assert not _item(combo, "fp16").isEnabled() and _item(combo, "fp16").toolTip() == FP16_ON_CPU
    assert _item(combo, "bf16").isEnabled() and _item(combo, "fp32").isEnabled()


def test_the_json_preview_follows_the_form(qtbot):
    form = ConfigForm(TrainConfig, path="train")
    qtbot.addWidget(form)
    box = attach_deepspeed_preview(form)
    form.set_value(TrainConfig(batch_size=8, device="cpu", strategy="deepspeed"))
    assert json.loads(box.toPlainText()) == deepspeed_config(form.typed_value(), "cpu")
    assert box.isReadOnly()
    form.set_field("deepspeed_stage", 3)
    form.set_field("deepspeed_offload", "optimizer_and_params")
    form.set_field("grad_accum_steps", 4)
    form.set_field("precision", "bf16")
    shown = json.loads(box.toPlainText())
    assert shown["zero_optimization"] == {
        "stage": 3, "offload_optimizer": {"device": "cpu", "pin_memory": False},
        "offload_param": {"device": "cpu", "pin_memory": False}}  # fmt: skip
    assert shown["gradient_accumulation_steps"] == 4 and shown["bf16"] == {"enabled": True}
    form.set_field("batch_size", 0)  # invalid: no config is claimed
    assert box.toPlainText() == INVALID_TEXT
    # in the offload field's column: hidden with the DeepSpeed fields for other strategies
    assert box.parentWidget() is form.editor("deepspeed_offload").parentWidget()
    form.set_field("batch_size", 8)
    form.set_field("strategy", "ddp")
    assert box.parentWidget().isHidden()


def test_the_optimize_page_has_the_preview(qtbot, app_state):
    from gui.pages.optimize_page import OptimizePage

    page = OptimizePage(app_state)
    qtbot.addWidget(page)
    page.train_form.set_field("strategy", "deepspeed")
    assert json.loads(page.deepspeed_preview.toPlainText())["train_micro_batch_size_per_gpu"] == 4
    assert page.train_form.editor("strategy").currentText() == "deepspeed"
