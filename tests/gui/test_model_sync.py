"""One current model: the Model page follows the recipe, says what is loaded, asks what a
folder does not say, opens workspace variants, and flags a model that does not fit the data."""

from __future__ import annotations

import dataclasses
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
import torch  # noqa: E402

from engine.models.checkpoint import save_model  # noqa: E402
from engine.models.loaders import load_model  # noqa: E402
from engine.recipe import DataSpec, ModelSpec, Recipe  # noqa: E402
from engine.store import Workspace  # noqa: E402
from gui.pages.model_page import ModelPage  # noqa: E402
from gui.state import AppState  # noqa: E402
from tests.gui.conftest import fast_recipe  # noqa: E402

LOAD_MS = 60_000
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "king", "news", "sport", "a"]


def make_bert_folder(folder, head: bool) -> str:
    """A 2-layer BERT saved with save_pretrained (+ a tiny WordPiece vocab), as a user has one."""
    from transformers import BertConfig, BertForSequenceClassification, BertModel

    config = BertConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64)
    torch.manual_seed(0)
    if head:
        config.num_labels = 3
        config.id2label = {0: "sport", 1: "politics", 2: "tech"}
        config.label2id = {v: k for k, v in config.id2label.items()}
        model = BertForSequenceClassification(config)
    else:
        model = BertModel(config)  # architectures: ["BertModel"], like the MiniLM folder
    model.save_pretrained(str(folder))
    (folder / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    return str(folder)


def make_checkpoint(folder) -> str:
    """tiny-gpt saved as a workbench checkpoint folder."""
    return str(save_model(load_model(ModelSpec()), folder))


@pytest.fixture
def page(qtbot, tmp_path):
    state = AppState(tmp_path / "ws", fast_recipe())
    w = ModelPage(state)
    qtbot.addWidget(w)
    w.resize(1024, 640)
    w.show()
    return w


def _load(qtbot, page: ModelPage, spec: ModelSpec | None = None) -> None:
    if spec is not None:
        page.load_spec(spec)
    qtbot.waitUntil(lambda: not page.is_busy(), timeout=LOAD_MS)


def test_opening_a_recipe_switches_the_loaded_model(qtbot, page, tmp_path):
    _load(qtbot, page, ModelSpec())
    seen: list = []
    page.state.model_loaded.connect(seen.append)
    other = ModelSpec(source="checkpoint", path=make_checkpoint(tmp_path / "ckpt"))
    page.state.set_recipe(page.state.recipe.replace(model=other))  # what Open recipe does
    assert page.is_busy()
    _load(qtbot, page)
    info = page.state.model_info
    assert info.spec == other and page.state.model_is_current()
    assert seen and seen[-1] is info  # every page listening to model_loaded heard of it
    assert info.loaded.kind == "checkpoint"
    assert "ckpt" in page.picker.current.text() and page.picker.builtin.currentIndex() == -1


def test_a_recipe_model_that_fails_leaves_no_stale_model_behind(qtbot, page, tmp_path):
    _load(qtbot, page, ModelSpec())
    gone = ModelSpec(source="checkpoint", path=str(tmp_path / "gone"))
    page.state.set_recipe(page.state.recipe.replace(model=gone))
    _load(qtbot, page)
    assert page.state.model_info is None  # the Optimize estimate may not use tiny-gpt any more
    assert "not found" in page.picker.error.text()
    assert page.stack.currentIndex() == 0


def test_picker_shows_a_file_loaded_model_not_the_builtin_list(qtbot, page, tmp_path):
    page.picker.fill_builtins()
    _load(qtbot, page, ModelSpec())
    assert page.picker.builtin.currentData() == "tiny-gpt"
    page.load_path(make_checkpoint(tmp_path / "my-model"))
    _load(qtbot, page)
    assert page.picker.builtin.currentIndex() == -1  # no longer claims tiny-gpt
    assert "my-model" in page.picker.current.text() and page.picker.current.isVisible()
    assert page.state.recipe.model.source == "checkpoint"


def test_options_dialog_prefills_from_a_bare_encoder_folder_then_loads(qtbot, page, tmp_path):
    folder = make_bert_folder(tmp_path / "encoder", head=False)
    page.load_path(folder)
    _load(qtbot, page)
    dialog = page.options_dialog
    assert dialog is not None and dialog.isVisible()
    assert "model.task" not in dialog.reason.text() and dialog.reason.text()
    assert "BertModel" in dialog.found.text()
    assert dialog.task.currentData() == "classification"  # a bare encoder gets a class head
    dialog.labels.setValue(4)
    dialog.accept()
    _load(qtbot, page)
    info = page.state.model_info
    assert info is not None and info.loaded.task == "classification" and info.loaded.num_labels == 4
    spec = page.state.recipe.model
    assert (spec.source, spec.task, spec.num_labels) == ("hf", "classification", 4)  # remembered


def test_options_dialog_sizes_a_new_head_for_the_recipes_data(qtbot, page, tmp_path):
    """The folder names no labels, the recipe's data is BBC News: the dialog offers 5 classes."""
    page.state.set_recipe(page.state.recipe.replace(data=DataSpec(source="builtin", path="bbc-news")))
    page.load_path(make_bert_folder(tmp_path / "encoder", head=False))
    _load(qtbot, page)
    dialog = page.options_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.labels.value() == 5


def test_options_dialog_prefills_labels_from_id2label(qtbot, tmp_path):
    from engine.models.hf import folder_hints
    from gui.widgets.model_options_dialog import ModelOptionsDialog

    folder = make_bert_folder(tmp_path / "clf", head=True)
    spec = ModelSpec(source="hf", path=folder)
    dialog = ModelOptionsDialog(spec, "needs a task", "model.task", folder_hints(tmp_path / "clf"))
    qtbot.addWidget(dialog)
    assert dialog.labels.value() == 3 and "sport, politics, tech" in dialog.found.text()
    assert dialog.chosen_spec() == dataclasses.replace(spec, task="classification", num_labels=3)


def test_mismatch_banner_for_a_classifier_with_lm_data_and_its_fix(qtbot, page, tmp_path):
    assert page.state.recipe.data.path == "shakespeare"
    _load(qtbot, page, ModelSpec(source="hf", path=make_bert_folder(tmp_path / "clf", head=True)))
    banner = page.banner
    assert banner.isVisible() and "causal-lm data" in banner.text.text()
    texts = [b.text() for b in banner.buttons]
    assert texts == ["Use built-in bbc-news data", "Load tiny-gpt instead"]
    banner.buttons[0].click()
    assert page.state.recipe.data.source == "builtin" and page.state.recipe.data.path == "bbc-news"
    assert page.state.recipe.data.max_length == 16  # the rest of the data settings are kept
    assert not banner.isVisible()
    page.state.set_recipe(page.state.recipe.replace(data=DataSpec(source="text", path="x.txt")))
    assert banner.isVisible()  # flagged at once when the data changes too


def _finished(ws: Workspace, name: str, parent: str | None, zero: bool) -> str:
    recipe = Recipe(name=name).to_yaml()
    run = ws.new_run(name, recipe, parent)
    loaded = load_model(ModelSpec())
    if zero:
        with torch.no_grad():
            for m in loaded.module.modules():
                if isinstance(m, torch.nn.Linear):
                    m.weight.zero_()
    save_model(loaded, ws.run_dir(run.id) / "checkpoint")
    params = sum(p.numel() for p in loaded.module.parameters())
    nonzero = sum(int(p.count_nonzero()) for p in loaded.module.parameters())
    ws.finish(run.id, {"id": run.id, "method": "unstructured 50%" if zero else "none",
                       "model": {"params": params, "nonzero_params": nonzero},
                       "files": {"checkpoint": "checkpoint"}})
    return run.id


def test_a_workspace_variant_opens_next_to_its_parent(qtbot, page):
    ws = page.state.workspace
    parent = _finished(ws, "dense", None, zero=False)
    child = _finished(ws, "pruned", parent, zero=True)
    choices = page._variant_choices()
    assert [c[1] for c in choices][:2] == [child, parent]
    page.picker.request_variant(child)
    _load(qtbot, page)
    assert page.picker.error.text() == ""
    info = page.state.model_info
    assert info.variant.id == child and info.parent.id == parent
    line = page.header.lineage.text()
    assert "unstructured 50%" in line and "parent dense" in line and "non-zero" in line and "→" in line
    assert "pruned" in page.header.title.text()
    assert page.state.recipe.model == ModelSpec(source="variant", path=child)


def test_trust_in_an_opened_recipe_is_not_taken_the_user_ticks_it(qtbot, page, tmp_path):
    from torch import nn

    module_file = tmp_path / "seq.pt"
    torch.save(nn.Sequential(nn.Linear(8, 4)), module_file)
    spec = ModelSpec(source="torch", path=str(module_file), trust=True, input_shape=(1, 8),
                     task="generic")
    page.state.set_recipe(page.state.recipe.replace(model=spec, data=DataSpec(source="none")))
    _load(qtbot, page)
    assert page.state.model_info is None  # the file said trust: true; that grants nothing
    assert page.picker.trust.isVisible() and not page.picker.trust.isChecked()
    page.picker.trust.setChecked(True)  # the user's own decision, for this file
    _load(qtbot, page)
    assert page.picker.error.text() == ""
    assert page.state.model_info.summary.total_params == 8 * 4 + 4
    assert page.state.recipe.model == spec  # task and input shape kept from the recipe


def test_a_variant_recipe_without_its_variant_is_one_line_no_traceback(qtbot, page, capfd):
    missing = ModelSpec(source="variant", path="minilm-bbc-finetune")  # as the shipped prune50 recipe
    page.state.set_recipe(page.state.recipe.replace(model=missing))
    _load(qtbot, page)
    text = page.picker.error.text()
    assert "no finished variant named or numbered 'minilm-bbc-finetune'" in text and "\n" not in text
    assert "no loader" not in text
    assert "Traceback" not in capfd.readouterr().err
