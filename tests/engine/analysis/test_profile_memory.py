"""Memory in the profile: parameters, the measured activation peak, and the KV-cache formula."""

from __future__ import annotations

import torch
from torch import nn

from engine.analysis.profile_memory import activation_peak_bytes, kv_cache, memory_record


def _hf_gpt2(layers: int, heads: int, width: int):
    from transformers import GPT2Config, GPT2LMHeadModel

    from engine.models.hf import wrap_hf

    torch.manual_seed(0)
    cfg = GPT2Config(n_layer=layers, n_embd=width, n_head=heads, vocab_size=50, n_positions=64,
                     bos_token_id=0, eos_token_id=0)  # fmt: skip
    return wrap_hf(GPT2LMHeadModel(cfg), "causal-lm", None, "hf", "gpt2", {})


def test_kv_cache_of_a_tiny_hf_gpt2_is_the_hand_formula():
    loaded = _hf_gpt2(layers=2, heads=4, width=64)
    kv = kv_cache(loaded.module, loaded.task, context=48, batch=3)
    # 2 (keys and values) x layers x batch x context x heads x head_dim x 4 bytes (fp32)
    assert kv["mb"] * 1e6 == 2 * 2 * 3 * 48 * 4 * 16 * 4
    assert (kv["layers"], kv["heads"], kv["head_dim"], kv["dtype_bytes"]) == (2, 4, 16, 4)


def test_kv_cache_of_tiny_gpt_reads_its_blocks_and_halves_in_bf16():
    from engine.models.builtin import build_tiny_module

    model = build_tiny_module("tiny-gpt", {"d_model": 32, "n_layer": 3, "n_head": 2,
                                           "block_size": 32, "vocab_size": 64})  # fmt: skip
    kv = kv_cache(model, "causal-lm", context=32, batch=2)
    assert kv["mb"] * 1e6 == 2 * 3 * 2 * 32 * 2 * 16 * 4
    assert kv_cache(model.to(torch.bfloat16), "causal-lm", 32, 2)["mb"] == kv["mb"] / 2


def test_no_kv_cache_for_a_model_that_does_not_generate():
    from engine.models.builtin import build_tiny_module

    assert kv_cache(build_tiny_module("tiny-bert"), "classification", 128, 1) is None


def test_activation_peak_holds_the_biggest_live_intermediate_and_params_are_counted_once():
    b, wide = 64, 4096
    model = nn.Sequential(nn.Linear(256, wide), nn.ReLU(), nn.Linear(wide, 8)).eval()
    peak, source = activation_peak_bytes(model, (torch.randn(b, 256),))
    assert source == "profiler"
    # the Linear's output and the ReLU's output are alive together: at least two of them
    assert peak >= 2 * b * wide * 4
    assert peak < 10 * b * wide * 4
    tied = nn.Sequential(nn.Embedding(10, 8), nn.Linear(8, 10, bias=False))
    tied[1].weight = tied[0].weight
    mem = memory_record(tied, (torch.tensor([[1, 2]]),), "generic", 0, 1)
    assert mem["params_mb"] * 1e6 == 10 * 8 * 4 and mem["kv_cache"] is None
