"""The built-in demo models ship with small pretrained weights (assets/weights/): their baseline
metrics on the recipes' validation splits are far from chance, the weights load identically every
time, other head sizes and file/checkpoint loads still work, and the files stay small."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file, save_file

from engine.config_fields import ConfigError
from engine.data import load_data
from engine.models import builtin as builtin_module
from engine.models.builtin import WEIGHTS_DIR, WEIGHTS_FILES, load_builtin
from engine.models.checkpoint import load_checkpoint, save_model
from engine.models.loaders import load_model
from engine.recipe import DataSpec, ModelSpec
from engine.train.loop import evaluate, make_loader

CPU = torch.device("cpu")


def val_metrics(name: str, spec: DataSpec, batches: int, batch_size: int = 16) -> dict[str, float]:
    """The built-in evaluated by the engine on the first batches of a recipe's validation split."""
    loaded = load_builtin(name)
    data = load_data(spec, loaded)
    loader = make_loader(data.val, batch_size, False, 0)
    return evaluate(loaded.module, loaded.task, loader, CPU, max_batches=batches)


def test_tiny_gpt_perplexity_is_far_below_uniform():
    # the demo recipes' split (demo.yaml, tiny-gpt-*.yaml); uniform over 258 bytes is 258
    spec = DataSpec(path="shakespeare", max_length=64, max_samples=2000)
    ppl = val_metrics("tiny-gpt", spec, batches=4)["perplexity"]
    assert ppl < 30, ppl
    untrained = load_builtin("tiny-gpt", pretrained=False)
    data = load_data(spec, untrained)
    loader = make_loader(data.val, 16, False, 0)
    assert evaluate(untrained.module, "causal-lm", loader, CPU, max_batches=4)["perplexity"] > 200


def test_tiny_bert_accuracy_is_far_above_chance():
    # tiny-bert-structured.yaml's split: 40 validation texts the weights never saw
    spec = DataSpec(path="bbc-news", max_length=64, max_samples=400)
    assert val_metrics("tiny-bert", spec, batches=3)["accuracy"] > 0.5  # chance is 0.2


@pytest.mark.slow
def test_minilm_bbc_head_is_far_above_chance():
    # the minilm-bbc recipes' split (max_length 128, val_fraction 0.15), first 48 texts
    spec = DataSpec(path="bbc-news", max_length=128, val_fraction=0.15)
    assert val_metrics("minilm-bbc", spec, batches=3)["accuracy"] > 0.6


@pytest.mark.parametrize("name", ["tiny-gpt", "tiny-bert"])
def test_weights_load_identically_twice_and_match_the_file(name):
    a, b = load_builtin(name), load_builtin(name)
    stored = load_file(str(WEIGHTS_DIR / WEIGHTS_FILES[name]))
    state_a, state_b = a.module.state_dict(), b.module.state_dict()
    assert set(state_a) == set(stored)
    for key, value in stored.items():
        assert torch.equal(state_a[key], state_b[key]) and state_a[key].dtype == torch.float32
        assert torch.equal(state_a[key], value), key
        assert value.dtype == torch.float32  # as trained: float16 would zip unfairly well
    assert "pretrained on" in a.description


def test_minilm_head_is_the_stored_one():
    loaded = load_builtin("minilm-bbc")
    stored = load_file(str(WEIGHTS_DIR / WEIGHTS_FILES["minilm-bbc"]))
    assert set(stored) == {"classifier.weight", "classifier.bias"}  # only what was trained
    head = loaded.module.model.classifier
    assert torch.equal(head.weight, stored["classifier.weight"])
    assert torch.equal(head.bias, stored["classifier.bias"])
    assert "head pretrained on BBC News" in loaded.description
    fresh = load_builtin("minilm-bbc", num_labels=3)  # another label count: a new head
    assert fresh.module.model.classifier.out_features == 3
    assert "new 3-class head" in fresh.description


def test_assets_are_small():
    sizes = {name: (WEIGHTS_DIR / f).stat().st_size for name, f in WEIGHTS_FILES.items()}
    assert sizes["tiny-gpt"] < 3_600_000 and sizes["tiny-bert"] < 2_100_000  # float32
    assert sizes["minilm-bbc"] < 10_000  # 384 x 5 + 5 numbers
    assert sum(sizes.values()) < 6_000_000


def test_tiny_bert_with_other_labels_keeps_the_encoder():
    pretrained, three = load_builtin("tiny-bert"), load_builtin("tiny-bert", 3)
    assert three.num_labels == 3 and three.module.classifier.out_features == 3
    assert "encoder pretrained on BBC News, new random 3-class head" in three.description
    enc = {k: v for k, v in pretrained.module.state_dict().items() if "classifier" not in k}
    assert all(torch.equal(three.module.state_dict()[k], v) for k, v in enc.items())
    again = load_builtin("tiny-bert", 3).module.classifier.weight  # the new head is seeded
    assert torch.equal(three.module.classifier.weight, again)


def test_file_and_checkpoint_loads_still_get_their_own_weights(tmp_path):
    # a bare state_dict into the tiny-gpt architecture: the file's weights, not the shipped ones
    random_init = load_builtin("tiny-gpt", pretrained=False).module.state_dict()
    save_file({k: v.contiguous() for k, v in random_init.items()}, str(tmp_path / "w.safetensors"))
    path = str(tmp_path / "w.safetensors")
    spec = ModelSpec(source="safetensors", path=path, architecture="tiny-gpt")
    from_file = load_model(spec)
    assert all(torch.equal(from_file.module.state_dict()[k], v) for k, v in random_init.items())
    assert "weights from w.safetensors" in from_file.description
    # a checkpoint of the pretrained model reloads bit for bit
    loaded = load_builtin("tiny-gpt")
    save_model(loaded, tmp_path / "ckpt")
    back = load_checkpoint(tmp_path / "ckpt")
    ids, mask = loaded.example_inputs(2, 16)
    with torch.no_grad():
        assert torch.equal(loaded.module(ids, mask), back.module(ids, mask))


def test_missing_weights_file_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setattr(builtin_module, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(ConfigError) as info:
        load_builtin("tiny-gpt")
    message = str(info.value)
    assert "\n" not in message and "tiny-gpt" in message
    assert "train_demo_weights.py" in message and str(tmp_path) in message
    assert load_builtin("tiny-gpt", pretrained=False).module is not None  # random init still works


def test_damaged_weights_file_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setattr(builtin_module, "WEIGHTS_DIR", tmp_path)
    (tmp_path / WEIGHTS_FILES["tiny-bert"]).write_bytes(b"not a safetensors file")
    with pytest.raises(ConfigError, match="cannot be read") as info:
        load_builtin("tiny-bert")
    assert "\n" not in str(info.value)
    # the tiny-gpt weights in the tiny-bert file: the wrong architecture, named
    gpt_bytes = (WEIGHTS_DIR / WEIGHTS_FILES["tiny-gpt"]).read_bytes()
    (tmp_path / WEIGHTS_FILES["tiny-bert"]).write_bytes(gpt_bytes)
    with pytest.raises(ConfigError, match="does not fit tiny-bert"):
        load_builtin("tiny-bert")
