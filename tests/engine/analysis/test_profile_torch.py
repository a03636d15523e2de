"""The PyTorch profile: per-layer time finds the slow layer, FLOPs and bytes add up, and the
compute/memory verdict flips between a matmul-heavy and an elementwise layer."""

from __future__ import annotations

import torch
from torch import nn

from engine.analysis.machine_peak import machine_peak
from engine.analysis.module_hooks import bytes_per_module
from engine.analysis.profile_torch import TOP_LEVEL, layer_rows, op_types


class Repeated(nn.Module):
    """A square matmul done `times` over: a real heavy operator, not a sleep."""

    def __init__(self, width: int, times: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(width, width) / width**0.5)
        self.times = times

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for _ in range(self.times):
            x = torch.tanh(x @ self.weight)
        return x


class Scale(nn.Module):
    """Elementwise work on the whole tensor: bytes, no FLOPs the counter sees as arithmetic."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x).clone()


def test_the_deliberately_slow_layer_is_the_top_bottleneck():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 64), Repeated(64, 200), nn.Linear(64, 64)).eval()
    out = layer_rows(model, (torch.randn(32, 64),), runs=3, ridge=10.0)
    top = out["layers"][0]
    assert top["name"] == "1" and top["type"] == "Repeated"
    assert top["share"] > 0.5  # 200 matmuls against two
    names = {r["name"] for r in out["layers"]}
    assert {"0", "1", "2"} <= names
    assert abs(sum(r["share"] for r in out["layers"]) - 1.0) < 1e-9
    assert out["whole_ms"] > 0


def test_layers_flops_add_up_to_the_model_and_a_container_keeps_its_own_ops():
    from engine.models.builtin import build_tiny_module

    model = build_tiny_module("tiny-gpt", {"d_model": 32, "n_layer": 2, "n_head": 2,
                                           "block_size": 32, "vocab_size": 64})  # fmt: skip
    out = layer_rows(model, (torch.randint(0, 64, (2, 16)),), runs=1, ridge=10.0)
    rows = {r["name"]: r for r in out["layers"]}
    assert sum(r["flops"] for r in out["layers"]) == out["flops"] > 0
    attn = rows["blocks.0.attn"]  # q @ k^T and softmax @ v happen in the module itself
    assert attn["type"] == "SelfAttention (own ops)" and attn["group"] == "attention"
    b, heads, t, hd = 2, 2, 16, 16
    assert attn["flops"] == 2 * (2 * b * heads * t * t * hd)  # two batched matmuls, 2BHT²hd each
    assert rows["blocks.0.mlp.fc"]["flops"] == 2 * 2 * 16 * 32 * 128
    assert TOP_LEVEL in rows
    assert "blocks" not in rows  # the ModuleList is never called: no row


def test_bytes_moved_by_a_linear_are_its_input_weights_bias_and_output():
    b, i, o = 8, 32, 48
    model = nn.Sequential(nn.Linear(i, o))
    moved = bytes_per_module(model, (torch.randn(b, i),))
    assert moved["0"] == 4 * (b * i + i * o + o + b * o)


def test_compute_bound_matmul_and_memory_bound_elementwise_against_the_measured_ridge():
    machine = machine_peak("cpu", threads=1)
    ridge = machine["ridge_flops_per_byte"]
    n = 1024  # a 1024 x 1024 Linear on 1024 rows: 2n^3 flops over ~3n^2 x 4 bytes = n/6 flop/byte
    model = nn.Sequential(nn.Linear(n, n), Scale()).eval()
    with torch.no_grad():
        out = layer_rows(model, (torch.randn(n, n),), runs=1, ridge=ridge)
    rows = {r["name"]: r for r in out["layers"]}
    matmul, elementwise = rows["0"], rows["1"]
    assert matmul["intensity"] > n / 6 * 0.99 > ridge  # arithmetic, not timing
    assert matmul["bound"] == "compute"
    assert elementwise["intensity"] == 0 and elementwise["bytes_moved"] >= 2 * n * n * 4
    assert elementwise["bound"] == "memory"


def test_op_types_are_torch_profiler_self_times_per_forward():
    model = nn.Sequential(nn.Linear(16, 16), nn.GELU(), nn.Linear(16, 4)).eval()
    ops = {o["op"]: o for o in op_types(model, (torch.randn(4, 16),), runs=2)}
    assert ops["aten::addmm"]["count"] == 2  # two Linears per forward, not per profile
    assert ops["aten::gelu"]["count"] == 1
    assert all(o["time_ms"] > 0 for o in ops.values())


def test_a_torchscript_model_is_one_top_level_row():
    model = torch.jit.script(nn.Sequential(nn.Linear(16, 16), nn.ReLU()).eval())
    out = layer_rows(model, (torch.randn(4, 16),), runs=1, ridge=10.0)
    assert [r["name"] for r in out["layers"]] == [TOP_LEVEL]
    assert "TorchScript" in out["layers"][0]["type"] and out["layers"][0]["time_ms"] > 0


def test_attention_scores_of_an_sdpa_model_are_counted_on_cpu():
    from transformers import GPT2Config, GPT2LMHeadModel

    from engine.analysis.profile_torch import exclusive_flops

    b, t, width, heads = 2, 16, 32, 2
    cfg = GPT2Config(n_layer=1, n_embd=width, n_head=heads, vocab_size=40, n_positions=32,
                     attn_implementation="sdpa")  # fmt: skip
    model = GPT2LMHeadModel(cfg).eval()
    _, own = exclusive_flops(model, (torch.randint(0, 40, (b, t)),))
    # q k^T and the weights times v: 2 x (2 B T T width) in the attention module itself
    assert own["transformer.h.0.attn"] == 2 * (2 * b * t * t * width)
