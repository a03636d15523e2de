"""int4_weight_only on real exported files: the checker accepts them, onnxruntime runs them,
their logits follow fp32's, the file shrinks, and bad settings are refused in one line."""

from __future__ import annotations

import hashlib

import onnx
import pytest
import torch
from torch import nn

from engine.config_fields import ConfigError, config_from_dict, validate_config
from engine.export.runtime import check_model, external_data_files, onnx_size_bytes
from engine.methods.quantize.calibration import draw_indices
from engine.methods.quantize.int4 import check_int4, quantize_int4
from engine.methods.quantize.int4_config import Int4WeightOnlyConfig, describe_int4
from engine.recipe import Recipe
from engine.registry import check_methods, method_entry
from tests.engine.quantize.tiny_onnx import (
    agreement,
    context,
    export_text,
    logits,
    shakespeare,
    text_batch,
    tiny_gpt,
    tiny_llama,
    token_data,
)

GPT_VOCAB = 258
GPT_LINEARS = 4 * 4 + 1  # qkv, proj, fc, proj per block, and lm_head


@pytest.fixture(scope="module")
def gpt(tmp_path_factory):
    """The pretrained built-in tiny-gpt, exported once: (fp32 file, Shakespeare data, the
    validation ids and the fp32 file's logits on them)."""
    path = export_text(tiny_gpt(), tmp_path_factory.mktemp("gpt") / "model.onnx", GPT_VOCAB)
    data = shakespeare()
    ids = data.val.input_ids
    return path, data, ids, logits(path, ids)


def _ops(path) -> list[str]:
    return [n.op_type for n in onnx.load(str(path), load_external_data=False).graph.node]


@pytest.mark.parametrize("algorithm", ["rtn", "hqq", "gptq"])
def test_int4_file_is_valid_small_and_close_to_fp32(gpt, tmp_path, algorithm):
    src, data, ids, ref = gpt
    before = hashlib.sha256(src.read_bytes()).hexdigest()
    cfg = Int4WeightOnlyConfig(algorithm=algorithm, calibration_samples=16)
    result = quantize_int4(cfg, context(src, tmp_path, data))
    assert (result.kind, result.path.name) == ("onnx-int4", "model.int4.onnx")
    assert check_model(result.path) == (True, "")
    assert _ops(result.path).count("MatMulNBits") == GPT_LINEARS
    assert "MatMul" in _ops(result.path)  # attention scores: two activations, left alone
    top1, corr = agreement(logits(result.path, ids), ref)  # on held-out text
    assert top1 >= 0.8 and corr >= 0.98, (top1, corr)
    # ~0.9M of tiny-gpt's ~0.95M parameters are Linear weights: 4 bits + scales
    assert onnx_size_bytes(result.path) < 0.35 * onnx_size_bytes(src)
    assert hashlib.sha256(src.read_bytes()).hexdigest() == before  # fp32 file untouched
    assert result.summary["quantized_nodes"] == GPT_LINEARS
    assert result.summary["calibration_samples"] == (16 if algorithm == "gptq" else 0)


def test_gptq_calibrates_on_training_samples_only(gpt, tmp_path):
    data = token_data(GPT_VOCAB, n_train=24, n_val=8)
    picked = draw_indices(len(data.train), 10, seed=5)
    assert len(set(picked.tolist())) == 10 and int(picked.max()) < len(data.train)
    src = gpt[0]
    cfg = Int4WeightOnlyConfig(algorithm="gptq", calibration_samples=100)  # more than train has
    result = quantize_int4(cfg, context(src, tmp_path, data, seed=5))
    assert result.summary["calibration_samples"] == len(data.train)  # all 24, no val row
    with pytest.raises(ConfigError, match=r"methods\[0\]\.algorithm: .*no data.*rtn or hqq"):
        quantize_int4(cfg, context(src, tmp_path, None))


def test_excluded_layers_stay_fp32_in_every_algorithm(gpt, tmp_path):
    src = gpt[0]
    for algorithm in ("rtn", "gptq"):
        cfg = Int4WeightOnlyConfig(algorithm=algorithm, exclude_nodes=("lm_head", "blocks.0.*"))
        result = quantize_int4(cfg, context(src, tmp_path, token_data(GPT_VOCAB)))
        graph = onnx.load(str(result.path)).graph
        kept = [n.name for n in graph.node if n.op_type == "MatMul" and "proj" in n.name
                or n.name == "/lm_head/MatMul"]  # fmt: skip
        assert "/lm_head/MatMul" in kept and "/blocks.0/mlp/proj/MatMul" in kept, algorithm
        assert result.summary["quantized_nodes"] == GPT_LINEARS - 5
        assert sorted(result.summary["kept_fp32"])[0] == "blocks.0.attn.proj"
    assert [p.name for p in sorted(tmp_path.glob("*.onnx"))] == [
        "model.int4-2.onnx", "model.int4.onnx"]  # a second step never overwrites the first


def test_int4_llama_with_embeddings(tmp_path):
    src = export_text(tiny_llama(), tmp_path / "llama.onnx", 256)
    ids = text_batch(2, 16, 256, seed=4)[0]
    ref = logits(src, ids)
    plain = quantize_int4(Int4WeightOnlyConfig(), context(src, tmp_path / "a"))
    # q, k, v, o, gate, up, down in 2 layers, and lm_head
    assert _ops(plain.path).count("MatMulNBits") == 15
    cfg = Int4WeightOnlyConfig(op_types=("MatMul", "Gather"), symmetric=False, block_size=16)
    both = quantize_int4(cfg, context(src, tmp_path / "b"))
    assert "GatherBlockQuantized" in _ops(both.path)
    assert any("opset 21" in n for n in both.notes)
    for result in (plain, both):
        assert check_model(result.path) == (True, "")
        top1, corr = agreement(logits(result.path, ids), ref)  # random weights: flat logits
        assert corr >= 0.95 and top1 >= 0.5, (top1, corr)
    assert onnx_size_bytes(both.path) < onnx_size_bytes(plain.path) < onnx_size_bytes(src)


def test_external_data_source_gives_external_data_artifact(tmp_path):
    torch.manual_seed(0)
    src = export_text(tiny_gpt(pretrained=False), tmp_path / "ext" / "model.onnx", GPT_VOCAB,
                      external=True)  # fmt: skip
    assert external_data_files(src)
    result = quantize_int4(Int4WeightOnlyConfig(), context(src, tmp_path / "out"))
    assert external_data_files(result.path) == [tmp_path / "out" / "model.int4.onnx.data"]
    assert check_model(result.path) == (True, "")
    assert logits(result.path, text_batch(1, 8, GPT_VOCAB)[0]).shape == (1, 8, GPT_VOCAB)


class ConvNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.conv(x)).flatten(1)


def test_int4_without_matmul_is_refused_on_the_model_and_on_the_file(tmp_path):
    cfg = Int4WeightOnlyConfig()
    (problem,) = check_int4(cfg, ConvNet())
    assert "has none" in problem and "Conv2d" in problem and "fp16" in problem
    errors = check_methods((cfg,), ConvNet())  # what the job runs before anything else
    assert [e.path for e in errors] == ["methods[0]"]
    scripted = torch.jit.script(nn.Sequential(nn.Linear(4, 4), nn.ReLU()))  # hides its Linear
    assert check_int4(cfg, scripted) == [] and check_int4(cfg, torch.jit.script(ConvNet()))
    path = tmp_path / "conv.onnx"
    torch.onnx.export(ConvNet().eval(), (torch.randn(1, 3, 8, 8),), str(path), dynamo=False,
                      input_names=["pixel_values"], output_names=["logits"])  # fmt: skip
    actx = context(path, tmp_path, step=2)
    with pytest.raises(ConfigError, match=r"Step 2 · methods\[1\]\.type: .*no MatMul with a "
                       r"constant weight.*Conv"):  # fmt: skip
        quantize_int4(cfg, actx)
    assert not list(tmp_path.glob("model.int4*"))


def test_bad_settings_are_refused_with_the_field(gpt, tmp_path):
    with pytest.raises(ConfigError, match=r"methods\[0\]\.block_size: must be one of 16, 32, 64"):
        Recipe.from_yaml("methods:\n  - {type: int4_weight_only, block_size: 48}\n").validate()
    cfg = config_from_dict(Int4WeightOnlyConfig, {"algorithm": "gptq", "op_types": ["Gather"]},
                           "methods[0]")  # fmt: skip
    (err,) = validate_config(cfg, "methods[0]")
    assert err.path == "methods[0].op_types" and "rtn" in err.message
    (err,) = validate_config(Int4WeightOnlyConfig(op_types=("Conv",)), "m")
    assert "'Conv'" in err.message
    # a layer-name pattern is checked on the model, a node-name one on the file
    assert "exclude_nodes" in check_int4(Int4WeightOnlyConfig(exclude_nodes=("lm_hed",)),
                                         tiny_gpt(pretrained=False))[0]  # fmt: skip
    with pytest.raises(ConfigError, match=r"exclude_nodes: '/nope/\*' matches no node"):
        quantize_int4(Int4WeightOnlyConfig(exclude_nodes=("/nope/*",)), context(gpt[0], tmp_path))
    with pytest.raises(ConfigError, match="nothing would be quantized"):
        quantize_int4(Int4WeightOnlyConfig(exclude_nodes=("*",)), context(gpt[0], tmp_path))


def test_registered_as_an_artifact_quantization_step():
    entry = method_entry("int4_weight_only")
    assert (entry.family, entry.stage, entry.effect) == ("quantize", "artifact", "quantized")
    assert entry.describe(Int4WeightOnlyConfig()) == "int4 weight-only (RTN, block 32)"
    assert describe_int4(Int4WeightOnlyConfig(algorithm="gptq", block_size=128,
                                              symmetric=False)) == (
        "int4 weight-only (GPTQ, block 128, zero points)")  # fmt: skip
