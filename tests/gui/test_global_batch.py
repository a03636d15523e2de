"""The Training form's global-batch line: batch × processes × accumulation, live as fields change."""

from __future__ import annotations

import dataclasses

from engine.recipe import TrainConfig
from gui.widgets.config_form import ConfigForm
from gui.widgets.global_batch import INVALID_TEXT, attach_global_batch, global_batch_text


def test_the_text_multiplies_batch_processes_and_accumulation():
    t = TrainConfig(batch_size=8, strategy="ddp", nproc_per_node=2, grad_accum_steps=2)
    assert global_batch_text(t) == "global batch 32 = 8 × 2 processes × 2 accumulation"
    assert global_batch_text(dataclasses.replace(t, nnodes=2)) == (
        "global batch 64 = 8 × 4 processes (2 nodes × 2) × 2 accumulation")  # fmt: skip
    assert global_batch_text(TrainConfig(batch_size=8, grad_accum_steps=4)) == (
        "global batch 32 = 8 × 4 accumulation")  # fmt: skip
    assert global_batch_text(TrainConfig(batch_size=8)) == "global batch 8 (one process, no accumulation)"
    # processes only count under ddp: a single-device recipe keeps its batch
    single = dataclasses.replace(t, strategy="single", grad_accum_steps=1)
    assert global_batch_text(single) == "global batch 8 (one process, no accumulation)"


def test_the_line_under_batch_size_follows_the_fields(qtbot):
    form = ConfigForm(TrainConfig, path="train")
    qtbot.addWidget(form)
    label = attach_global_batch(form)
    form.set_value(TrainConfig(batch_size=8, device="cpu"))
    assert label.text() == "global batch 8 (one process, no accumulation)"
    form.set_field("strategy", "ddp")
    form.set_field("nproc_per_node", 2)
    assert label.text() == "global batch 16 = 8 × 2 processes"
    form.set_field("grad_accum_steps", 2)
    assert label.text() == "global batch 32 = 8 × 2 processes × 2 accumulation"
    form.set_field("batch_size", 4)
    assert label.text() == "global batch 16 = 4 × 2 processes × 2 accumulation"
    form.set_field("batch_size", 0)  # invalid: no product is claimed
    assert label.text() == INVALID_TEXT
    # it sits right under the batch size editor, in that field's column
    assert label.parentWidget() is form.editor("batch_size").parentWidget()
    assert label.parentWidget().layout().indexOf(label) == 1


def test_the_optimize_page_shows_it_for_the_current_recipe(qtbot, app_state):
    from gui.pages.optimize_page import OptimizePage

    page = OptimizePage(app_state)
    qtbot.addWidget(page)
    assert page.global_batch.text() == "global batch 4 (one process, no accumulation)"  # fast recipe
    page.train_form.set_field("grad_accum_steps", 3)
    assert page.global_batch.text() == "global batch 12 = 4 × 3 accumulation"
