"""Per-node error and exclusion on a transformer whose attention graph optimization fused:
a tiny BERT exported by the project's exporter (TorchScript, the graph onnxruntime's
optimizer fuses), quantized through the real int8 handlers with optimize: transformer."""

from __future__ import annotations

import math

import numpy as np
import onnx
import pytest
import torch

from engine.export.onnx_export import export_onnx_detailed
from engine.export.runtime import check_model
from engine.methods.quantize import int8_run as run
from engine.methods.quantize.int8_config import DynamicInt8Config, StaticInt8Config
from engine.methods.quantize.ort_int8 import (
    dynamic_quantizer,
    quantize_int8_dynamic,
    quantize_int8_static,
)
from tests.engine.quantize.int8_models import CLASSES, SEQ, VOCAB, bundle, context, run_logits

FUSED = DynamicInt8Config(per_channel=True, optimize="transformer")
ATTENTION = {"Attention_0": "bert.encoder.layer.0.attention.self",
             "Attention_1": "bert.encoder.layer.1.attention.self"}  # fmt: skip


def _ops(path) -> dict[str, str]:
    return {n.name: n.op_type for n in onnx.load(str(path)).graph.node}


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=VOCAB, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=128, max_position_embeddings=64, num_labels=CLASSES,
                     attn_implementation="eager")  # fmt: skip
    module = BertForSequenceClassification(cfg).eval()
    ids = torch.randint(0, VOCAB, (2, SEQ))
    path = tmp_path_factory.mktemp("fused") / "model.onnx"
    export_onnx_detailed(module, (ids, torch.ones_like(ids)), ["input_ids", "attention_mask"], path,
                         exporter="torchscript", opset=17)  # fmt: skip
    return path, dict(module.named_modules())


@pytest.fixture(scope="module")
def dynamic(bert, tmp_path_factory):
    return quantize_int8_dynamic(FUSED, context(bert[0], tmp_path_factory.mktemp("dyn"), bundle()))


def test_fused_attention_is_measured_with_its_layer_name(bert, dynamic):
    assert dynamic.summary["fused"]["Attention"] == 2
    ops = _ops(dynamic.path)
    assert {ops.get(f"{n}_quant") for n in ATTENTION} == {"QAttention"}
    errors = {e["node"]: e for e in dynamic.summary["node_errors"]}
    for node, layer in ATTENTION.items():
        e = errors[node]
        assert e["op_type"] == "Attention" and e["layer"] == layer  # what the anatomy shows
        assert math.isfinite(e["sqnr_db"]) and 20 < e["sqnr_db"] < 80
    # the other quantized ops fusion or the quantizer rewrote are listed as well
    assert errors["EmbedLayerNormalization_0"]["layer"] == "bert.embeddings"
    assert ops["EmbedLayerNormalization_0_quant"] == "QEmbedLayerNormalization"
    assert errors["/classifier/Gemm"]["layer"] == "classifier"  # quantized as ..._MatMul_quant
    assert {e["layer"] for e in errors.values()} <= set(bert[1])  # every bar names a module


def test_excluding_attention_by_its_layer_keeps_it_fp32(bert, tmp_path):
    # the second pattern's nodes are fused into Attention_1, which stays quantized
    cfg = DynamicInt8Config(per_channel=True, optimize="transformer",
                            exclude_nodes=("bert.encoder.layer.0.attention.self",
                                           "bert.encoder.layer.1.attention.self.query"))  # fmt: skip
    data = bundle()
    result = quantize_int8_dynamic(cfg, context(bert[0], tmp_path, data))
    ops = _ops(result.path)
    assert ops["Attention_0"] == "Attention" and "Attention_0_quant" not in ops
    assert ops["Attention_1_quant"] == "QAttention"  # only the excluded one is kept
    assert "Attention_0" in result.summary["excluded_nodes"]
    # layer 0's Softmax, query ... are inside the kept Attention_0: only layer 1's query is lost
    (note,) = [n for n in result.notes if "fused away" in n]
    assert "2 node(s)" in note and "layer.1/attention/self/query" in note, note
    assert "Attention_0" not in {e["node"] for e in result.summary["node_errors"]}
    assert check_model(result.path)[0]
    fp32, int8 = run_logits(bert[0], data), run_logits(result.path, data)
    assert np.abs(fp32 - int8).max() < 0.1


def test_the_search_can_keep_ranked_fused_and_gemm_nodes_in_fp32(bert, tmp_path):
    """What the exclusion search hands the quantizer: the node names node_errors ranked."""
    actx = context(bert[0], tmp_path, bundle())
    prep = run.prepare(FUSED, actx, tmp_path)
    out = tmp_path / "kept.onnx"
    run.write_artifact(dynamic_quantizer(FUSED), prep.path, out, ["Attention_1", "/classifier/Gemm"])
    ops = _ops(out)
    assert ops["Attention_1"] == "Attention" and ops["Attention_0_quant"] == "QAttention"
    # dynamic int8 rewrites the Gemm as /classifier/Gemm_MatMul before it checks exclusions
    assert ops["/classifier/Gemm_MatMul"] == "MatMul" and "/classifier/Gemm_MatMul_quant" not in ops


def test_static_qdq_on_a_fused_graph_leaves_attention_fp32_and_measures_the_rest(bert, tmp_path):
    # onnxruntime has no QDQ form of the fused Attention: its QKV projection stays fp32
    cfg = StaticInt8Config(optimize="transformer", quant_format="qdq", calibration_samples=16,
                           per_channel=True)  # fmt: skip
    result = quantize_int8_static(cfg, context(bert[0], tmp_path, bundle()))
    assert {_ops(result.path)[n] for n in ATTENTION} == {"Attention"}
    errors = {e["node"]: e for e in result.summary["node_errors"]}
    assert not set(ATTENTION) & set(errors)
    assert errors["/bert/encoder/layer.0/output/dense/MatMul"]["layer"] == "bert.encoder.layer.0.output.dense"
    assert all(math.isfinite(e["sqnr_db"]) for e in errors.values())


def test_a_fused_node_name_from_the_error_list_can_be_excluded_too(bert, dynamic, tmp_path):
    from engine.config_fields import ConfigError
    from engine.methods.quantize.node_patterns import layer_problems

    worst_attention = next(e["node"] for e in dynamic.summary["node_errors"] if e["op_type"] == "Attention")
    assert layer_problems((worst_attention,), torch.nn.Linear(2, 2)) == []  # checked on the graph
    cfg = DynamicInt8Config(per_channel=True, optimize="transformer", exclude_nodes=(worst_attention,))
    result = quantize_int8_dynamic(cfg, context(bert[0], tmp_path / "a", bundle()))
    assert _ops(result.path)[worst_attention] == "Attention"
    assert result.summary["excluded_nodes"] == [worst_attention]
    # without fusion there is no such node: one line naming the field and what to give
    unfused = DynamicInt8Config(optimize="none", exclude_nodes=(worst_attention,))
    with pytest.raises(ConfigError, match=r"exclude_nodes.*names a node that graph optimization"):
        quantize_int8_dynamic(unfused, context(bert[0], tmp_path / "b", bundle()))
