"""A tiny random-weight Llama (grouped-query attention, SiLU gate, RMSNorm) as a causal LM:
its int8 and int4 files are measured in onnxruntime on the validation split with perplexity
next to fp32's, and the accuracy-aware exclusion keeps int8 within a perplexity bound."""

from __future__ import annotations

import math

import onnx
import pytest

from engine.export.artifact_eval import onnx_evaluator
from engine.export.runtime import check_model, onnx_size_bytes
from engine.methods.quantize.int4 import quantize_int4
from engine.methods.quantize.int4_config import Int4WeightOnlyConfig
from engine.methods.quantize.int8_config import DynamicInt8Config
from engine.methods.quantize.ort_int8 import quantize_int8_dynamic
from tests.engine.quantize.tiny_onnx import (
    TEXT_INPUTS,
    context,
    export_text,
    tiny_llama,
    token_data,
)

VOCAB = 256


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    """(fp32 file, data, evaluate, fp32 metrics) for the tiny Llama, exported once."""
    src = export_text(tiny_llama(VOCAB), tmp_path_factory.mktemp("llama") / "model.onnx", VOCAB)
    data = token_data(VOCAB)
    evaluate = onnx_evaluator("causal-lm", data, TEXT_INPUTS, batch_size=4)
    return src, data, evaluate, evaluate(src)


def test_int8_and_int4_perplexity_sits_next_to_fp32(llama, tmp_path):
    src, data, evaluate, fp32 = llama
    int8 = quantize_int8_dynamic(DynamicInt8Config(per_channel=True),
                                 context(src, tmp_path / "i8", data, evaluate=evaluate))  # fmt: skip
    int4 = quantize_int4(Int4WeightOnlyConfig(block_size=32), context(src, tmp_path / "i4", data))
    for result in (int8, int4):
        assert check_model(result.path) == (True, "")
        ppl = evaluate(result.path)["perplexity"]
        # random weights: perplexity near the vocabulary size, and quantization moves it a little
        assert math.isfinite(ppl) and ppl != fp32["perplexity"]
        assert abs(ppl / fp32["perplexity"] - 1) < 0.05, (result.kind, ppl, fp32)
    ops = [n.op_type for n in onnx.load(str(int8.path)).graph.node]
    assert "MatMulInteger" in ops or "DynamicQuantizeMatMul" in ops
    # int4 leaves the embedding table in fp32 by default while dynamic int8 quantizes Gather
    assert max(onnx_size_bytes(int4.path), onnx_size_bytes(int8.path)) < 0.5 * onnx_size_bytes(src)


def test_exclusion_brings_int8_perplexity_within_the_bound_or_says_why(llama, tmp_path):
    src, data, evaluate, fp32 = llama
    cfg = DynamicInt8Config(max_drop=0.0)  # not one bit worse than fp32: a tight bound
    result = quantize_int8_dynamic(cfg, context(src, tmp_path, data, evaluate=evaluate))
    search = result.summary["exclusion"]
    steps = search["steps"]
    assert steps[0]["excluded"] == [] and steps[0]["metrics"]["perplexity"] > 0
    final = evaluate(result.path)["perplexity"]
    if search["met"]:
        assert final <= fp32["perplexity"] * (1 + 1e-9)
        assert search["excluded"] == steps[-1]["excluded"]
        assert set(search["excluded"]) <= set(result.summary["excluded_nodes"])
    else:  # it says it could not, and by how much, instead of shipping a silent miss
        assert any("not met" in n or "could not" in n for n in result.notes), result.notes
