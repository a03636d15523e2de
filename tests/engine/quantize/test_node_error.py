"""Per-node quantization error on files written by onnxruntime's own quantizers."""

from __future__ import annotations

import math

import numpy as np
import onnx
import pytest
import torch
from onnxruntime.quantization.qdq_loss_debug import (
    collect_activations,
    compute_signal_to_quantization_noice_ratio,
    modify_model_output_intermediate_tensors,
)

from engine.export.onnx_export import export_onnx_detailed
from engine.methods.quantize.node_error import node_errors
from engine.models.builtin import make_tiny_gpt
from tests.engine.quantize import outlier_net as T

NODES = {"/conv/Conv": "conv", "/fc1/MatMul": "fc1", "/fc2/MatMul": "fc2", "/head/Gemm": "head"}


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    d = tmp_path_factory.mktemp("clean")
    return T.export(d / "fp32.onnx"), T.feeds(), d


@pytest.fixture(scope="module")
def outlier(tmp_path_factory):
    d = tmp_path_factory.mktemp("outlier")
    return T.export(d / "fp32.onnx", outlier=True), T.feeds(outlier=True), d


@pytest.mark.parametrize(
    "how, kw",
    [
        ("dynamic", {}),
        ("dynamic", {"per_channel": True}),
        ("qdq", {}),
        ("qdq", {"per_channel": True}),
        ("qoperator", {}),
        ("qoperator", {"per_channel": True}),
    ],
)
def test_every_quantized_node_is_measured_in_each_format(clean, how, kw):
    src, feeds, d = clean
    q = T.quantize(src, d / f"{how}{len(kw)}.onnx", how, feeds, **kw)
    errors = node_errors(src, q, feeds)
    found = {e.node: e for e in errors}
    # dynamic int8 quantizes the Gemm too, as /head/Gemm_MatMul_quant (onnxruntime rewrites
    # a Gemm as MatMul + Add first): it is measured under the Gemm's own name
    assert set(found) == set(NODES)
    if how == "dynamic":
        assert "/head/Gemm_MatMul_quant" in {n.name for n in onnx.load(str(q)).graph.node}
    for name, e in found.items():
        assert e.layer == NODES[name]  # the module name, as named_modules() gives it
        assert e.op_type == name.rsplit("/", 1)[1]
        assert 20 < e.sqnr_db < 80  # int8 on a healthy net: tens of dB, not 0, not exact
        assert e.rel_error == pytest.approx(10 ** (-e.sqnr_db / 20), rel=1e-6)
        assert e.local_sqnr_db >= e.sqnr_db - 1e-9  # a node's own share is at most the total
    ordered = [e.local_sqnr_db for e in errors]
    assert ordered == sorted(ordered)


def test_sqnr_matches_onnxruntime_qdq_loss_debug(clean):
    src, feeds, d = clean
    q = T.quantize(src, d / "qdq_ref.onnx", "qdq", feeds)
    acts = {}
    for name, path in (("fp", src), ("q", q)):
        aug = d / f"aug_{name}.onnx"
        modify_model_output_intermediate_tensors(str(path), str(aug), ["MatMul", "Gemm", "Conv"])
        acts[name] = collect_activations(str(aug), T.Reader(feeds))
    seen: list[tuple[int, int]] = []
    ours = {e.node: e.sqnr_db for e in node_errors(src, q, feeds, progress=lambda *a: seen.append(a))}
    assert seen == [(1, 3), (2, 3), (3, 3)]  # one call per batch, as it finishes
    for node, tensor in (("/fc1/MatMul", "/fc1/MatMul_output_0"), ("/conv/Conv", "/conv/Conv_output_0")):
        ref = compute_signal_to_quantization_noice_ratio(acts["fp"][tensor], acts["q"][tensor])
        assert ours[node] == pytest.approx(ref, abs=1e-3)


def test_the_layer_that_breaks_ranks_first(outlier, clean):
    src, feeds, d = outlier
    q = T.quantize(src, d / "dyn.onnx", "dynamic", feeds)
    errors = node_errors(src, q, feeds)
    # the conv's input range is set by a channel it ignores: its output is mostly noise
    assert errors[0].node == "/conv/Conv" and errors[0].sqnr_db < 3
    # later layers inherit that noise but add little of their own
    assert all(e.local_sqnr_db > 30 for e in errors[1:])
    healthy = node_errors(clean[0], T.quantize(clean[0], d / "h.onnx", "dynamic", clean[1]), clean[1])
    assert min(e.sqnr_db for e in healthy) > 30


def test_an_excluded_node_is_not_listed_and_stops_the_damage(outlier):
    src, feeds, d = outlier
    q = T.quantize(src, d / "ex.onnx", "dynamic", feeds, nodes_to_exclude=["/conv/Conv"])
    errors = node_errors(src, q, feeds)
    assert {e.node for e in errors} == {"/fc1/MatMul", "/fc2/MatMul", "/head/Gemm"}
    assert min(e.sqnr_db for e in errors) > 30


def test_a_quantized_file_of_another_model_is_refused(clean, tmp_path):
    src, feeds, _ = clean
    other = T.export(tmp_path / "other.onnx")
    q = T.quantize(other, tmp_path / "q.onnx", "dynamic", feeds)
    renamed = tmp_path / "renamed.onnx"
    model = onnx.load(str(q))
    for node in model.graph.node:
        node.name = "x" + node.name
    onnx.save(model, str(renamed))
    with pytest.raises(ValueError, match="no quantized MatMul/Gemm/Conv matches"):
        node_errors(src, renamed, feeds)


def test_feeds_that_miss_an_input_say_which(clean, tmp_path):
    src, feeds, d = clean
    q = T.quantize(src, tmp_path / "q.onnx", "dynamic", feeds)
    with pytest.raises(ValueError, match=r"feeds\[0\]: missing model input\(s\) x"):
        node_errors(src, q, [{"input": np.zeros((1, 8, 16), np.float32)}])
    with pytest.raises(ValueError, match="at least one batch"):
        node_errors(src, q, [])


def test_sqnr_is_finite_when_a_node_is_exact(clean, tmp_path):
    src, feeds, _ = clean
    zeros = [{"x": np.zeros_like(f["x"])} for f in feeds]  # every output is exactly 0
    q = T.quantize(src, tmp_path / "q.onnx", "dynamic", feeds)
    for e in node_errors(src, q, zeros):
        assert math.isfinite(e.sqnr_db) and math.isfinite(e.local_sqnr_db)


def _gpt_layers(tmp_path, exporter: str) -> tuple[set[str], dict]:
    module = make_tiny_gpt(pretrained=False).module.eval()
    ids = torch.randint(0, 100, (2, 16), generator=torch.Generator().manual_seed(0))
    src = tmp_path / "gpt.onnx"
    export_onnx_detailed(module, (ids, torch.ones_like(ids)), ["input_ids", "attention_mask"],
                         src, exporter=exporter)
    rng = np.random.default_rng(0)
    feeds = [{"input_ids": rng.integers(0, 100, (2, 16)), "attention_mask": np.ones((2, 16), np.int64)}]
    q = T.quantize(src, tmp_path / "q.onnx", "dynamic", feeds)
    return {e.layer for e in node_errors(src, q, feeds)}, dict(module.named_modules())


def test_layers_are_module_names_torchscript_export(tmp_path):
    layers, modules = _gpt_layers(tmp_path, "torchscript")
    assert layers <= set(modules)  # every bar of the chart names a real module
    assert {"blocks.0.attn.qkv", "blocks.0.mlp.fc", "lm_head"} <= layers


@pytest.mark.slow
def test_layers_are_module_names_dynamo_export(tmp_path):
    # dynamo names nodes node_MatMul_83 and its MatMul weights val_92: only the scope
    # metadata it writes on each node says which module a node came from
    layers, modules = _gpt_layers(tmp_path, "dynamo")
    assert layers <= set(modules)
    assert {"blocks.0.attn.qkv", "blocks.0.mlp.fc", "lm_head"} <= layers
