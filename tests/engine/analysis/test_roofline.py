"""The roofline verdicts: layer groups by name/type, the bound against the ridge, the sentence."""

from __future__ import annotations

import pytest

from engine.analysis.roofline import bound, group_verdict, layer_group, layer_row, summarize_groups


@pytest.mark.parametrize(
    ("name", "type_name", "group"),
    [
        ("model.bert.encoder.layer.0.attention.self.query", "Linear", "attention"),
        ("model.bert.encoder.layer.0.attention.output.dense", "Linear", "attention"),
        ("model.bert.encoder.layer.0.intermediate.dense", "Linear", "mlp"),
        ("model.bert.encoder.layer.0.output.dense", "Linear", "mlp"),
        ("model.bert.encoder.layer.0.output.LayerNorm", "LayerNorm", "norm"),
        ("model.bert.embeddings.LayerNorm", "LayerNorm", "norm"),
        ("model.bert.embeddings.word_embeddings", "Embedding", "embedding"),
        ("model.classifier", "Linear", "head"),
        ("model.bert.pooler.dense", "Linear", "head"),
        ("model.transformer.h.1.attn.c_attn", "Conv1D", "attention"),
        ("model.transformer.h.1.mlp.c_fc", "Conv1D", "mlp"),
        ("model.transformer.wte", "Embedding", "embedding"),
        ("model.lm_head", "Linear", "head"),
        ("model.model.layers.0.self_attn.k_proj", "Linear", "attention"),
        ("model.model.layers.0.mlp.gate_proj", "Linear", "mlp"),
        ("model.model.layers.0.input_layernorm", "LlamaRMSNorm", "norm"),
        ("blocks.0.attn", "SelfAttention (own ops)", "attention"),
        ("blocks.0.mlp.act", "GELU", "mlp"),
        ("blocks.0.ln1", "LayerNorm", "norm"),
        ("blocks.0", "Block (own ops)", "other"),
        ("(top level)", "TinyGPT (own ops)", "other"),
    ],
)
def test_layer_groups_across_layouts(name, type_name, group):
    assert layer_group(name, type_name) == group


def test_bound_flips_at_the_ridge_and_is_unknown_without_numbers():
    assert bound(flops=100, bytes_moved=10, ridge=10) == "compute"  # exactly at the ridge
    assert bound(flops=99, bytes_moved=10, ridge=10) == "memory"
    assert bound(flops=0, bytes_moved=10, ridge=10) == "memory"  # a copy: no arithmetic at all
    assert bound(flops=100, bytes_moved=0, ridge=10) == "unknown"
    assert bound(flops=100, bytes_moved=10, ridge=None) == "unknown"


def test_group_verdict_is_one_plain_sentence():
    text = group_verdict("mlp", 0.61, 3.1, "memory", 25.0)
    assert text == ("MLP: 61% of the time, memory-bound at 3.1 flop/byte (ridge 25): "
                    "fewer bytes help — int8 weights or pruning the FFN")
    assert "fewer FLOPs help" in group_verdict("attention", 0.2, 80.0, "compute", 25.0)
    assert "bound not known" in group_verdict("other", 0.1, None, "unknown", 25.0)
    assert group_verdict("norm", 0.05, 0.0, "memory", 25.0).startswith(
        "Norm: 5% of the time, memory-bound (moves data, no matmul FLOPs; ridge 25): ")


def test_groups_sum_their_layers_and_sort_by_time():
    ridge = 10.0
    rows = [layer_row("b.0.mlp.fc", "Linear", 1000, 10, 3.0, 8.0, ridge),     # 100 flop/B
            layer_row("b.0.mlp.proj", "Linear", 1000, 990, 3.0, 8.0, ridge),  # 1 flop/B
            layer_row("b.0.attn", "SelfAttention (own ops)", 50, 100, 2.0, 8.0, ridge)]
    assert rows[0]["bound"] == "compute" and rows[1]["bound"] == "memory"
    assert rows[0]["gflops"] == pytest.approx(1000 / 3e6)
    groups = summarize_groups(rows, ridge)
    assert [g["group"] for g in groups] == ["mlp", "attention"]
    mlp = groups[0]
    # the group is judged on its summed FLOPs and bytes: 2000 / 1000 = 2 flop/byte, memory-bound
    assert (mlp["time_ms"], mlp["flops"], mlp["intensity"], mlp["bound"]) == (6.0, 2000, 2.0, "memory")
    assert mlp["verdict"].startswith("MLP: 75% of the time, memory-bound at 2 flop/byte (ridge 10)")
    assert sum(g["share"] for g in groups) == pytest.approx(1.0)
