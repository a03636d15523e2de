"""'Is int8 really faster here?': reasons read from real quantized files and this CPU."""

from __future__ import annotations

from engine.export.artifact_report import measure_artifacts
from engine.export.graph_facts import fused_op_counts, int8_cpu_support, matmul_weight_shapes
from engine.export.speed_reasons import FASTER, fp16_speed_note, int4_speed_note, int8_speed_reasons
from engine.recipe import ExportConfig
from tests.engine.artifact_models import (
    copy_of,
    feeds,
    fp16,
    fused_int8,
    int4,
    int8_dynamic,
    int8_static_qdq,
    small_mlp,
    tiny,
)


def test_a_faster_int8_file_needs_no_reason():
    mlp = small_mlp()
    assert int8_speed_reasons(mlp, int8_dynamic(mlp), 10.0, 5.0) == []
    # the paired side-by-side speed-up, when given, decides (p50s alone said 2x)
    slower = int8_speed_reasons(mlp, int8_dynamic(mlp), 10.0, 5.0, speedup=0.9)
    assert slower[0] == "p50 5.00 ms vs 10.00 ms for fp32 (0.90x): int8 is not faster here"


def test_tiny_matmuls_are_named():
    mlp = small_mlp()
    assert matmul_weight_shapes(mlp) == [(16, 16)] * 8 + [(4, 16)]
    reasons = int8_speed_reasons(mlp, int8_dynamic(mlp), 1.0, 1.2)
    assert reasons[0].startswith("p50 1.20 ms vs 1.00 ms for fp32 (0.83x): int8 is not faster")
    small = [r for r in reasons if "too small to pay for quantizing" in r]
    assert len(small) == 1 and "median weight 16x16" in small[0]
    assert not any("transformer fusions" in r for r in reasons)  # no attention to fuse


def test_measured_tiny_model_explains_itself():
    """End to end: measured side by side at batch 1; a not-faster int8 file says why."""
    mlp = small_mlp()
    fp32, q = measure_artifacts(
        mlp, [("onnx-int8-dynamic", int8_dynamic(mlp))], "classification", None, ["input_ids"],
        feeds(1, 16), cfg=ExportConfig(latency_runs=30), threads=1,
    )  # fmt: skip
    if q["speedup_vs_fp32"] < FASTER:
        assert any("too small to pay for quantizing" in r for r in q["reasons"])
    else:  # faster after all on this machine at this moment: then no excuses are made
        assert q["reasons"] == []
    assert fp32["reasons"] == []


def test_static_qdq_transformer_without_fusions():
    _, _, bert = tiny("tiny-bert")
    qdq = int8_static_qdq("tiny-bert")
    reasons = int8_speed_reasons(bert, qdq, 1.0, 3.0)
    text = "\n".join(reasons)
    assert "no transformer fusions were applied" in text and "optimize: transformer" in text
    assert "QuantizeLinear/DequantizeLinear nodes are left after onnxruntime's optimizations" in text
    assert "quant_format: qoperator" in text
    assert "too small" not in text  # 128 x 384 weights are big enough
    # the optimizer's own report wins over reading the file
    assert "transformer fusions" not in "\n".join(
        int8_speed_reasons(bert, qdq, 1.0, 3.0, fused_counts={"Attention": 2}))
    assert "fused nothing" in "\n".join(int8_speed_reasons(bert, qdq, 1.0, 3.0, fused_counts={}))
    assert fused_op_counts(qdq) == {}


def test_fusions_without_attention_are_named():
    """The optimizer fused layer norms and GELU but not this model's attention: say so."""
    _, _, bert = tiny("tiny-bert")
    q, fused = fused_int8("tiny-bert")
    assert fused["SkipLayerNormalization"] > 0 and fused["Attention"] == 0
    for counts in (fused, None):  # the optimizer's report, or read from the file
        text = "\n".join(int8_speed_reasons(bert, q, 1.0, 1.0, fused_counts=counts))
        assert "attention was not fused (" in text and "SkipLayerNormalization x" in text
        assert "no transformer fusions" not in text
    attention_fused = int8_speed_reasons(bert, q, 1.0, 1.0, fused_counts={"Attention": 2})
    assert not any("fused" in r for r in attention_fused)


def test_an_unquantized_file_and_a_gpu_provider():
    _, _, bert = tiny("tiny-bert")
    same = copy_of(bert, "tiny-bert-not-quantized.onnx")
    reasons = int8_speed_reasons(bert, same, 1.0, 1.0, provider="CUDAExecutionProvider")
    text = "\n".join(reasons)
    assert "no MatMul/Gemm/Conv in the file was quantized" in text
    assert "CUDAExecutionProvider" in text and "use fp16" in text


def test_cpu_int8_instructions_and_reduce_range():
    supported, found = int8_cpu_support()
    mlp = small_mlp()
    reasons = "\n".join(int8_speed_reasons(mlp, int8_dynamic(mlp), 1.0, 1.0, settings={"reduce_range": True}))
    if supported:
        assert found and f"reduce_range is on but this CPU has {found[0]}" in reasons
        assert "lacks int8 dot-product" not in reasons
    elif supported is False:
        assert "lacks int8 dot-product instructions" in reasons and "reduce_range: true" in reasons
    else:
        assert "unknown" in reasons


def test_fp16_on_cpu_says_it_halves_size_but_is_usually_slower():
    _, _, bert = tiny("tiny-bert")
    half = fp16(bert)
    notes = fp16_speed_note(bert, half, 1.0, 1.5)
    assert notes[0].startswith("p50 1.50 ms vs 1.00 ms for fp32 (0.67x): fp16 is slower than fp32")
    assert "halves the file" in notes[1] and "GPUs" in notes[1] and "use int8" in notes[1]
    cast_count = int(notes[1].split(" Cast nodes")[0].rsplit("(", 1)[1])
    assert cast_count > 0
    assert fp16_speed_note(bert, half, 2.0, 1.0, provider="CUDAExecutionProvider") == []


def test_int4_note_names_the_accuracy_level():
    _, _, gpt = tiny("tiny-gpt")
    plain = int4_speed_note(gpt, int4("tiny-gpt", 0), 1.0, 1.0, shape=[8, 64])
    assert "int4 is not faster" in plain[0] and "at 8 x 64" in plain[1]
    assert "accuracy_level: 4" in plain[2]
    assert len(int4_speed_note(gpt, int4("tiny-gpt", 4), 1.0, 1.0)) == 2  # already int8 compute
    assert int4_speed_note(gpt, int4("tiny-gpt", 0), 2.0, 1.0) == []
    assert "no MatMulNBits node" in int4_speed_note(gpt, gpt, 1.0, 1.0)[1]


def test_fused_counts_read_from_an_int8_methods_summary():
    from engine.export.artifact_report import fused_counts_from

    assert fused_counts_from({"fusions_tried": False, "fused": {}}) is None  # read the file
    assert fused_counts_from({"fusions_tried": True, "fused": {}}) == {}  # ran, fused nothing
    assert fused_counts_from({"fusions_tried": True, "fused": {"Attention": 6}}) == {"Attention": 6}
    _, _, bert = tiny("tiny-bert")
    ran = int8_speed_reasons(bert, int8_static_qdq("tiny-bert"), 1.0, 1.0,
                             fused_counts=fused_counts_from({"fusions_tried": True, "fused": {}}))
    assert any(r.startswith("the transformer optimizer ran but fused nothing") for r in ran)
