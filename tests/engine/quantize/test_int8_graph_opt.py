"""Graph optimization before quantizing: the transformer fusions on a tiny BERT export, with
fused op counts reported, the fused graph computing what the export computes, and the
int8 artifact built on it."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from engine.export.runtime import check_model
from engine.methods.quantize.graph_opt import detect_heads, optimize_for_quantization
from engine.methods.quantize.int8_config import DynamicInt8Config
from engine.methods.quantize.ort_int8 import quantize_int8_dynamic
from tests.engine.quantize.int8_models import (
    bundle,
    context,
    export_textnet,
    export_tiny_bert,
    run_logits,
)


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    return export_tiny_bert(tmp_path_factory.mktemp("bert") / "model.onnx")


def test_transformer_fusions_are_counted_and_keep_the_outputs(bert, tmp_path):
    assert detect_heads(onnx.load(str(bert)).graph) == (4, 64)  # read from the graph
    logs: list[str] = []
    path, fused = optimize_for_quantization(bert, tmp_path / "opt.onnx", "classification", "auto",
                                            log=logs.append)  # fmt: skip
    assert path == tmp_path / "opt.onnx" and check_model(path)[0]
    assert fused["Attention"] == 2 and fused["SkipLayerNormalization"] >= 2
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert {"Attention", "SkipLayerNormalization"} <= ops and "Softmax" not in ops
    data = bundle()
    assert np.allclose(run_logits(bert, data), run_logits(path, data), atol=1e-4)
    assert any("Attention x2" in line for line in logs)


def test_modes_none_and_basic_do_not_fuse(bert, tmp_path):
    path, fused = optimize_for_quantization(bert, tmp_path / "a.onnx", "classification", "none")
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    assert fused == {} and ops == [n.op_type for n in onnx.load(str(bert)).graph.node]
    path, fused = optimize_for_quantization(bert, tmp_path / "b.onnx", "classification", "basic")
    assert fused == {} and "Attention" not in {n.op_type for n in onnx.load(str(path)).graph.node}


def test_a_non_transformer_classifier_is_not_sent_to_the_transformer_optimizer(tmp_path):
    src = export_textnet(tmp_path / "mlp.onnx")
    path, fused = optimize_for_quantization(src, tmp_path / "o.onnx", "classification", "auto")
    assert fused == {} and check_model(path)[0]


def test_int8_artifact_of_a_transformer_reports_fusions(bert, tmp_path):
    data = bundle()
    result = quantize_int8_dynamic(DynamicInt8Config(per_channel=True), context(bert, tmp_path, data))
    assert result.summary["fused"]["Attention"] == 2 and result.summary["fusions_tried"]
    ops = {n.op_type for n in onnx.load(str(result.path)).graph.node}
    assert "QAttention" in ops  # dynamic int8 quantized the fused attention itself
    assert check_model(result.path)[0]
    fp32, int8 = run_logits(bert, data), run_logits(result.path, data)
    assert (fp32.argmax(-1) == int8.argmax(-1)).mean() >= 0.8
    assert not any("fused" in n for n in result.notes), result.notes


def test_a_transformer_whose_attention_is_not_fused_says_so(tmp_path):
    """The built-in tiny BERT's attention (explicit matmul + finite mask fill) is no pattern
    the optimizer knows: LayerNorm and GELU fuse, attention does not, and the card says so."""
    import torch

    from engine.models.builtin import load_builtin

    module = load_builtin("tiny-bert", pretrained=False).module.eval()
    ids = torch.randint(0, 200, (2, 16))
    src = tmp_path / "tb.onnx"
    torch.onnx.export(module, (ids, torch.ones_like(ids)), str(src), dynamo=False, opset_version=17,
                      input_names=["input_ids", "attention_mask"], output_names=["logits"],
                      dynamic_axes={"input_ids": {0: "b", 1: "s"}, "attention_mask": {0: "b", 1: "s"}})  # fmt: skip
    result = quantize_int8_dynamic(DynamicInt8Config(per_channel=True), context(src, tmp_path / "o"))
    assert result.summary["fused"].get("SkipLayerNormalization") and "Attention" not in result.summary["fused"]
    assert any(n.startswith("attention was not fused") for n in result.notes)
    assert check_model(result.path)[0]


def test_exclusions_survive_fusion_or_are_reported_as_fused_away(bert, tmp_path):
    cfg = DynamicInt8Config(exclude_nodes=("bert.encoder.layer.1.output.dense",
                                           "bert.encoder.layer.0.attention.self.query"))  # fmt: skip
    result = quantize_int8_dynamic(cfg, context(bert, tmp_path, bundle()))
    ops = {n.name: n.op_type for n in onnx.load(str(result.path)).graph.node}
    dense = "/bert/encoder/layer.1/output/dense/MatMul"
    assert ops[dense] == "MatMul" and dense in result.summary["excluded_nodes"]
    (note,) = [n for n in result.notes if n.startswith("exclude_nodes:")]
    assert "fused away" in note and "attention/self/query/MatMul" in note and "optimize: basic" in note


def test_static_qoperator_on_a_fused_bert_with_shared_biases_loads(bert, tmp_path):
    """The exporter merged the fresh model's equal biases into one tensor; unshared before
    quantizing, or QOperator feeds a uint8 copy to QGemm as its int32 bias (unloadable)."""
    from engine.methods.quantize.int8_config import StaticInt8Config
    from engine.methods.quantize.ort_int8 import quantize_int8_static
    from engine.methods.quantize.shared_init import unshare_vectors

    assert unshare_vectors(onnx.load(str(bert))) > 0  # the export does share them
    data = bundle()
    cfg = StaticInt8Config(quant_format="qoperator", calibration_samples=16, per_channel=True)
    result = quantize_int8_static(cfg, context(bert, tmp_path, data))
    assert check_model(result.path)[0]
    fp32, int8 = run_logits(bert, data), run_logits(result.path, data)  # loads and runs
    assert (fp32.argmax(-1) == int8.argmax(-1)).mean() >= 0.8
    assert "QGemm" in {n.op_type for n in onnx.load(str(result.path)).graph.node}
