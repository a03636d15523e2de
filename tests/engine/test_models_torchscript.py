"""TorchScript as users bring it: measured and exported (ids-only text models with one ONNX
input), refused for pruning and training before a run; token-id inputs for generic models."""

from __future__ import annotations

import warnings
from pathlib import Path

import onnx
import pytest
import torch
from torch import nn

from engine.config_fields import ConfigError
from engine.estimate import estimate_steps
from engine.job import Job
from engine.models.loaders import load_model
from engine.models.summary import summarize
from engine.recipe import ModelSpec, Recipe

REFUSAL = "TorchScript modules can be measured and exported but not pruned or trained"


class IdsLM(nn.Module):
    """A text model whose forward takes input_ids only."""

    def __init__(self, vocab: int = 50, d: int = 16):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.fc = nn.Linear(d, d)
        self.head = nn.Linear(d, vocab)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.fc(self.emb(input_ids))))


def small_cnn() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3), nn.Flatten(),
                         nn.LazyLinear(4))


def save_script(module: nn.Module, example: tuple, path: Path) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.trace(module.eval(), example), str(path))
    return path


def cnn_file(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    cnn = small_cnn()
    x = torch.randn(1, 3, 12, 12)
    cnn(x)  # materialise the lazy layer
    return save_script(cnn, (x,), tmp_path / "cnn.pt")


def cnn_recipe(path: Path, **changes) -> Recipe:
    base = {
        "name": "ts-cnn",
        "model": {"source": "torchscript", "path": str(path), "input_shape": [1, 3, 12, 12]},
        "data": {"source": "none"},
        "methods": [{"type": "structured_prune", "amount": 0.25}],
        "train": {"epochs": 0},
        "export": {"parity_batches": 1, "latency_runs": 3},
    }
    return Recipe.from_dict({**base, **changes})


def test_torchscript_pruning_is_refused_before_the_run(tmp_path, capsys):
    from engine.cli import main

    ws = tmp_path / "ws"
    result = Job(cnn_recipe(cnn_file(tmp_path)), workspace=ws).run()
    assert result.status == "failed" and REFUSAL in result.error
    assert "match no layer" not in result.error and "no prunable" not in result.error
    assert result.run_id is None  # refused before anything was registered
    # the GUI's run button reads the same refusal from the live estimate
    loaded = load_model(cnn_recipe(tmp_path / "cnn.pt").model)
    estimate = estimate_steps(loaded.module, cnn_recipe(tmp_path / "cnn.pt").methods,
                              loaded.example_inputs())
    assert REFUSAL in estimate.steps[0].error
    # and so does workbench-cli check
    (tmp_path / "r.yaml").write_text(cnn_recipe(tmp_path / "cnn.pt").to_yaml())
    assert main(["check", str(tmp_path / "r.yaml")]) == 2
    assert REFUSAL in capsys.readouterr().err
    # training without data: the TorchScript refusal, not a "set data.source" that cannot help
    result = Job(cnn_recipe(tmp_path / "cnn.pt", methods=[], train={"epochs": 1}), workspace=ws).run()
    assert REFUSAL in result.error and "needs data" not in result.error


def test_torchscript_measure_and_export_still_runs(tmp_path):
    result = Job(cnn_recipe(cnn_file(tmp_path), methods=[]), workspace=tmp_path / "ws").run()
    assert result.ok, result.error
    assert result.card["onnx"]["max_abs_diff"] < 1e-4


def test_torchscript_given_as_torch_gets_the_hint(tmp_path):
    path = cnn_file(tmp_path)
    with pytest.raises(ConfigError, match=r"model.source: .*TorchScript file.*model.source: torchscript"):
        load_model(ModelSpec(source="torch", path=str(path), trust=True))


def test_ids_only_torchscript_text_model_exports_one_input_and_refuses_training(tmp_path):
    torch.manual_seed(0)
    path = save_script(IdsLM(), (torch.zeros(1, 8, dtype=torch.long),), tmp_path / "lm.pt")
    base = {
        "name": "ts-lm",
        "model": {"source": "torchscript", "path": str(path), "task": "causal-lm"},
        "data": {"source": "none"},
        "train": {"epochs": 0},
        "export": {"parity_batches": 1, "latency_runs": 3, "latency_seq": 8},
    }
    result = Job(Recipe.from_dict(base), workspace=tmp_path / "ws").run()
    assert result.ok, result.error
    graph = onnx.load(result.card["onnx"]["path"]).graph
    assert [i.name for i in graph.input] == ["input_ids"]
    assert result.card["onnx"]["max_abs_diff"] < 1e-4
    # training it is refused up front, naming train.epochs
    (tmp_path / "t.txt").write_text("abc def " * 200)
    trained = Recipe.from_dict({
        **base, "train": {"epochs": 1, "max_steps": 2},
        "data": {"source": "text", "path": str(tmp_path / "t.txt"), "max_length": 8},
        "model": {**base["model"], "tokenizer": str(write_tokenizer(tmp_path))},
    })
    failed = Job(trained, workspace=tmp_path / "ws").run()
    assert failed.status == "failed" and "train.epochs" in failed.error and REFUSAL in failed.error


def write_tokenizer(tmp_path: Path) -> Path:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.train_from_iterator(["abc def ghi"], trainers.WordLevelTrainer(special_tokens=["[UNK]"]))
    tok.save(str(tmp_path / "tokenizer.json"))
    return tmp_path / "tokenizer.json"


def test_generic_model_with_token_inputs_is_analysed_pruned_and_exported(tmp_path):
    torch.manual_seed(0)
    torch.save(IdsLM(vocab=50), tmp_path / "ids.pt")
    model = {"source": "torch", "path": str(tmp_path / "ids.pt"), "trust": True,
             "input_shape": [1, 12], "input_dtype": "int64", "input_range": [0, 50]}
    loaded = load_model(ModelSpec(**{**model, "input_shape": (1, 12), "input_range": (0, 50)}))
    (ids,) = loaded.example_inputs(batch=2)
    assert ids.dtype == torch.int64 and ids.shape == (2, 12) and 0 <= ids.min() and ids.max() < 50
    summary = summarize(loaded.module, loaded.example_inputs())
    assert summary.total_flops > 0 and summary.total_params == sum(
        p.numel() for p in loaded.module.parameters())
    # without the dtype the float input cannot go through the embedding: a clear error
    with pytest.raises(ConfigError, match="model.input_shape: .*set model.input_dtype: int64"):
        load_model(ModelSpec(source="torch", path=str(tmp_path / "ids.pt"), trust=True,
                             input_shape=(1, 12)))
    recipe = Recipe.from_dict({
        "name": "ids-generic", "model": model, "data": {"source": "none"},
        "methods": [{"type": "unstructured_prune", "amount": 0.5}], "train": {"epochs": 0},
        "export": {"parity_batches": 1, "latency_runs": 3},
    })
    result = Job(recipe, workspace=tmp_path / "ws").run()
    assert result.ok, result.error
    assert abs(result.card["sparsity"]["overall"] - 0.5) < 0.01
    graph = onnx.load(result.card["onnx"]["path"]).graph
    assert graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.INT64


class AttnNet(nn.Module):
    """nn.MultiheadAttention scripted: its fast-path checks (prim::is_nested) have no ONNX form."""

    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attn(x, x, x, need_weights=False)[0]


def test_scripted_module_export_failure_is_one_line_with_the_fix_and_no_ir_dump(tmp_path, capfd):
    path = tmp_path / "attn.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(AttnNet().eval()), str(path))
    recipe = cnn_recipe(path, methods=[], model={"source": "torchscript", "path": str(path),
                                                  "input_shape": [1, 4, 8]})
    result = Job(recipe, workspace=tmp_path / "ws").run()
    assert not result.ok
    assert "save it with torch.jit.trace instead of torch.jit.script" in result.error[:300]
    out = capfd.readouterr().out
    assert "Torch IR graph at exception" not in out  # the exporter's C++ dump stays off stdout
