"""Model files: safetensors, torch.save, TorchScript, and every kind of bad file."""

from __future__ import annotations

import os
import pickle

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from engine.config_fields import ConfigError
from engine.models import load_model
from engine.recipe import ModelSpec


class SmallNet(nn.Module):
    """A user's own module; importable, so a trusted pickle of it can be loaded."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.head = nn.Linear(4 * 8 * 8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.conv(x)).flatten(1))


class Pwn:
    """Unpickling this runs a shell command: the file must be refused before that happens."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def spec(source: str, path, **kw) -> ModelSpec:
    return ModelSpec(source=source, path=str(path), **kw)


def tiny_gpt_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(3)  # different from the built-in's own init, so loading is visible
    m = load_model(ModelSpec(path="tiny-gpt"))
    with torch.no_grad():
        for p in m.module.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    return {k: v.clone() for k, v in m.module.state_dict().items()}


def test_safetensors_with_architecture_loads_the_weights(tmp_path):
    state = tiny_gpt_state()
    save_file(state, str(tmp_path / "w.safetensors"))
    m = load_model(spec("safetensors", tmp_path / "w.safetensors", architecture="tiny-gpt"))
    assert torch.equal(m.module.lm_head.weight, state["lm_head.weight"])
    assert (m.task, m.kind) == ("causal-lm", "safetensors")
    assert m.description.endswith("(weights from w.safetensors)")


def test_safetensors_without_architecture_says_how_to_fix(tmp_path):
    save_file({"w": torch.zeros(2)}, str(tmp_path / "w.safetensors"))
    with pytest.raises(
        ConfigError, match="holds only weights; set model.architecture to one of tiny-gpt"
    ):
        load_model(spec("safetensors", tmp_path / "w.safetensors"))


def test_safetensors_for_the_wrong_architecture_names_the_keys(tmp_path):
    save_file({"w": torch.zeros(2)}, str(tmp_path / "w.safetensors"))
    with pytest.raises(
        ConfigError, match="do not match the architecture .*missing tok_emb.weight.*unexpected w"
    ):
        load_model(spec("safetensors", tmp_path / "w.safetensors", architecture="tiny-gpt"))


def test_torch_state_dict_with_architecture(tmp_path):
    state = tiny_gpt_state()
    torch.save(state, tmp_path / "sd.pt")
    m = load_model(spec("torch", tmp_path / "sd.pt", architecture="tiny-gpt"))
    assert m.kind == "torch" and m.task == "causal-lm"
    assert torch.equal(m.module.blocks[0].attn.qkv.weight, state["blocks.0.attn.qkv.weight"])
    torch.save({"model": state, "step": 7}, tmp_path / "train.pt")  # a training checkpoint
    m2 = load_model(spec("torch", tmp_path / "train.pt", architecture="tiny-gpt"))
    assert torch.equal(m2.module.lm_head.weight, state["lm_head.weight"])
    with pytest.raises(
        ConfigError, match="holds only weights \\(a state_dict\\); set model.architecture"
    ):
        load_model(spec("torch", tmp_path / "sd.pt"))


def test_state_dict_of_a_smaller_classifier_head_resizes_it(tmp_path):
    bert = load_model(ModelSpec(path="tiny-bert", num_labels=3))
    torch.save(bert.module.state_dict(), tmp_path / "b.pt")
    m = load_model(spec("torch", tmp_path / "b.pt", architecture="tiny-bert"))
    assert m.num_labels == 3 and m.module.classifier.out_features == 3


def test_truncated_checkpoint_is_reported_not_raised(tmp_path):
    torch.save(tiny_gpt_state(), tmp_path / "full.pt")
    data = (tmp_path / "full.pt").read_bytes()
    (tmp_path / "half.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(
        ConfigError, match="half.pt is not a readable PyTorch checkpoint: it is truncated"
    ):
        load_model(spec("torch", tmp_path / "half.pt", architecture="tiny-gpt"))


def test_text_file_renamed_pt(tmp_path):
    (tmp_path / "notes.pt").write_text("these are my notes, not a model\n")
    with pytest.raises(ConfigError, match="notes.pt is not a readable PyTorch checkpoint") as err:
        load_model(spec("torch", tmp_path / "notes.pt"))
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("as_torch_save", [True, False])
def test_code_running_pickle_is_refused_and_never_runs(tmp_path, as_torch_save):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    if as_torch_save:
        torch.save({"weights": Pwn(str(marker))}, path)
    else:
        path.write_bytes(pickle.dumps(Pwn(str(marker))))
    with pytest.raises(
        ConfigError, match="evil.pt needs full unpickling, which can run arbitrary code"
    ) as err:
        load_model(spec("torch", path))
    assert "system" in str(err.value) and "set model.trust: true" in str(err.value)
    assert not marker.exists()


def test_pickled_module_needs_trust_then_loads_as_generic(tmp_path):
    torch.manual_seed(0)
    net = SmallNet().eval()
    torch.save(net, tmp_path / "net.pt")
    with pytest.raises(ConfigError, match="needs full unpickling.*SmallNet"):
        load_model(spec("torch", tmp_path / "net.pt", input_shape=(1, 3, 8, 8)))
    m = load_model(spec("torch", tmp_path / "net.pt", trust=True, input_shape=(1, 3, 8, 8)))
    assert (m.task, m.input_names, m.kind) == ("generic", ("input",), "torch")
    (x,) = m.example_inputs(batch=2)
    assert x.shape == (2, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(m.module(x), net(x))


def test_generic_model_needs_a_fitting_input_shape(tmp_path):
    torch.save(SmallNet(), tmp_path / "net.pt")
    with pytest.raises(ConfigError, match=r"set model.input_shape, e.g. \[1, 3, 32, 32\]"):
        load_model(spec("torch", tmp_path / "net.pt", trust=True))
    with pytest.raises(
        ConfigError, match=r"model.input_shape \[1, 3, 5, 5\] does not fit the model"
    ):
        load_model(spec("torch", tmp_path / "net.pt", trust=True, input_shape=(1, 3, 5, 5)))


def test_torchscript_loads_as_generic(tmp_path):
    net = torch.jit.script(SmallNet().eval())
    net.save(str(tmp_path / "net.ts"))
    m = load_model(spec("torchscript", tmp_path / "net.ts", input_shape=(1, 3, 8, 8)))
    assert (m.task, m.kind) == ("generic", "torchscript")
    (x,) = m.example_inputs(batch=3)
    assert m.module(x).shape == (3, 10)


def test_torch_save_file_given_as_torchscript(tmp_path):
    torch.save({"w": torch.zeros(1)}, tmp_path / "sd.pt")
    with pytest.raises(
        ConfigError, match="not a readable TorchScript file.*use model.source: torch"
    ):
        load_model(spec("torchscript", tmp_path / "sd.pt", input_shape=(1, 2)))


def test_empty_and_missing_files(tmp_path):
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(ConfigError, match="empty.pt is empty"):
        load_model(spec("torch", tmp_path / "empty.pt"))
    with pytest.raises(ConfigError, match="model file not found: .*gone.pt"):
        load_model(spec("torch", tmp_path / "gone.pt"))
    with pytest.raises(ConfigError, match="model file not found"):
        load_model(spec("safetensors", tmp_path / "gone.safetensors"))


def test_garbage_safetensors(tmp_path):
    (tmp_path / "bad.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(ConfigError, match="bad.safetensors is not a readable .safetensors file"):
        load_model(spec("safetensors", tmp_path / "bad.safetensors", architecture="tiny-gpt"))
