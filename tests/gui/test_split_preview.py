"""The Training form's model-parallel preview: which blocks of the loaded model go to which
device and the parameters each holds, live as devices and split points change; the reason when
the split cannot be made with this model."""

from __future__ import annotations

import dataclasses

import pytest

from engine.models.builtin import build_tiny_module
from engine.recipe import TrainConfig
from gui.state import ModelInfo
from gui.widgets.config_form import ConfigForm
from gui.widgets.split_preview import (
    HF_MAP_TEXT,
    INVALID_TEXT,
    NO_MODEL_TEXT,
    attach_split_preview,
    split_preview_text,
)

SPLIT = TrainConfig(device="cpu", strategy="model_parallel", devices="cpu,cpu")


@pytest.fixture(scope="module")
def gpt():
    """A 4-block, width-32 tiny-gpt."""
    return build_tiny_module("tiny-gpt", {"d_model": 32, "n_layer": 4, "n_head": 2})


def test_the_text_names_blocks_devices_and_params(gpt):
    text, problem = split_preview_text(SPLIT, gpt)
    assert not problem
    assert text.splitlines() == [
        "placement (balanced by parameter count):",
        # embeddings 12,352 + 2 blocks of 12,704 | 2 blocks + ln_f and lm_head 8,320: of the
        # three cuts this one has the smallest largest side
        "  blocks 0-1 → cpu · 37.8K params · with tok_emb, pos_emb",
        "  blocks 2-3 → cpu · 33.7K params · with ln_f, lm_head",
    ]
    three = dataclasses.replace(SPLIT, devices="cpu,cpu,cpu", split_points=(1, 3))
    assert split_preview_text(three, gpt)[0].splitlines()[1:] == [
        "  block 0 → cpu · 25.1K params · with tok_emb, pos_emb",
        "  blocks 1-2 → cpu · 25.4K params",
        "  block 3 → cpu · 21.0K params · with ln_f, lm_head",
    ]
    text, problem = split_preview_text(dataclasses.replace(SPLIT, split_points=(4,)), gpt)
    assert problem and text.startswith("placement: cannot split this model: train.split_points: "
                                       "split point 4 is past the model's last block (4 blocks")
    assert split_preview_text(SPLIT, None) == (NO_MODEL_TEXT, False)
    assert split_preview_text(dataclasses.replace(SPLIT, hf_device_map=True), gpt)[0] == HF_MAP_TEXT


def test_the_lines_under_split_points_follow_the_fields_and_the_model(qtbot, app_state, gpt):
    form = ConfigForm(TrainConfig, path="train")
    qtbot.addWidget(form)
    loaded: list = [None]
    label = attach_split_preview(form, lambda: loaded[0], app_state.model_loaded)
    assert label.parentWidget() is form.editor("split_points").parentWidget()
    form.set_value(SPLIT)
    assert label.text() == NO_MODEL_TEXT
    loaded[0] = gpt
    app_state.model_loaded.emit(None)  # the page's signal: the loaded model changed
    assert "blocks 0-1 → cpu" in label.text() and label.property("role") == "figure"
    form.set_field("split_points", (3,))
    assert "blocks 0-2 → cpu" in label.text() and "  block 3 → cpu" in label.text()
    form.set_field("split_points", (7,))  # the form cannot know: the model says it
    assert "past the model's last block" in label.text() and label.property("role") == "error"
    form.set_field("devices", "cpu")  # one device: the form refuses it, no plan is claimed
    assert label.text() == INVALID_TEXT


def test_the_optimize_page_previews_the_loaded_model(qtbot, app_state):
    from engine.models.loaders import load_model
    from gui.pages.optimize_page import OptimizePage

    loaded = load_model(app_state.recipe.model)
    app_state.set_model(ModelInfo(loaded, None, spec=app_state.recipe.model))
    page = OptimizePage(app_state)
    qtbot.addWidget(page)
    page.train_form.set_field("strategy", "model_parallel")
    page.train_form.set_field("devices", "cpu,cpu")
    n = len(loaded.module.blocks)
    assert page.split_preview.text().splitlines()[0] == "placement (balanced by parameter count):"
    assert f"-{n - 1} → cpu" in page.split_preview.text()
    qtbot.waitUntil(lambda: not page.live.busy(), timeout=20000)  # the banner's estimate thread
    qtbot.wait(10)
