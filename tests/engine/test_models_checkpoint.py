"""Workbench checkpoints: save_model then load gives the same model, pruned or not."""

from __future__ import annotations

import json
import warnings

import pytest
import torch
from torch import nn
from torch.nn.utils import prune

from engine.config_fields import ConfigError
from engine.models import load_model, save_model
from engine.recipe import ModelSpec
from tests.engine.test_models_files import SmallNet


class PythonOnly(nn.Module):
    """Not scriptable (uses a Python dict of callables), so it must be pickled."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(6, 2)
        self.ops = {"act": torch.tanh}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ops["act"](self.lin(x))


def reload(folder) -> object:
    return load_model(ModelSpec(source="checkpoint", path=str(folder)))


def same_logits(a, b, batch: int = 2, seq: int = 10) -> None:
    inputs = a.example_inputs(batch, seq)
    with torch.no_grad():
        torch.testing.assert_close(b.module(*inputs), a.module(*inputs), rtol=0, atol=0)


@pytest.mark.parametrize("name", ["tiny-gpt", "tiny-bert"])
def test_builtin_round_trip_keeps_pruned_zeros_and_logits(tmp_path, name):
    m = load_model(ModelSpec(path=name, num_labels=3 if name == "tiny-bert" else None))
    with torch.no_grad():
        w = m.module.blocks[0].mlp.fc.weight
        w[w.abs() < w.abs().median()] = 0.0  # 50% magnitude pruning
    folder = save_model(m, tmp_path / "ckpt")
    manifest = json.loads((folder / "workbench.json").read_text())
    assert manifest["storage"] == "builtin" and manifest["builtin"]["name"] == name
    assert (folder / "model.safetensors").is_file()
    back = reload(folder)
    assert (back.kind, back.task, back.num_labels) == ("checkpoint", m.task, m.num_labels)
    assert back.description == m.description and back.tokenizer is not None
    assert int((back.module.blocks[0].mlp.fc.weight == 0).sum()) == int((w == 0).sum())
    same_logits(m, back)
    # saving the reloaded model again works too (extra keeps the builtin name)
    same_logits(m, reload(save_model(back, tmp_path / "again")))


def test_structurally_pruned_tiny_gpt_round_trips(tmp_path):
    m = load_model(ModelSpec(path="tiny-gpt"))
    mlp = m.module.blocks[1].mlp
    keep = torch.arange(0, 512, 4)  # keep a quarter of the hidden channels
    fc, proj = nn.Linear(128, 128), nn.Linear(128, 128)
    with torch.no_grad():
        fc.weight.copy_(mlp.fc.weight[keep])
        fc.bias.copy_(mlp.fc.bias[keep])
        proj.weight.copy_(mlp.proj.weight[:, keep])
        proj.bias.copy_(mlp.proj.bias)
    mlp.fc, mlp.proj = fc, proj
    back = reload(save_model(m, tmp_path / "ckpt"))
    assert back.module.blocks[1].mlp.fc.out_features == 128
    assert back.module.blocks[1].mlp.proj.in_features == 128
    same_logits(m, back)


def test_torch_nn_utils_prune_masks_are_folded_in(tmp_path):
    m = load_model(ModelSpec(path="tiny-gpt"))
    prune.l1_unstructured(m.module.lm_head, "weight", amount=0.3)
    folder = save_model(m, tmp_path / "ckpt")
    back = reload(folder)
    assert set(back.module.lm_head.state_dict()) == {"weight"}
    zero = (back.module.lm_head.weight == 0).float().mean().item()
    assert zero == pytest.approx(0.3, abs=0.01)
    same_logits(m, back)


def test_scriptable_generic_module_is_saved_as_torchscript(tmp_path):
    torch.save(SmallNet(), tmp_path / "net.pt")
    m = load_model(
        ModelSpec(
            source="torch", path=str(tmp_path / "net.pt"), trust=True, input_shape=(1, 3, 8, 8)
        )
    )
    folder = save_model(m, tmp_path / "ckpt")
    manifest = json.loads((folder / "workbench.json").read_text())
    assert manifest["storage"] == "torchscript" and "needs_full_unpickling" not in manifest
    back = reload(folder)
    assert (back.task, back.input_shape, back.input_names) == ("generic", (1, 3, 8, 8), ("input",))
    same_logits(m, back)


def test_unscriptable_module_is_pickled_and_reloads_only_with_the_users_trust(tmp_path):
    torch.save(PythonOnly(), tmp_path / "p.pt")
    m = load_model(
        ModelSpec(source="torch", path=str(tmp_path / "p.pt"), trust=True, input_shape=(4, 6))
    )
    folder = save_model(m, tmp_path / "ckpt")
    manifest = json.loads((folder / "workbench.json").read_text())
    assert manifest["storage"] == "pickle" and manifest["needs_full_unpickling"] is True
    # the manifest's flag is data from the folder, not a permission
    with pytest.raises(ConfigError, match=r"model.pickle.pt stores a whole pickled module.*model.trust"):
        reload(folder)
    back = load_model(ModelSpec(source="checkpoint", path=str(folder), trust=True))
    assert isinstance(back.module, PythonOnly)
    same_logits(m, back, batch=4)


def test_folder_without_manifest_is_not_a_checkpoint(tmp_path):
    (tmp_path / "junk").mkdir()
    with pytest.raises(ConfigError, match="is not a workbench checkpoint \\(no workbench.json\\)"):
        reload(tmp_path / "junk")
    (tmp_path / "junk" / "workbench.json").write_text("{not json")
    with pytest.raises(ConfigError, match="workbench.json is damaged"):
        reload(tmp_path / "junk")


def test_dynamically_quantized_builtin_falls_back_to_generic_storage(tmp_path):
    m = load_model(ModelSpec(path="tiny-gpt"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization is deprecated in favour of torchao
        m.module = torch.ao.quantization.quantize_dynamic(m.module, {nn.Linear}, dtype=torch.qint8)
    folder = save_model(m, tmp_path / "ckpt")
    manifest = json.loads((folder / "workbench.json").read_text())
    assert manifest["storage"] in ("torchscript", "pickle") and "builtin" not in manifest
    if manifest["storage"] == "pickle":  # our own pickle too loads only with the user's trust
        with pytest.raises(ConfigError, match="model.trust"):
            reload(folder)
    back = load_model(ModelSpec(source="checkpoint", path=str(folder), trust=True))
    assert back.task == "causal-lm" and back.tokenizer is not None
    same_logits(m, back)
