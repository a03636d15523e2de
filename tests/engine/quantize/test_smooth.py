"""smooth_alpha: activation smoothing keeps the fp32 function and cuts int8 error, and the
int8 steps apply it to the prepared graph with node names, exclusions and per-node error intact.

LayerNorm -> Linear -> GELU -> Linear, where the LayerNorm gives two channels a 40x gain and
the first Linear reads those channels with 40x smaller weights (the fp32 function is
ordinary): MiniLM's outlier channels in small. Int8 of the Linear's input then rounds the
other channels coarsely; smoothing moves the range into the weights.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch import nn

from engine.job import Job
from engine.methods.base import ArtifactContext
from engine.methods.quantize.int8_config import DynamicInt8Config
from engine.methods.quantize.ort_int8 import describe_dynamic, quantize_int8_dynamic
from engine.methods.quantize.smooth import smooth_activations
from engine.recipe import Recipe
from engine.store import Workspace

WIDTH, OUTLIERS = 64, [3, 17]


@pytest.fixture(scope="module")
def net(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    model = nn.Sequential(nn.LayerNorm(WIDTH), nn.Linear(WIDTH, 128), nn.GELU(),
                          nn.Linear(128, WIDTH)).eval()  # fmt: skip
    with torch.no_grad():
        model[0].weight[OUTLIERS] = 40.0
        model[1].weight[:, OUTLIERS] /= 40.0
    path = tmp_path_factory.mktemp("smooth") / "net.onnx"
    torch.onnx.export(model, (torch.randn(4, 12, WIDTH),), str(path), dynamo=False,
                      input_names=["x"], output_names=["y"], opset_version=17,
                      dynamic_axes={"x": {0: "batch", 1: "seq"}})  # fmt: skip
    return path


def _feeds(seed: int) -> dict[str, np.ndarray]:
    return {"x": np.random.default_rng(seed).standard_normal((4, 12, WIDTH)).astype(np.float32)}


def _run(path: Path, feeds: dict[str, np.ndarray]) -> np.ndarray:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feeds)[0]


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.reshape(-1, WIDTH), b.reshape(-1, WIDTH)
    return float(np.mean((a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))))


def _context(net: Path, out: Path) -> ArtifactContext:
    # no data: the scales come from the example batch (a float input, which the token
    # sampler could not make up)
    return ArtifactContext(onnx_path=net, out_dir=out, task="generic", input_names=["x"],
                           example_feeds=_feeds(1))  # fmt: skip


def test_smoothing_keeps_fp32_outputs(net, tmp_path):
    smoothed = tmp_path / "smoothed.onnx"
    # the LayerNorm output (first Linear) and the GELU output (second Linear)
    assert len(smooth_activations(net, smoothed, [_feeds(s) for s in range(4)], alpha=0.7)) == 2
    nodes = onnx.load(str(smoothed)).graph.node
    assert sum(n.op_type == "Mul" and n.name.endswith("_smooth") for n in nodes) == 2
    # node names are kept: exclusions and per-node error still find their nodes
    assert {n.name for n in onnx.load(str(net)).graph.node} <= {n.name for n in nodes}
    test = _feeds(99)
    np.testing.assert_allclose(_run(smoothed, test), _run(net, test), rtol=1e-4, atol=1e-4)


def test_int8_dynamic_with_smooth_alpha_is_closer_to_fp32(net, tmp_path):
    test = _feeds(99)
    ref = _run(net, test)
    cfg = DynamicInt8Config(per_channel=True, optimize="none")
    plain = quantize_int8_dynamic(cfg, _context(net, tmp_path / "plain"))
    cfg = DynamicInt8Config(per_channel=True, optimize="none", smooth_alpha=0.7)
    smooth = quantize_int8_dynamic(cfg, _context(net, tmp_path / "smooth"))
    plain_cos, smooth_cos = _cosine(_run(plain.path, test), ref), _cosine(_run(smooth.path, test), ref)
    assert smooth_cos > plain_cos and 1 - smooth_cos < 0.5 * (1 - plain_cos), (plain_cos, smooth_cos)
    record = smooth.summary["smoothing"]
    assert record["alpha"] == 0.7 and record["tensors"] == 2
    assert record["split"] == "example inputs" and "smoothing" not in plain.summary
    assert any("example batch" in n for n in smooth.notes)
    ops = {n.name: n.op_type for n in onnx.load(str(smooth.path)).graph.node}
    assert "/1/MatMul_quant" in ops and "/3/MatMul_quant" in ops  # both projections int8
    # per-node error names the same fp32 nodes with and without smoothing
    assert {e["node"] for e in smooth.summary["node_errors"]} == {
        e["node"] for e in plain.summary["node_errors"]} >= {"/1/MatMul", "/3/MatMul"}
    assert "smoothed α=0.7" in describe_dynamic(cfg)


def test_exclusion_still_works_on_a_smoothed_graph(net, tmp_path):
    cfg = DynamicInt8Config(optimize="none", smooth_alpha=0.5, exclude_nodes=("/3/MatMul",))
    res = quantize_int8_dynamic(cfg, _context(net, tmp_path))
    ops = {n.name: n.op_type for n in onnx.load(str(res.path)).graph.node}
    assert ops["/3/MatMul"] == "MatMul" and "/1/MatMul_quant" in ops
    assert res.summary["excluded_nodes"] == ["/3/MatMul"]  # the smoothing nodes stay unlisted
    assert all(op == "Mul" for name, op in ops.items() if name.endswith("_smooth"))


RECIPE = """
name: smooth-int8
model: {source: builtin, path: tiny-gpt}
data: {source: builtin, path: shakespeare, max_length: 32, max_samples: 120}
methods:
  - {type: int8_static, calibration_samples: 16, smooth_alpha: 0.7, per_channel: true,
     optimize: none}
train: {epochs: 0, batch_size: 8}
export: {parity_batches: 1, latency_runs: 3, latency_seq: 32}
"""


@pytest.mark.slow  # a whole static int8 job (37 s on CI's 2 cores); the unit tests above cover
# the smoothing itself in the default run
def test_recipe_with_smooth_alpha_runs_end_to_end(tmp_path):
    result = Job(Recipe.from_yaml(RECIPE), workspace=tmp_path).run()
    assert result.ok, result.error
    card = Workspace(tmp_path).get(result.run_id).card
    int8 = card["artifacts"][1]
    assert int8["kind"] == "onnx-int8-static" and int8["checker_ok"]
    assert "smoothed α=0.7" in int8["method"]
    record = int8["summary"]["smoothing"]
    # tiny-gpt: ln_1 -> attention projection and ln_2 -> MLP in each block
    assert record["tensors"] >= 2 and record["split"] == "train" and record["samples"] == 16
    assert int8["cosine"] > 0.9 and "perplexity" in int8["metrics"]
    graph = onnx.load(int8["path"]).graph
    made_by = {o: n.op_type for n in graph.node for o in n.output}
    muls = [n for n in graph.node if n.name.endswith("_smooth")]
    # the division stays float: its input is the LayerNorm's unquantized output (a QDQ pair
    # there would round with the outlier range smoothing removes)
    assert len(muls) == record["tensors"]
    assert all(n.op_type == "Mul" and made_by[n.input[0]] != "DequantizeLinear" for n in muls)
